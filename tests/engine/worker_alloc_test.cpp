// The static engine's per-request path must not allocate: once connections are open,
// a request is a write of prepared bytes and a parse into fixed buffers.

#include <gtest/gtest.h>

#include <thread>

#include "engine/compiled_plan.hpp"
#include "engine/worker.hpp"
#include "support/counting_new.hpp"
#include "support/loopback_server.hpp"

using namespace std::chrono_literals;

TEST(Worker, SteadyStateDoesNotAllocate) {
  lp::testing::LoopbackServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  lp::core::Plan plan;
  plan.rps = 1000;
  plan.duration_secs = 2.5;
  plan.mode = lp::core::Mode::Constant;
  plan.target_url = server.url();
  lp::core::Task task;
  task.name = "ok";
  task.url = "/ok";
  plan.tasks.push_back(task);
  plan.settings.threads = 1;
  // One connection, opened at the start: under a loaded machine a latency spike would
  // otherwise open another mid-window, which allocates (once per connection, legitimately).
  plan.settings.max_connections = 1;
  auto compiled = lp::engine::compile_plan(plan);
  ASSERT_TRUE(compiled.ok());
  lp::engine::WorkerConfig config;
  config.max_connections = 1;
  lp::engine::Worker worker(**compiled, config);
  auto start = lp::engine::Clock::now();
  std::thread loop([&] {
    lp::testing::count_here = true;
    worker.run(start);
  });

  std::this_thread::sleep_until(start + 1s);  // warmed up: the connection is open
  std::uint64_t before = lp::testing::allocations.load();
  std::this_thread::sleep_until(start + 2s);  // a second of load: ~1,000 requests
  std::uint64_t after = lp::testing::allocations.load();
  loop.join();

  lp::metrics::RunStats stats(1);
  worker.merge_published(stats);
  EXPECT_GT(before, 0u);  // the counter does see this thread: opening connections allocates
  EXPECT_GE(stats.total().requests, 1000u);
  EXPECT_EQ(after - before, 0u);
}
