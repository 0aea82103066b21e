#include "engine/call_loop.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/loopback_server.hpp"

using lp::engine::CallRequest;
using lp::engine::ClientOptions;
using lp::engine::CallLoop;
using lp::testing::LoopbackServer;

namespace {

std::unique_ptr<CallLoop> make_client(std::uint32_t timeout_ms = 5000) {
  ClientOptions o;
  o.task_count = 2;
  o.timeout_ms = timeout_ms;
  auto c = CallLoop::create(o);
  EXPECT_TRUE(c.ok());
  return std::move(*c);
}

CallRequest get(const std::string& url, std::uint32_t task = 0) {
  CallRequest r;
  r.url = url;
  r.tag.task = task;
  return r;
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";

}  // namespace

TEST(CallLoop, ReturnsStatusHeadersAndBody) {
  LoopbackServer server([](const std::string&) { return kOk; });
  auto client = make_client();

  auto r = client->execute(get(server.url("/x")));

  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"ok\":true}");
  EXPECT_FALSE(r.failure.has_value());
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].first, "Content-Type");
}

TEST(CallLoop, ReusesOneKeepAliveConnection) {
  LoopbackServer server([](const std::string&) { return kOk; });
  auto client = make_client();

  for (int i = 0; i < 50; ++i) client->execute(get(server.url()));

  EXPECT_EQ(server.requests(), 50);
  EXPECT_EQ(server.connections(), 1);
}

TEST(CallLoop, ReconnectsAfterConnectionClose) {
  LoopbackServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  });
  auto client = make_client();

  for (int i = 0; i < 5; ++i) EXPECT_EQ(client->execute(get(server.url())).status, 200);

  EXPECT_EQ(server.connections(), 5);
}

TEST(CallLoop, DecodesChunkedBodies) {
  LoopbackServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  });
  auto client = make_client();

  EXPECT_EQ(client->execute(get(server.url())).body, "hello world");
}

TEST(CallLoop, CountsRefusedConnectionsAsConnectErrors) {
  std::string url;
  {
    LoopbackServer gone([](const std::string&) { return kOk; });
    url = gone.url();
  }  // closed: nothing listens on that port now
  auto client = make_client();

  auto r = client->execute(get(url, 1));

  EXPECT_EQ(r.failure, lp::metrics::ErrorKind::Connect);
  EXPECT_NE(r.error.find("could not connect"), std::string::npos);
  const auto& stats = client->load_stats();
  EXPECT_EQ(stats.tasks[1].errors_by_kind[static_cast<int>(lp::metrics::ErrorKind::Connect)], 1u);
}

TEST(CallLoop, TimesOutASilentServer) {
  LoopbackServer server([](const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return kOk;
  });
  auto client = make_client(/*timeout_ms=*/100);

  auto r = client->execute(get(server.url()));

  EXPECT_EQ(r.failure, lp::metrics::ErrorKind::Timeout);
}

TEST(CallLoop, SubmittedCallsRunConcurrently) {
  LoopbackServer server([](const std::string& head) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string path = head.substr(4, head.find(' ', 4) - 4);
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(path.size()) + "\r\n\r\n" + path;
  });
  auto client = make_client();
  std::vector<CallRequest> reqs{get(server.url("/a")), get(server.url("/b")), get(server.url("/c"))};

  std::vector<std::uint64_t> ids;
  for (auto& r : reqs) ids.push_back(client->submit(r));
  std::vector<lp::engine::CallResponse> out(3);
  for (int got = 0; got < 3;) {
    for (auto& c : client->poll(CallLoop::Clock::now() + std::chrono::seconds(5))) {
      out[std::find(ids.begin(), ids.end(), c.id) - ids.begin()] = std::move(c.response);
      ++got;
    }
  }

  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].body, "/a");
  EXPECT_EQ(out[1].body, "/b");
  EXPECT_EQ(out[2].body, "/c");
  EXPECT_EQ(server.connections(), 3);  // three connections at once, not one after another
}

TEST(CallLoop, KeepsSetupCallsApartFromLoad) {
  LoopbackServer server([](const std::string&) { return kOk; });
  auto client = make_client();
  CallRequest setup = get(server.url());
  setup.tag.task = lp::engine::CallTag::kSetup;

  client->execute(setup);
  client->execute(get(server.url(), 0));

  EXPECT_EQ(client->setup_stats().requests, 1u);
  EXPECT_EQ(client->load_stats().total().requests, 1u);
}

TEST(CallLoop, StatusErrorsCountUnlessACheckDecides) {
  LoopbackServer server([](const std::string&) { return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"); });
  auto client = make_client();
  CallRequest checked = get(server.url(), 1);
  checked.tag.status_is_error = false;

  client->execute(get(server.url(), 0));
  client->execute(checked);

  const auto& stats = client->load_stats();
  EXPECT_EQ(stats.tasks[0].errors, 1u);
  EXPECT_EQ(stats.tasks[1].errors, 0u);
}
