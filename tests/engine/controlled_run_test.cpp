// ControlledRun on its own threads and the real clock: the same handover as
// slots_test.cpp, through the thread-safe API an agent uses. Nothing here asserts a
// time: the run is short and the checks are counts.

#include "engine/controlled_run.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "support/loopback_server.hpp"

namespace lp::engine {
namespace {

using namespace std::chrono_literals;

class IndexServer {
 public:
  IndexServer()
      : server_([this](const std::string& head) {
          const auto start = head.find(' ') + 1;
          const std::string path = head.substr(start, head.find(' ', start) - start);
          std::lock_guard lock(mu_);
          if (path.rfind("/i/", 0) == 0) ++seen_[std::stoull(path.substr(3))];
          return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }) {}
  std::string url() const { return server_.url(); }
  std::map<std::uint64_t, int> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::map<std::uint64_t, int> seen_;
  testing::LoopbackServer server_;
};

core::Plan indexed_plan(const std::string& url, double rps, double secs, std::uint32_t threads) {
  core::Plan plan;
  plan.rps = rps;
  plan.duration_secs = secs;
  plan.mode = core::Mode::Constant;
  plan.target_url = url;
  core::Task task;
  task.name = "t";
  task.url = "/unused";
  plan.tasks.push_back(task);
  plan.settings.threads = threads;
  plan.settings.max_connections = 16;
  plan.vuser_configs.resize(static_cast<std::size_t>(rps * secs));
  for (std::size_t u = 0; u < plan.vuser_configs.size(); ++u) plan.vuser_configs[u].task_urls["t"] = "/i/" + std::to_string(u);
  return plan;
}

TEST(ControlledRun, ReleaseThenAdoptElsewhereFiresEveryIterationOnce) {
  IndexServer server;
  const auto start = Clock::now() + 50ms;
  ControlOptions holds;
  holds.start = start;
  ControlOptions idle = holds;
  idle.slots = {};
  auto a = ControlledRun::start(indexed_plan(server.url(), 400, 1.5, 2), holds);
  auto b = ControlledRun::start(indexed_plan(server.url(), 400, 1.5, 3), idle);
  ASSERT_TRUE(a.ok() && b.ok());

  std::this_thread::sleep_until(start + 500ms);
  const std::optional<std::uint64_t> handover = (*a)->release(0);
  ASSERT_TRUE(handover.has_value());
  (*b)->adopt(0, *handover);
  (*a)->join();
  (*b)->join();

  const RunProgress pa = (*a)->progress(), pb = (*b)->progress();
  const auto seen = server.seen();
  for (const auto& [index, times] : seen) EXPECT_EQ(times, 1) << "iteration " << index;
  EXPECT_EQ(seen.size() + pa.stats.dropped + pb.stats.dropped, 600u);
  EXPECT_EQ(pa.stats.iterations + pa.stats.dropped, *handover);
  ASSERT_EQ(pa.slots.size(), 1u);
  EXPECT_TRUE(pa.slots[0].closed);
  EXPECT_EQ(pa.slots[0].next_index, *handover);
  EXPECT_TRUE(pa.finished && pb.finished);
}

TEST(ControlledRun, ReleasingASlotNotHeldSaysSo) {
  IndexServer server;
  auto run = ControlledRun::start(indexed_plan(server.url(), 10, 0.5, 2), ControlOptions{});
  ASSERT_TRUE(run.ok());

  EXPECT_FALSE((*run)->release(5).has_value());
  (*run)->join();
}

TEST(ControlledRun, ReportsWhenItsScheduleActuallyBegan) {
  IndexServer server;
  ControlOptions options;
  options.start = Clock::now() + 20ms;
  auto run = ControlledRun::start(indexed_plan(server.url(), 50, 0.2, 1), options);
  ASSERT_TRUE(run.ok());
  (*run)->join();

  const RunProgress p = (*run)->progress();

  ASSERT_TRUE(p.began.has_value());
  EXPECT_GE(*p.began, *options.start);  // never before the start it was given
}

}  // namespace
}  // namespace lp::engine
