// Slots, handovers and the lease, driven turn by turn with a FakeClock against a real
// loopback server (as worker_test.cpp). Each iteration carries its own global index in
// its URL (one virtual-user config per index, rotated by k / slot_count), so the server
// can tell exactly which iterations were fired, and how often.

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "engine/clock.hpp"
#include "engine/compiled_plan.hpp"
#include "engine/rate_schedule.hpp"
#include "engine/worker.hpp"
#include "support/loopback_server.hpp"

namespace lp::engine {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Counts requests per path ("/i/<k>" → k).
class IndexServer {
 public:
  IndexServer()
      : server_([this](const std::string& head) {
          const auto start = head.find(' ') + 1;
          const std::string path = head.substr(start, head.find(' ', start) - start);
          std::lock_guard lock(mu_);
          if (path.rfind("/i/", 0) == 0) ++seen_[std::stoull(path.substr(3))];
          return std::string(kOk);
        }) {}

  std::string url() const { return server_.url(); }
  std::map<std::uint64_t, int> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int requests() const { return server_.requests(); }

 private:
  std::mutex mu_;
  std::map<std::uint64_t, int> seen_;
  testing::LoopbackServer server_;
};

/// `rps` for `secs`, constant, one slot (S = 1): virtual user u requests /i/u and there
/// are as many users as iterations, so iteration k (which rotates to user k / S = k)
/// tells the server its own index.
core::Plan indexed_plan(const std::string& url, double rps, double secs, std::uint32_t max_connections = 8) {
  core::Plan plan;
  plan.rps = rps;
  plan.duration_secs = secs;
  plan.mode = core::Mode::Constant;
  plan.target_url = url;
  core::Task task;
  task.name = "t";
  task.url = "/unused";
  plan.tasks.push_back(task);
  plan.settings.threads = 1;
  plan.settings.max_connections = max_connections;
  plan.vuser_configs.resize(static_cast<std::size_t>(rps * secs));
  for (std::size_t u = 0; u < plan.vuser_configs.size(); ++u) plan.vuser_configs[u].task_urls["t"] = "/i/" + std::to_string(u);
  return plan;
}

WorkerConfig lanes(std::uint32_t thread, std::uint32_t threads, std::vector<SlotStart> slots,
                   std::uint32_t max_connections = 8) {
  WorkerConfig c;
  c.slot_count = 1;
  c.thread_index = thread;
  c.thread_count = threads;
  c.slots = std::move(slots);
  c.max_connections = max_connections;
  return c;
}

/// Moves the clock to `now`, turns every worker, then handles the sockets of those in
/// `polled` (all when empty) until nothing is in flight there (responses timed at `now`).
void step(FakeClock& clock, std::vector<Worker*> workers, Clock::time_point now, std::vector<Worker*> polled = {}) {
  clock.set(now);
  for (Worker* w : workers) w->turn(now);
  if (polled.empty()) polled = workers;
  for (int i = 0; i < 500; ++i) {
    bool busy = false;
    for (Worker* w : polled) {
      if (w->in_flight() > 0) {
        busy = true;
        w->poll(2ms);
      }
    }
    if (!busy) return;
  }
}

std::uint64_t sum_of(std::vector<Worker*> workers, std::uint64_t metrics::RunStats::*field) {
  std::uint64_t n = 0;
  for (Worker* w : workers) n += w->stats().*field;
  return n;
}

TEST(Slots, TwoOwnersHandingASlotOverByIndexFireEveryIterationExactlyOnce) {
  // Two agents, one slot: agent A (2 threads) holds it, then hands it to agent B
  // (3 threads) mid-run at the index A's threads agree on. A's first thread has one
  // connection and is behind (its responses are not read for a while), so A's two
  // lanes stand at very different indices when the slot changes hands.
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 2));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker a0(**plan, lanes(0, 2, {{0, 0}}, /*max_connections=*/1), TimeSource(clock));
  Worker a1(**plan, lanes(1, 2, {{0, 0}}), TimeSource(clock));
  Worker b0(**plan, lanes(0, 3, {}), TimeSource(clock));
  Worker b1(**plan, lanes(1, 3, {}), TimeSource(clock));
  Worker b2(**plan, lanes(2, 3, {}), TimeSource(clock));
  std::vector<Worker*> all = {&a0, &a1, &b0, &b1, &b2};
  const auto start = clock.now();
  for (Worker* w : all) w->begin(start);
  auto at = [&](int ms) { return start + std::chrono::milliseconds(ms); };
  for (int ms = 0; ms < 400; ms += 5) step(clock, all, at(ms));
  for (int ms = 400; ms < 735; ms += 5) step(clock, all, at(ms), {&a1, &b0, &b1, &b2});  // a0 falls behind

  // Release: each of A's threads stops taking the slot and says where it is; the slot
  // changes hands at the first index neither has reached.
  const auto t0 = a0.request_freeze(0), t1 = a1.request_freeze(0);
  step(clock, all, at(735));
  ASSERT_TRUE(a0.freeze_answer(t0).answered && a1.freeze_answer(t1).answered);
  const std::uint64_t behind = *a0.freeze_answer(t0).next_index, ahead = *a1.freeze_answer(t1).next_index;
  ASSERT_LT(behind + 20, ahead);  // the case that needs care: a0 still owes its backlog
  const std::uint64_t handover = std::max(behind, ahead);
  a0.cap(0, handover);
  a1.cap(0, handover);
  for (Worker* b : {&b0, &b1, &b2}) b->adopt(0, handover);
  for (int ms = 740; ms <= 2100; ms += 5) step(clock, all, at(ms));

  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 200u);
  for (const auto& [index, times] : seen) EXPECT_EQ(times, 1) << "iteration " << index;
  EXPECT_EQ(seen.begin()->first, 0u);
  EXPECT_EQ(seen.rbegin()->first, 199u);
  EXPECT_EQ(sum_of({&a0, &a1}, &metrics::RunStats::iterations), handover);
  EXPECT_EQ(sum_of(all, &metrics::RunStats::dropped), 0u);
  EXPECT_GT(a0.stats().late, 0u);  // a0 fired its backlog below the handover after it
}

TEST(Slots, AnExpiredLeaseSendsNothingAndCountsWhatItCoveredAsDropped) {
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok());
  FakeClock clock;
  WorkerConfig config = lanes(0, 1, {{0, 0}});
  config.lease_secs = 0.505;  // covers the iterations due at 0 .. 500 ms
  Worker worker(**plan, config, TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  for (int ms = 0; ms <= 400; ms += 10) step(clock, {&worker}, start + std::chrono::milliseconds(ms));
  ASSERT_EQ(server.requests(), 41);

  // The process was stopped from 400 ms to 3 s: when it wakes, its lease is long over.
  step(clock, {&worker}, start + 3s);
  step(clock, {&worker}, start + 5s);

  EXPECT_EQ(server.requests(), 41);
  EXPECT_EQ(worker.stats().iterations, 41u);
  EXPECT_EQ(worker.stats().dropped, 10u);  // due at 410 .. 500 ms; the rest is not this worker's
  EXPECT_TRUE(worker.lease_expired());
  worker.request_publish(1);
  worker.turn(start + 5s);
  const auto lanes = worker.published_lanes();
  ASSERT_EQ(lanes.size(), 1u);
  EXPECT_TRUE(lanes[0].closed);
  EXPECT_EQ(lanes[0].next_index, 51u);  // where whoever adopts the slot starts
  EXPECT_EQ(lanes[0].next_index, first_index_due_at_or_after((*plan)->profile, 0.505, 0, 1));
  EXPECT_EQ(worker.phase(), Worker::Phase::Sending);  // paused, not over: it may adopt a slot again
}

TEST(Slots, ARenewedLeaseKeepsFiringAndAStaleOneChangesNothing) {
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok());
  FakeClock clock;
  WorkerConfig config = lanes(0, 1, {{0, 0}});
  config.lease_secs = 1.0;
  Worker worker(**plan, config, TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);

  for (int ms = 0; ms < 1000; ms += 10) {
    if (ms == 500) worker.set_lease(2.0);   // renewed in time
    if (ms == 600) worker.set_lease(1.5);   // a stale renewal, delivered late
    step(clock, {&worker}, start + std::chrono::milliseconds(ms));
  }
  for (int ms = 1000; ms <= 2500; ms += 10) step(clock, {&worker}, start + std::chrono::milliseconds(ms));

  EXPECT_EQ(server.requests(), 200);  // 0 .. 1990 ms: up to the renewed lease, not the stale one
  EXPECT_EQ(worker.stats().dropped, 0u);
  EXPECT_TRUE(worker.lease_expired());
}

TEST(Slots, ALeaseArrivingAfterTheExpiryDoesNotReopenTheSlot) {
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok());
  FakeClock clock;
  WorkerConfig config = lanes(0, 1, {{0, 0}});
  config.lease_secs = 0.5;
  Worker worker(**plan, config, TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  for (int ms = 0; ms <= 600; ms += 10) step(clock, {&worker}, start + std::chrono::milliseconds(ms));
  ASSERT_TRUE(worker.lease_expired());

  worker.set_lease(9.0);  // the coordinator may have handed the slot over meanwhile
  for (int ms = 610; ms <= 1500; ms += 10) step(clock, {&worker}, start + std::chrono::milliseconds(ms));
  EXPECT_EQ(server.requests(), 50);

  worker.adopt(0, 200);  // only an explicit adoption gives it a slot again
  for (int ms = 1510; ms <= 3000; ms += 10) step(clock, {&worker}, start + std::chrono::milliseconds(ms));

  const auto seen = server.seen();
  EXPECT_EQ(seen.size(), 50u + 101u);  // 0 .. 49, then 200 .. 300
  EXPECT_EQ(seen.count(150), 0u);
  EXPECT_EQ(seen.count(200), 1u);
}

TEST(Slots, ASlotAdoptedLateFiresWhatIsStillWithinTheLagBound) {
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 10, /*max_connections=*/1));
  ASSERT_TRUE(plan.ok());
  FakeClock clock;
  Worker worker(**plan, lanes(0, 1, {}, /*max_connections=*/1), TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  step(clock, {&worker}, start + 1s);
  EXPECT_EQ(server.requests(), 0);  // holds no slot yet

  // At 3 s it adopts the slot from index 100 (due at 1 s): its previous owner stopped there.
  worker.adopt(0, 100);
  step(clock, {&worker}, start + 3s);

  EXPECT_EQ(worker.stats().dropped, 100u);     // 100 .. 199: waited more than 1 s, dropped at once
  EXPECT_EQ(worker.stats().iterations, 101u);  // 200 .. 300: due within the last second, sent
  EXPECT_EQ(worker.stats().late, 100u);        // all but the one due right now
  const auto seen = server.seen();
  EXPECT_EQ(seen.begin()->first, 200u);
  EXPECT_EQ(seen.rbegin()->first, 300u);
}

TEST(Slots, AFreezeOfASlotNotHeldIsAnsweredWithNoIndex) {
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok());
  FakeClock clock;
  Worker worker(**plan, lanes(0, 1, {{0, 0}}), TimeSource(clock));
  worker.begin(clock.now());

  const auto ticket = worker.request_freeze(3);
  EXPECT_FALSE(worker.freeze_answer(ticket).answered);
  worker.turn(clock.now());

  EXPECT_TRUE(worker.freeze_answer(ticket).answered);
  EXPECT_FALSE(worker.freeze_answer(ticket).next_index.has_value());
}

}  // namespace
}  // namespace lp::engine

namespace lp::engine {
namespace {

TEST(Slots, AStartAlreadyPastIsCaughtUpWithinTheLagBoundNotWithABurst) {
  IndexServer server;
  auto plan = compile_plan(indexed_plan(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok());
  FakeClock clock;
  Worker worker(**plan, lanes(0, 1, {{0, 0}}), TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);

  step(clock, {&worker}, start + 5s);  // the first turn comes 5 s after the start

  EXPECT_EQ(worker.stats().dropped, 400u);     // due before 4 s
  EXPECT_EQ(worker.stats().iterations, 101u);  // 4.00 .. 5.00 s
}

}  // namespace
}  // namespace lp::engine
