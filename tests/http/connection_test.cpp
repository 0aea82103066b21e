// The connection state machine against real loopback sockets: framing by the close,
// early responses, when a failure may be retried, HEAD, and TLS.

#include "http/connection.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "http/method.hpp"
#include "http/request_bytes.hpp"
#include "http/tls_context.hpp"
#include "http/url.hpp"
#include "support/loopback_server.hpp"

namespace lp::http {
namespace {

using namespace std::chrono_literals;
using lp::testing::LoopbackServer;
using lp::testing::Reply;
using lp::testing::ServerRequest;
using After = Reply::After;

constexpr MethodTraits kGet = method_traits("GET");
constexpr MethodTraits kPost = method_traits("POST");
constexpr MethodTraits kHead = method_traits("HEAD");

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// One connection and the epoll loop that drives it, as a worker would.
class Client final : public ConnectionObserver {
 public:
  struct Outcome {
    bool ended = false;  ///< the request ended within run()'s limit
    bool responded = false;
    int status = 0;
    std::string body;
    std::optional<Failure> failure;
    bool retryable = false;
  };

  explicit Client(const std::string& url) : url_(*parse_url(url)), endpoint_(*resolve_endpoint(url_)) {
    if (url_.tls) tls_ = *TlsContext::create(/*verify=*/false);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    conn_ = std::make_unique<Connection>(epoll_fd_, 0, endpoint_, tls_ ? tls_->native() : nullptr, *this,
                                         buf_.data(), buf_.size(), /*capture=*/true);
  }
  ~Client() {
    conn_.reset();
    ::close(epoll_fd_);
  }

  std::string request(const std::string& method, const std::string& path, const std::string& body = "") const {
    Url u = url_;
    u.target = path;
    return render_request(method, u, {}, body);
  }

  /// Sends (send() may already end the request); run() then drives the loop.
  void start(std::string bytes, MethodTraits method) {
    bytes_ = std::move(bytes);
    outcome_ = {};
    conn_->send(bytes_.data(), bytes_.size(), method);
  }

  /// Runs the loop until the request ends, for at most `limit`: a connection that
  /// waits for an edge that never comes fails the test instead of hanging it.
  Outcome run(std::chrono::milliseconds limit = 10s) {
    run_while([&] { return !outcome_.ended; }, limit);
    return outcome_;
  }

  /// Sends and runs the loop only until the request is written (connect and TLS
  /// handshake included), so a test can let the server act before the next read.
  void write(std::string bytes, MethodTraits method) {
    start(std::move(bytes), method);
    run_while([&] {
      auto s = conn_->state();
      return !outcome_.ended && (s == Connection::State::Connecting || s == Connection::State::Handshaking ||
                                 s == Connection::State::Writing);
    }, 10s);
  }

  Outcome exchange(std::string bytes, MethodTraits method) {
    start(std::move(bytes), method);
    return run();
  }

  Connection& connection() { return *conn_; }

 private:
  template <typename While>
  void run_while(While keep_going, std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    epoll_event events[16];
    while (keep_going() && Clock::now() < until) {
      int n = ::epoll_wait(epoll_fd_, events, 16, 50);
      for (int i = 0; i < n && keep_going(); ++i) {
        if (events[i].data.u64 == conn_->tag()) conn_->on_event(events[i].events);
      }
    }
  }

  void on_response(Connection&, const ResponseParser& response) noexcept override {
    outcome_.ended = outcome_.responded = true;
    outcome_.status = response.status();
    outcome_.body = response.body();
  }
  void on_failure(Connection&, Failure failure, bool retryable) noexcept override {
    outcome_.ended = true;
    outcome_.failure = failure;
    outcome_.retryable = retryable;
  }

  Url url_;
  Endpoint endpoint_;
  std::shared_ptr<TlsContext> tls_;
  int epoll_fd_ = -1;
  std::array<char, 64 * 1024> buf_{};
  std::unique_ptr<Connection> conn_;
  std::string bytes_;
  Outcome outcome_;
};

// Replies `first` to the first request on each connection and closes the connection
// when the second arrives, without answering: a server dropping an idle keep-alive
// connection just as the next request comes.
LoopbackServer::Script closes_second_request() {
  return [](const ServerRequest& r) {
    Reply reply;
    if (r.index == 0) reply.bytes = kOk;
    else reply.after = After::Close;
    return reply;
  };
}

Reply early(std::string bytes, After after) {
  Reply r;
  r.bytes = std::move(bytes);
  r.before_body = true;
  r.after = after;
  return r;
}

// More than the loopback socket buffers hold, so the client is still writing when
// the early response arrives.
const std::string kLargeBody(32 << 20, 'x');

TEST(Connection, BodyUntilCloseCompletesWhenTheFinComesWithTheLastBytes) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.bytes = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close";
    r.after = After::Close;
    return r;
  });
  Client client(server.url());

  client.write(client.request("GET", "/"), kGet);
  ASSERT_TRUE(server.wait_closed(1));  // bytes and FIN are both in before the first read
  auto out = client.run();

  ASSERT_TRUE(out.ended) << "the response waited for an edge that never comes";
  EXPECT_TRUE(out.responded);
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.body, "until the close");
}

TEST(Connection, TruncatedBodyAtTheCloseIsAReset) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf";
    r.after = After::Close;
    return r;
  });
  Client client(server.url());

  auto out = client.exchange(client.request("GET", "/"), kGet);

  ASSERT_TRUE(out.ended);
  EXPECT_EQ(out.failure, Failure::Reset);
  EXPECT_FALSE(out.retryable);
}

TEST(Connection, KeepAliveResponseWithTheFinInItsSegmentIsNotReused) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.bytes = kOk;
    r.after = After::Close;  // no Connection: close, just the FIN
    return r;
  });
  Client client(server.url());

  client.write(client.request("GET", "/"), kGet);
  ASSERT_TRUE(server.wait_closed(1));
  auto first = client.run();
  bool open_after_first = client.connection().open();
  auto second = client.exchange(client.request("GET", "/"), kGet);

  EXPECT_EQ(first.status, 200);
  EXPECT_FALSE(open_after_first);
  ASSERT_TRUE(second.ended);
  EXPECT_EQ(second.status, 200);  // on a fresh connection, without a failure first
  EXPECT_EQ(server.connections(), 2);
}

TEST(Connection, ReusedConnectionClosedBeforeAnyResponseByteMayRetryAGet) {
  LoopbackServer server(closes_second_request());
  Client client(server.url());
  ASSERT_EQ(client.exchange(client.request("GET", "/"), kGet).status, 200);

  auto out = client.exchange(client.request("GET", "/"), kGet);

  EXPECT_EQ(out.failure, Failure::Reset);
  EXPECT_TRUE(out.retryable);
}

TEST(Connection, ReusedConnectionClosedAfterReadingAPostMayNotRetryIt) {
  LoopbackServer server(closes_second_request());
  Client client(server.url());
  ASSERT_EQ(client.exchange(client.request("GET", "/"), kGet).status, 200);

  auto out = client.exchange(client.request("POST", "/orders", "{}"), kPost);

  EXPECT_EQ(out.failure, Failure::Reset);
  EXPECT_FALSE(out.retryable);  // the server read it: resending could order twice
  EXPECT_EQ(server.requests(), 2);
}

TEST(Connection, ReusedConnectionResetBeforeAnyByteWasWrittenMayRetryAPost) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.bytes = kOk;
    r.hold = true;  // reset only once the client has the response and is idle
    r.after = After::Reset;
    return r;
  });
  Client client(server.url());
  ASSERT_EQ(client.exchange(client.request("GET", "/"), kGet).status, 200);
  server.release();
  ASSERT_TRUE(server.wait_closed(1));  // the RST is in; the idle client has not looked

  client.start(client.request("POST", "/orders", "{}"), kPost);
  auto out = client.run();

  EXPECT_EQ(out.failure, Failure::Reset);
  EXPECT_TRUE(out.retryable);  // send() failed at once: no byte reached the server
  EXPECT_EQ(server.requests(), 1);
}

TEST(Connection, RefusedFreshConnectionIsAConnectFailureAndNotRetryable) {
  std::string url;
  {
    LoopbackServer gone([](const ServerRequest&) { return Reply{}; });
    url = gone.url();
  }  // nothing listens there now
  Client client(url);

  auto out = client.exchange(client.request("GET", "/"), kGet);

  EXPECT_EQ(out.failure, Failure::Connect);
  EXPECT_FALSE(out.retryable);
}

TEST(Connection, EarlyResponseToALargePostIsReadBeforeTheReset) {
  LoopbackServer server([](const ServerRequest&) {
    return early("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", After::Reset);
  });
  Client client(server.url());

  auto out = client.exchange(client.request("POST", "/upload", kLargeBody), kPost);

  ASSERT_TRUE(out.ended);
  EXPECT_TRUE(out.responded) << "reported as failure " << static_cast<int>(out.failure.value_or(Failure::Connect));
  EXPECT_EQ(out.status, 413);
  EXPECT_FALSE(client.connection().open());
}

TEST(Connection, EarlyResponseFromAServerThatKeepsTheConnectionEndsTheRequest) {
  LoopbackServer server([](const ServerRequest&) {
    return early("HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\nlog in", After::KeepOpen);
  });
  Client client(server.url());

  auto out = client.exchange(client.request("POST", "/upload", kLargeBody), kPost);

  ASSERT_TRUE(out.ended);
  EXPECT_EQ(out.status, 401);
  EXPECT_EQ(out.body, "log in");
  EXPECT_FALSE(client.connection().open());  // the rest of the body would be read as a request
}

TEST(Connection, HeadResponseEndsAtItsHeadAndTheConnectionIsReused) {
  LoopbackServer server([](const ServerRequest& r) {
    Reply reply;
    reply.bytes = r.head.starts_with("HEAD") ? "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" : kOk;
    return reply;
  });
  Client client(server.url());

  auto head = client.exchange(client.request("HEAD", "/"), kHead);
  auto get = client.exchange(client.request("GET", "/"), kGet);

  ASSERT_TRUE(head.ended);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(get.body, "ok");
  EXPECT_EQ(server.connections(), 1);
}

TEST(Connection, TlsKeepAliveConnectionCarriesEveryRequest) {
  LoopbackServer server([](const ServerRequest&) { return Reply{kOk}; }, LoopbackServer::Tls::On);
  Client client(server.url());

  int ok = 0;
  for (int i = 0; i < 20; ++i) ok += client.exchange(client.request("GET", "/"), kGet).status == 200;

  EXPECT_EQ(ok, 20);
  EXPECT_EQ(server.connections(), 1);
}

TEST(Connection, TlsBodyUntilCloseWithoutCloseNotifyCompletes) {
  LoopbackServer server(
      [](const ServerRequest&) {
        Reply r;
        r.bytes = "HTTP/1.0 200 OK\r\n\r\nuntil the close";
        r.after = After::Close;  // FIN, no close_notify: what many servers do
        return r;
      },
      LoopbackServer::Tls::On);
  Client client(server.url());

  client.write(client.request("GET", "/"), kGet);
  ASSERT_TRUE(server.wait_closed(1));
  auto out = client.run();

  ASSERT_TRUE(out.ended);
  EXPECT_TRUE(out.responded);
  EXPECT_EQ(out.body, "until the close");
}

TEST(Connection, TlsTruncatedBodyAtTheCloseIsAReset) {
  LoopbackServer server(
      [](const ServerRequest&) {
        Reply r;
        r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf";
        r.after = After::Close;
        return r;
      },
      LoopbackServer::Tls::On);
  Client client(server.url());

  auto out = client.exchange(client.request("GET", "/"), kGet);

  ASSERT_TRUE(out.ended);
  EXPECT_EQ(out.failure, Failure::Reset);
}

TEST(Connection, TlsEarlyResponseToALargePostIsRead) {
  LoopbackServer server(
      [](const ServerRequest&) {
        return early("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", After::Reset);
      },
      LoopbackServer::Tls::On);
  Client client(server.url());

  auto out = client.exchange(client.request("POST", "/upload", kLargeBody), kPost);

  ASSERT_TRUE(out.ended);
  EXPECT_TRUE(out.responded) << "reported as failure " << static_cast<int>(out.failure.value_or(Failure::Connect));
  EXPECT_EQ(out.status, 413);
}

TEST(Connection, InvalidResponseIsAProtocolFailure) {
  LoopbackServer server([](const ServerRequest&) { return Reply{"SSH-2.0-OpenSSH_9.2\r\n"}; });
  Client client(server.url());

  auto out = client.exchange(client.request("GET", "/"), kGet);

  EXPECT_EQ(out.failure, Failure::Protocol);
  EXPECT_FALSE(client.connection().open());
}

}  // namespace
}  // namespace lp::http
