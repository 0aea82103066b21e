#include "engine/call_loop.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "support/loopback_server.hpp"

using lp::engine::CallRequest;
using lp::engine::ClientOptions;
using lp::engine::CallLoop;
using lp::testing::LoopbackServer;
using lp::testing::Reply;
using lp::testing::ServerRequest;

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

CallRequest call(const std::string& method, const std::string& url, std::uint32_t task = 0) {
  CallRequest r = get(url, task);
  r.method = method;
  return r;
}

// Polls until every id in `ids` came out, for at most 10 s (a lost call fails the test
// instead of hanging it). Completions are returned in the order of `ids`.
std::vector<lp::engine::CallResponse> collect(CallLoop& client, const std::vector<std::uint64_t>& ids) {
  std::vector<lp::engine::CallResponse> out(ids.size());
  std::vector<bool> seen(ids.size());
  const auto until = CallLoop::Clock::now() + std::chrono::seconds(10);
  for (std::size_t got = 0; got < ids.size() && CallLoop::Clock::now() < until;) {
    for (auto& c : client.poll(CallLoop::Clock::now() + std::chrono::milliseconds(100))) {
      auto at = std::find(ids.begin(), ids.end(), c.id);
      EXPECT_NE(at, ids.end()) << "a completion with an id submit() never returned: " << c.id;
      if (at == ids.end()) continue;
      out[at - ids.begin()] = std::move(c.response);
      seen[at - ids.begin()] = true;
      ++got;
    }
  }
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(seen[i]) << "call " << ids[i] << " never completed";
  return out;
}

// First request on each connection: 200. Second: the server closes the connection
// without answering (an idle keep-alive connection dropped as the request came).
LoopbackServer::Script closes_second_request() {
  return [](const ServerRequest& r) {
    Reply reply;
    if (r.index == 0) reply.bytes = kOk;
    else reply.after = Reply::After::Close;
    return reply;
  };
}

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

TEST(CallLoop, ACallThatFailsInsideSubmitCompletesUnderItsOwnId) {
  auto client = make_client();

  std::uint64_t bad_url = client->submit(get("ftp://127.0.0.1/x"));
  std::uint64_t bad_header = client->submit([] {
    CallRequest r = get("http://127.0.0.1:1/");
    r.headers = {{"X-Id", "1\r\nX-Injected: yes"}};
    return r;
  }());
  auto out = collect(*client, {bad_url, bad_header});

  EXPECT_EQ(out[0].failure, lp::metrics::ErrorKind::Connect);
  EXPECT_NE(out[0].error.find("not an http(s) URL"), std::string::npos);
  EXPECT_EQ(out[1].failure, lp::metrics::ErrorKind::Protocol);
  EXPECT_EQ(client->pending(), 0u);
}

TEST(CallLoop, ExecuteReturnsForACallThatFailsInsideSubmit) {
  auto client = make_client();

  auto r = client->execute(get("not a url"));

  EXPECT_EQ(r.failure, lp::metrics::ErrorKind::Connect);
  EXPECT_EQ(client->pending(), 0u);
}

TEST(CallLoop, OutOfFileDescriptorsGivesConnectErrorsAndTheLoopGoesOn) {
  LoopbackServer server([](const std::string&) { return kOk; });
  auto client = make_client();
  // One call first, to another server (its connection stays open and is not reused for
  // `server`), before descriptors run out: UBSan checks each virtual call's dynamic
  // type, and on a first check (not in its cache yet) it probes memory through a pipe(),
  // which fails without descriptors and reads as a false type mismatch.
  LoopbackServer warm([](const std::string&) { return kOk; });
  ASSERT_EQ(client->execute(get(warm.url(), 1)).status, 200);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  int lowest_free = ::dup(0);
  ::close(lowest_free);
  rlimit none = saved;
  none.rlim_cur = static_cast<rlim_t>(lowest_free);  // every descriptor below it is taken: socket() fails

  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(client->submit(get(server.url(), 1)));  // each fails inside submit()
  ::setrlimit(RLIMIT_NOFILE, &saved);
  auto failed = collect(*client, ids);
  auto after = client->execute(get(server.url(), 1));

  for (const auto& r : failed) EXPECT_EQ(r.failure, lp::metrics::ErrorKind::Connect);
  EXPECT_EQ(after.status, 200);
  const auto& stats = client->load_stats();
  EXPECT_EQ(stats.tasks[1].errors_by_kind[static_cast<int>(lp::metrics::ErrorKind::Connect)], 3u);
  EXPECT_EQ(stats.tasks[1].requests, 5u);
}

TEST(CallLoop, ManyWaitingCallsThatFailAtOnceAllComplete) {
  ClientOptions o;
  o.task_count = 1;
  o.max_connections = 1;  // the rest wait, then each fails as it is started
  auto created = CallLoop::create(o);
  ASSERT_TRUE(created.ok());
  auto& client = *created;
  std::string url;
  {
    LoopbackServer gone([](const std::string&) { return kOk; });
    url = gone.url();
  }

  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(client->submit(get(url)));
  auto out = collect(*client, ids);

  for (const auto& r : out) EXPECT_EQ(r.failure, lp::metrics::ErrorKind::Connect);
  EXPECT_EQ(client->load_stats().total().requests, 200u);
}

TEST(CallLoop, RetriesAGetOnceWhenAReusedConnectionClosesAndCountsTheRetry) {
  LoopbackServer server(closes_second_request());
  auto client = make_client();

  auto first = client->execute(get(server.url()));
  auto second = client->execute(get(server.url()));

  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);                     // answered on a fresh connection
  EXPECT_EQ(server.requests(), 3);                   // the dropped one, then the resend
  EXPECT_EQ(client->load_stats().retries, 1u);
  EXPECT_EQ(client->load_stats().total().errors, 0u);
}

TEST(CallLoop, NeverResendsAPostTheServerMayHaveSeen) {
  LoopbackServer server(closes_second_request());
  auto client = make_client();

  client->execute(get(server.url()));
  CallRequest order = call("POST", server.url("/orders"));
  order.body = "{\"item\": 1}";
  auto r = client->execute(order);

  EXPECT_EQ(r.failure, lp::metrics::ErrorKind::Reset);
  EXPECT_EQ(server.requests(), 2);  // sent once, never again
  EXPECT_EQ(client->load_stats().retries, 0u);
}

TEST(CallLoop, HeadCallsEndAtTheResponseHead) {
  LoopbackServer server([](const std::string& head) {
    return head.starts_with("HEAD") ? std::string("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n") : kOk;
  });
  auto client = make_client(/*timeout_ms=*/3000);

  auto head = client->execute(call("HEAD", server.url()));
  auto get_after = client->execute(get(server.url()));

  EXPECT_FALSE(head.failure.has_value()) << head.error;
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(get_after.status, 200);
  EXPECT_EQ(server.connections(), 1);  // the HEAD left the connection in step
}

TEST(CallLoop, RefusesHeadersWithLineBreaksWithoutSendingThem) {
  LoopbackServer server([](const std::string&) { return kOk; });
  auto client = make_client();
  CallRequest r = get(server.url(), 1);
  r.headers = {{"X-Trace", "abc\r\nX-Admin: true"}};

  auto out = client->execute(r);

  EXPECT_EQ(out.failure, lp::metrics::ErrorKind::Protocol);
  EXPECT_NE(out.error.find("refused to send: header 'X-Trace' has a CR, LF or NUL in its value"), std::string::npos)
      << out.error;
  EXPECT_EQ(server.requests(), 0);
  EXPECT_EQ(client->load_stats().tasks[1].errors_by_kind[static_cast<int>(lp::metrics::ErrorKind::Protocol)], 1u);
}

TEST(CallLoop, RefusesMethodsAndPathsThatWouldSplitTheRequestLine) {
  LoopbackServer server([](const std::string&) { return kOk; });
  auto client = make_client();

  auto method = client->execute(call("GET /admin HTTP/1.1\r\nX:", server.url()));
  auto path = client->execute(get(server.url("/a b")));

  EXPECT_EQ(method.failure, lp::metrics::ErrorKind::Protocol);
  EXPECT_EQ(path.failure, lp::metrics::ErrorKind::Protocol);
  EXPECT_NE(path.error.find("percent-encode"), std::string::npos) << path.error;
  EXPECT_EQ(server.requests(), 0);
}

TEST(CallLoop, EarlyResponseToALargePostIsItsStatus) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.bytes = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    r.before_body = true;
    r.after = Reply::After::Reset;
    return r;
  });
  auto client = make_client();
  CallRequest upload = call("POST", server.url("/upload"));
  upload.body.assign(32 << 20, 'x');

  auto r = client->execute(upload);

  EXPECT_FALSE(r.failure.has_value()) << r.error;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(client->load_stats().tasks[0].errors_by_kind[static_cast<int>(lp::metrics::ErrorKind::Http4xx)], 1u);
}
