// The static engine resends a request only when that is safe, and counts it: a GET
// whose reused connection the server closed before answering is sent again once on a
// fresh connection; a POST that may have reached the server never is.

#include <gtest/gtest.h>

#include <thread>

#include "engine/compiled_plan.hpp"
#include "engine/worker.hpp"
#include "support/loopback_server.hpp"

using lp::testing::LoopbackServer;
using lp::testing::Reply;
using lp::testing::ServerRequest;

namespace {

// First request on each connection: 200. Second: closed without an answer, after the
// server read it (an idle keep-alive connection dropped as the request came).
LoopbackServer::Script closes_second_request() {
  return [](const ServerRequest& r) {
    Reply reply;
    if (r.index == 0) reply.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    else reply.after = Reply::After::Close;
    return reply;
  };
}

// 50 iterations of one call over one connection (opened again when closed).
lp::metrics::RunStats run(const LoopbackServer& server, const std::string& method) {
  lp::core::Plan plan;
  plan.rps = 50;
  plan.duration_secs = 1;
  plan.mode = lp::core::Mode::Constant;
  plan.target_url = server.url();
  lp::core::Task task;
  task.name = "t";
  task.method = method;
  task.url = "/x";
  task.body_template = method == "POST" ? "{}" : "";
  plan.tasks.push_back(task);
  plan.settings.threads = 1;
  plan.settings.max_connections = 1;
  auto compiled = lp::engine::compile_plan(plan);
  EXPECT_TRUE(compiled.ok());
  lp::engine::WorkerConfig config;
  config.max_connections = 1;
  lp::engine::Worker worker(**compiled, config);
  worker.run(lp::engine::Clock::now());
  lp::metrics::RunStats stats(1);
  worker.merge_published(stats);
  return stats;
}

}  // namespace

TEST(WorkerRetry, ResendsAGetOnceOnAFreshConnectionAndCountsIt) {
  LoopbackServer server(closes_second_request());

  auto stats = run(server, "GET");

  // On the real clock a starved machine may drop a few of the 50 (dropped, counted):
  // the relations hold whatever was sent.
  const auto sent = stats.total().requests;
  EXPECT_EQ(sent + stats.dropped, 50u);
  EXPECT_GE(sent, 2u);
  EXPECT_EQ(stats.total().errors, 0u);
  EXPECT_EQ(stats.retries, sent - 1);                 // every iteration after the first met a dropped connection
  EXPECT_EQ(server.requests(), sent + (sent - 1));    // each of those reached the server twice
}

TEST(WorkerRetry, NeverResendsAPost) {
  LoopbackServer server(closes_second_request());

  auto stats = run(server, "POST");

  const auto sent = stats.total().requests;
  EXPECT_EQ(sent + stats.dropped, 50u);
  EXPECT_GE(sent, 2u);
  // Each connection: the first request answered, the second read and closed (a reset).
  EXPECT_EQ(stats.total().errors_by_kind[static_cast<int>(lp::metrics::ErrorKind::Reset)], sent / 2);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(server.requests(), static_cast<int>(sent));  // exactly once each
}
