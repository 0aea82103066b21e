// The worker's pacing, drain and stop, driven turn by turn with a FakeClock against a
// real loopback server: time only moves when the test says so, so every figure below
// is exact and nothing sleeps. Real time passes only while a poll waits for the
// loopback socket, and it is never what a figure is measured in.

#include "engine/worker.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "engine/clock.hpp"
#include "engine/compiled_plan.hpp"
#include "support/loopback_server.hpp"

namespace lp::engine {
namespace {

using namespace std::chrono_literals;
using metrics::ErrorKind;

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// A server that answers only once open() is called (every request waits until then).
class HeldServer {
 public:
  HeldServer()
      : server_([this](const std::string&) {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [this] { return open_; });
          return std::string(kOk);
        }) {}
  ~HeldServer() { open(); }  // before the server joins its threads

  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::string url() const { return server_.url(); }
  int requests() const { return server_.requests(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  testing::LoopbackServer server_;
};

core::Plan plan_for(const std::string& url, double rps, double duration_secs, std::uint32_t timeout_ms = 30'000) {
  core::Plan plan;
  plan.rps = rps;
  plan.duration_secs = duration_secs;
  plan.mode = core::Mode::Constant;
  plan.target_url = url;
  core::Task task;
  task.name = "t";
  task.url = "/x";
  plan.tasks.push_back(task);
  plan.settings.threads = 1;
  plan.settings.max_connections = 1;
  plan.settings.timeout_ms = timeout_ms;
  return plan;
}

WorkerConfig one_connection() {
  WorkerConfig config;
  config.max_connections = 1;
  return config;
}

/// Handles socket events until `done()`, for at most 500 polls of 10 ms.
template <typename Done>
bool pump(Worker& worker, Done done) {
  for (int i = 0; i < 500 && !done(); ++i) worker.poll(10ms);
  return done();
}

const metrics::TaskStats& task_stats(Worker& worker) { return worker.stats().tasks[0]; }

std::uint64_t errors_of(Worker& worker, ErrorKind kind) {
  return task_stats(worker).errors_by_kind[static_cast<std::size_t>(kind)];
}

TEST(Worker, DropsDueIterationsThatWaitedMoreThanASecondForAConnection) {
  HeldServer server;  // the one connection stays busy
  auto plan = compile_plan(plan_for(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  worker.begin(clock.now());
  worker.turn(clock.now());  // iteration 0 takes the connection

  clock.advance(1500ms);
  worker.turn(clock.now());

  EXPECT_EQ(worker.stats().iterations, 1u);
  EXPECT_EQ(worker.stats().dropped, 49u);  // due at 10 .. 490 ms; 500 .. 1500 ms still wait
  EXPECT_EQ(worker.phase(), Worker::Phase::Sending);
}

TEST(Worker, IterationsSentLateAreCountedAndTimedFromTheirDueTimes) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  worker.begin(clock.now());
  worker.turn(clock.now());
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0; }));

  clock.advance(50ms);  // iterations 1..5 (due at 10..50 ms) are due at once
  worker.turn(clock.now());
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0 && worker.stats().iterations == 6; }));

  EXPECT_EQ(worker.stats().late, 4u);  // 40, 30, 20 and 10 ms late; the one due at 50 ms is not
  EXPECT_EQ(task_stats(worker).latency.count(), 6u);
  EXPECT_EQ(task_stats(worker).latency.max_us(), 40'000u);
  EXPECT_EQ(task_stats(worker).latency.sum_us(), 100'000u);  // 0 + 40 + 30 + 20 + 10 + 0 ms
}

TEST(Worker, RecordsEachIterationsSendLagFromItsDueTime) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 100, 10));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  worker.begin(clock.now());
  worker.turn(clock.now());
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0; }));

  clock.advance(35ms);  // iterations 1..3 (due at 10, 20, 30 ms) go out 25, 15 and 5 ms late
  worker.turn(clock.now());
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0 && worker.stats().iterations == 4; }));

  const metrics::Histogram& lag = worker.stats().send_lag;
  EXPECT_EQ(lag.count(), 4u);
  EXPECT_EQ(lag.min_us(), 0u);
  EXPECT_EQ(lag.max_us(), 25'000u);
  EXPECT_EQ(lag.sum_us(), 45'000u);  // 0 + 25 + 15 + 5 ms
}

TEST(Worker, ARequestInFlightAtTheEndKeepsItsOwnTimeoutAndSucceeds) {
  HeldServer server;
  auto plan = compile_plan(plan_for(server.url(), 1, 1));  // one iteration, at t = 0
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  worker.turn(clock.now());

  clock.advance(1s);  // the profile is over
  EXPECT_EQ(worker.turn(clock.now()), Worker::Phase::Draining);
  clock.advance(2500ms);  // past what a fixed 2 s drain would have allowed
  EXPECT_EQ(worker.turn(clock.now()), Worker::Phase::Draining);
  server.open();
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0; }));

  EXPECT_EQ(worker.turn(clock.now()), Worker::Phase::Done);
  EXPECT_EQ(task_stats(worker).requests, 1u);
  EXPECT_EQ(task_stats(worker).errors, 0u);
  EXPECT_EQ(task_stats(worker).latency.max_us(), 3'500'000u);
  EXPECT_EQ(task_stats(worker).success.count(), 1u);
}

TEST(Worker, ARequestPastItsTimeoutInTheDrainIsATimeoutWithItsWaitAsLatency) {
  HeldServer server;
  auto plan = compile_plan(plan_for(server.url(), 1, 1, /*timeout_ms=*/2'000));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  worker.begin(clock.now());
  worker.turn(clock.now());
  clock.advance(1s);
  ASSERT_EQ(worker.turn(clock.now()), Worker::Phase::Draining);

  clock.advance(1s);  // 2 s after it was sent
  const Worker::Phase phase = worker.turn(clock.now());

  EXPECT_EQ(phase, Worker::Phase::Done);
  EXPECT_EQ(errors_of(worker, ErrorKind::Timeout), 1u);
  EXPECT_EQ(task_stats(worker).latency.count(), 1u);
  EXPECT_EQ(task_stats(worker).latency.max_us(), 2'000'000u);
}

TEST(Worker, AStopGivesInFlightRequestsTheGraceThenCountsThemInterrupted) {
  HeldServer server;
  auto plan = compile_plan(plan_for(server.url(), 10, 10));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  worker.begin(clock.now());
  worker.turn(clock.now());
  clock.advance(500ms);  // iterations due at 100 .. 500 ms wait for the busy connection

  worker.request_stop();
  EXPECT_EQ(worker.turn(clock.now()), Worker::Phase::Interrupting);
  clock.advance(1900ms);
  EXPECT_EQ(worker.turn(clock.now()), Worker::Phase::Interrupting);
  clock.advance(100ms);  // the 2 s grace is over
  EXPECT_EQ(worker.turn(clock.now()), Worker::Phase::Done);

  EXPECT_EQ(errors_of(worker, ErrorKind::Interrupted), 1u);
  EXPECT_EQ(errors_of(worker, ErrorKind::Timeout), 0u);
  EXPECT_EQ(task_stats(worker).latency.count(), 0u);  // cut off: no wait to report
  // Late at the stop (due 100 .. 400 ms), never sent; the one due at 500 ms, just as the
  // stop came, was on time: the stop kept it, not the generator.
  EXPECT_EQ(worker.stats().dropped, 4u);
  EXPECT_EQ(worker.stats().iterations, 1u);
}

TEST(Worker, ASecondStopCutsInFlightRequestsOffAtOnce) {
  HeldServer server;
  auto plan = compile_plan(plan_for(server.url(), 10, 10));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  worker.begin(clock.now());
  worker.turn(clock.now());
  worker.request_stop();
  ASSERT_EQ(worker.turn(clock.now()), Worker::Phase::Interrupting);

  worker.request_stop(/*now=*/true);
  const Worker::Phase phase = worker.turn(clock.now());

  EXPECT_EQ(phase, Worker::Phase::Done);
  EXPECT_EQ(errors_of(worker, ErrorKind::Interrupted), 1u);
}

TEST(Worker, WaitsUntilTheNextDueTimeWhenIdle) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 10, 10));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  worker.turn(clock.now());
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0; }));

  EXPECT_EQ(worker.wake_at(clock.now()), start + 100ms);
}

TEST(Worker, ATurnAlsoSendsWhatIsDueWithinTheSendAheadBound) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 20'000, 10));  // one due every 50 µs
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  WorkerConfig config;
  config.max_connections = 4;
  Worker worker(**plan, config, TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);

  worker.turn(start);  // due at 0 µs; 50 and 100 µs are within kSendAhead

  EXPECT_EQ(worker.stats().iterations, 3u);
  EXPECT_EQ(worker.stats().send_lag.count(), 1u);  // the one due now, on time
  EXPECT_EQ(worker.stats().send_lag.max_us(), 0u);
  EXPECT_EQ(worker.stats().send_early.count(), 2u);
  EXPECT_EQ(worker.stats().send_early.min_us(), 50u);
  EXPECT_EQ(worker.stats().send_early.max_us(), 100u);  // never more than the bound early
  EXPECT_EQ(worker.wake_at(start), start + 150us);      // the next one, at its due time
  EXPECT_LE(Worker::kSendAhead, 100us);
}

TEST(Worker, ARequestSentAheadIsTimedFromItsSendNotItsLaterDueTime) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 10'000, 10));  // one due every 100 µs
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  WorkerConfig config;
  config.max_connections = 2;
  Worker worker(**plan, config, TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  worker.turn(start);  // sends the one due at 0 and, 100 µs early, the one due at 100 µs
  ASSERT_EQ(worker.stats().iterations, 2u);

  clock.set(start + 30us);  // both responses are read (and timed) at 30 µs
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0; }));

  // Both waited 30 µs; timed from its due time the early one would show 0 (-70 µs).
  EXPECT_EQ(task_stats(worker).latency.count(), 2u);
  EXPECT_EQ(task_stats(worker).latency.min_us(), 30u);
  EXPECT_EQ(task_stats(worker).latency.max_us(), 30u);
  EXPECT_EQ(worker.wake_at(clock.now()), start + 200us);  // then one wake-up per pair
}

TEST(Worker, SendsNothingMoreThanTheBoundAhead) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 5'000, 10));  // one due every 200 µs
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  Worker worker(**plan, one_connection(), TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  worker.turn(start);
  ASSERT_TRUE(pump(worker, [&] { return worker.in_flight() == 0; }));

  clock.set(start + 99us);
  worker.turn(clock.now());  // the next is due at 200 µs: 101 µs ahead, not sent yet

  EXPECT_EQ(worker.stats().iterations, 1u);
  EXPECT_EQ(worker.wake_at(clock.now()), start + 200us);
}

TEST(Worker, SendsNothingAheadThatIsDueAtOrAfterTheLease) {
  testing::LoopbackServer server([](const std::string&) { return std::string(kOk); });
  auto plan = compile_plan(plan_for(server.url(), 10'000, 10));  // one due every 100 µs
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  FakeClock clock;
  WorkerConfig config;
  config.max_connections = 4;
  config.lease_secs = 0.000'150;  // an agent's lease: what is due from 150 µs on is not ours yet
  Worker worker(**plan, config, TimeSource(clock));
  const auto start = clock.now();
  worker.begin(start);
  worker.turn(start);  // 0 and, ahead, 100 µs
  ASSERT_EQ(worker.stats().iterations, 2u);

  clock.set(start + 120us);  // 200 µs is within kSendAhead, but beyond the lease
  worker.turn(clock.now());

  EXPECT_EQ(worker.stats().iterations, 2u);
  worker.set_lease(1.0);  // renewed: it goes at the next turn, still ahead of its due time
  worker.turn(clock.now());
  EXPECT_EQ(worker.stats().iterations, 3u);
  EXPECT_EQ(worker.stats().send_early.max_us(), 100u);
}

}  // namespace
}  // namespace lp::engine
