// cluster::NatsClient (libnats) against the embedded broker AND a real nats-server:
// every TEST_P runs once per server, so the coordinator and agents can use either.

#include "cluster/nats_client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/server_under_test.hpp"

namespace lp::cluster {
namespace {

using namespace std::chrono_literals;
using lp::testing::ServerKind;
using lp::testing::ServerSettings;
using lp::testing::ServerUnderTest;

constexpr auto kWait = 10s;  // bound of every wait; none is a timing assertion

// Collects what a handler receives. Declare it before the client and subscription that
// feed it, so it outlives their threads.
class Inbox {
 public:
  NatsClient::Handler handler() {
    return [this](const NatsMessage& m) {
      std::lock_guard lock(mu_);
      messages_.push_back(m);
      cv_.notify_all();
    };
  }

  /// Waits (bounded) until `n` messages are in.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return messages_.size() >= n; });
  }

  std::vector<NatsMessage> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

  std::vector<std::string> subjects() {
    std::vector<std::string> out;
    for (const auto& m : messages()) out.push_back(m.subject);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<NatsMessage> messages_;
};

// Counts connection events and waits for them.
class Events {
 public:
  void attach(NatsOptions& o) {
    o.on_disconnected = [this] { bump(disconnects_); };
    o.on_reconnected = [this] { bump(reconnects_); };
  }
  bool wait_disconnects(int n) { return wait(disconnects_, n); }
  bool wait_reconnects(int n) { return wait(reconnects_, n); }
  int disconnects() {
    std::lock_guard lock(mu_);
    return disconnects_;
  }

 private:
  void bump(int& counter) {
    std::lock_guard lock(mu_);
    ++counter;
    cv_.notify_all();
  }
  bool wait(int& counter, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return counter >= n; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int disconnects_ = 0;
  int reconnects_ = 0;
};

// A port nobody listens on (bound, read, released).
std::uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class NatsClientTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override { LP_SKIP_UNLESS_AVAILABLE(GetParam()); }

  std::unique_ptr<ServerUnderTest> serve(ServerSettings settings = {}) {
    auto server = std::make_unique<ServerUnderTest>(GetParam(), std::move(settings));
    if (!server->start()) return nullptr;
    return server;
  }

  static NatsOptions options(const ServerUnderTest& server) {
    NatsOptions o;
    o.urls = {server.url()};
    o.name = "nats-client-test";
    o.reconnect_wait = 100ms;
    o.reconnect_jitter = 50ms;
    return o;
  }

  // A connected client; the test fails if it cannot connect.
  static NatsClient join(const ServerUnderTest& server, NatsOptions o) {
    auto c = NatsClient::connect(std::move(o));
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(c).value() : NatsClient{};
  }
  static NatsClient join(const ServerUnderTest& server) { return join(server, options(server)); }
};

TEST_P(NatsClientTest, PublishedMessagesReachASubscriberInOrder) {
  auto server = serve();
  ASSERT_TRUE(server);
  Inbox inbox;
  NatsClient client = join(*server);
  auto sub = client.subscribe("agents.a", inbox.handler());
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  ASSERT_TRUE(client.flush(kWait).ok());

  for (const char* data : {"one", "two", "three"}) ASSERT_TRUE(client.publish("agents.a", data).ok());

  ASSERT_TRUE(inbox.wait_for(3));
  const auto got = inbox.messages();
  EXPECT_EQ(got[0].data, "one");
  EXPECT_EQ(got[1].data, "two");
  EXPECT_EQ(got[2].data, "three");
  EXPECT_EQ(got[0].subject, "agents.a");
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(client.connected_url(), server->url());
}

TEST_P(NatsClientTest, WildcardsDeliverByToken) {
  auto server = serve();
  ASSERT_TRUE(server);
  Inbox one_token, the_rest;
  NatsClient client = join(*server);
  auto a = client.subscribe("loadpilot.metrics.*", one_token.handler());
  auto b = client.subscribe("loadpilot.>", the_rest.handler());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(client.flush(kWait).ok());

  for (const char* subject : {"loadpilot", "loadpilot.metrics.agent-1", "loadpilot.metrics.agent-1.x", "loadpilot.metrics.end"}) {
    ASSERT_TRUE(client.publish(subject, "x").ok());
  }

  // The last message reaches both; messages of one publisher arrive in order, so
  // nothing else is still on its way.
  ASSERT_TRUE(the_rest.wait_for(3));
  ASSERT_TRUE(one_token.wait_for(2));
  EXPECT_EQ(one_token.subjects(), (std::vector<std::string>{"loadpilot.metrics.agent-1", "loadpilot.metrics.end"}));
  EXPECT_EQ(the_rest.subjects(), (std::vector<std::string>{"loadpilot.metrics.agent-1", "loadpilot.metrics.agent-1.x",
                                                           "loadpilot.metrics.end"}));  // not "loadpilot"
}

TEST_P(NatsClientTest, QueueGroupMembersShareTheMessages) {
  auto server = serve();
  ASSERT_TRUE(server);
  Inbox first, second;
  NatsClient a = join(*server), b = join(*server), publisher = join(*server);
  auto sa = a.queue_subscribe("work", "workers", first.handler());
  auto sb = b.queue_subscribe("work", "workers", second.handler());
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_TRUE(a.flush(kWait).ok() && b.flush(kWait).ok());
  constexpr std::size_t kMessages = 200;

  for (std::size_t i = 0; i < kMessages; ++i) ASSERT_TRUE(publisher.publish("work", std::to_string(i)).ok());
  ASSERT_TRUE(publisher.flush(kWait).ok());

  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (first.messages().size() + second.messages().size() < kMessages && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(first.messages().size() + second.messages().size(), kMessages);  // each exactly once
  EXPECT_GE(first.messages().size(), kMessages / 10);
  EXPECT_GE(second.messages().size(), kMessages / 10);
}

TEST_P(NatsClientTest, RequestGetsTheReply) {
  auto server = serve();
  ASSERT_TRUE(server);
  NatsClient responder = join(*server), requester = join(*server);
  auto sub = responder.subscribe("clock.agent-1", [&responder](const NatsMessage& m) {
    responder.publish(m.reply, "pong:" + m.data);
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(responder.flush(kWait).ok());

  auto reply = requester.request("clock.agent-1", "t0", kWait);

  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->data, "pong:t0");
}

TEST_P(NatsClientTest, RequestNobodyAnswersSaysNoResponders) {
  auto server = serve();
  ASSERT_TRUE(server);
  NatsClient client = join(*server);

  auto reply = client.request("nobody.home", "x", kWait);

  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::Unavailable);
  EXPECT_NE(reply.error().message.find("no responders"), std::string::npos) << reply.error().message;
}

TEST_P(NatsClientTest, HeadersMakeTheRoundTrip) {
  auto server = serve();
  ASSERT_TRUE(server);
  Inbox inbox;
  NatsClient client = join(*server);
  auto sub = client.subscribe("with.headers", inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(client.flush(kWait).ok());
  NatsMessage m;
  m.subject = "with.headers";
  m.data = "body";
  m.headers = {{"Run-Id", "r1"}, {"Seq", "7"}, {"Seq", "8"}};

  ASSERT_TRUE(client.publish(m).ok());

  ASSERT_TRUE(inbox.wait_for(1));
  NatsMessage got = inbox.messages()[0];
  EXPECT_EQ(got.data, "body");
  std::sort(got.headers.begin(), got.headers.end());
  EXPECT_EQ(got.headers, (std::vector<std::pair<std::string, std::string>>{{"Run-Id", "r1"}, {"Seq", "7"}, {"Seq", "8"}}));
}

TEST_P(NatsClientTest, TheRightTokenIsAccepted) {
  ServerSettings s;
  s.token = "s3cret";
  auto server = serve(s);
  ASSERT_TRUE(server);
  Inbox inbox;
  NatsOptions o = options(*server);
  o.token = "s3cret";
  NatsClient client = join(*server, o);
  auto sub = client.subscribe("t", inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(client.flush(kWait).ok());

  ASSERT_TRUE(client.publish("t", "in").ok());

  EXPECT_TRUE(inbox.wait_for(1));
}

TEST_P(NatsClientTest, AWrongOrMissingTokenIsRefusedWithAClearMessage) {
  ServerSettings s;
  s.token = "s3cret";
  auto server = serve(s);
  ASSERT_TRUE(server);
  for (const char* token : {"guess", ""}) {
    NatsOptions o = options(*server);
    o.token = token;

    auto client = NatsClient::connect(o);

    ASSERT_FALSE(client.ok()) << "token '" << token << "'";
    EXPECT_EQ(client.error().message,
              "NATS refused the connection: authorization violation \u2014 check --nats-token / NATS_TOKEN");
    EXPECT_EQ(client.error().code, ErrorCode::Invalid);
  }
}

TEST_P(NatsClientTest, RetryingInTheBackgroundStillRefusesAWrongTokenAtOnceWhenTheServerIsUp) {
  ServerSettings s;
  s.token = "s3cret";
  auto server = serve(s);
  ASSERT_TRUE(server);
  NatsOptions o = options(*server);
  o.token = "guess";
  o.retry_initial_connect = true;  // as an agent that may start before its coordinator

  auto client = NatsClient::connect(o);

  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message,
            "NATS refused the connection: authorization violation \u2014 check --nats-token / NATS_TOKEN");
}

TEST_P(NatsClientTest, AWrongTokenMetAfterRetryingInTheBackgroundIsReported) {
  const std::uint16_t port = unused_port();
  ServerSettings s;
  s.token = "s3cret";
  ServerUnderTest server(GetParam(), s);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Error> errors;
  bool closed = false;
  NatsOptions o;
  o.urls = {"127.0.0.1:" + std::to_string(port)};
  o.token = "guess";
  o.retry_initial_connect = true;
  o.reconnect_wait = 100ms;
  o.on_error = [&](const Error& e) {
    std::lock_guard lock(mu);
    errors.push_back(e);
  };
  o.on_closed = [&] {
    std::lock_guard lock(mu);
    closed = true;
    cv.notify_all();
  };
  auto client = NatsClient::connect(o);  // nobody listens yet: retries in the background
  ASSERT_TRUE(client.ok()) << client.error().message;

  ASSERT_TRUE(server.start_on(port));

  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return closed; }));  // refused twice: libnats gives up
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "NATS refused the connection: authorization violation \u2014 check --nats-token / NATS_TOKEN");
}

TEST_P(NatsClientTest, APayloadAboveMaxPayloadIsRefusedNamingBothSizes) {
  ServerSettings s;
  s.max_payload = 4096;
  auto server = serve(s);
  ASSERT_TRUE(server);
  Inbox inbox;
  NatsClient client = join(*server);
  auto sub = client.subscribe("big", inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(client.flush(kWait).ok());
  ASSERT_EQ(client.max_payload(), 4096u);

  const Status refused = client.publish("big", std::string(4097, 'x'));
  const Status fits = client.publish("big", std::string(4096, 'y'));

  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::Invalid);
  EXPECT_NE(refused.error().message.find("message of 4097 bytes on 'big' exceeds the NATS server's max_payload of 4096 bytes"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().hint.find("nothing was sent"), std::string::npos);
  ASSERT_TRUE(fits.ok()) << fits.error().message;
  ASSERT_TRUE(inbox.wait_for(1));
  EXPECT_EQ(inbox.messages()[0].data, std::string(4096, 'y'));  // the refused one never arrived
  EXPECT_TRUE(client.connected());
}

TEST_P(NatsClientTest, ReconnectsAfterTheServerRestartsAndTheSubscriptionKeepsReceiving) {
  auto server = serve();
  ASSERT_TRUE(server);
  Inbox inbox;
  Events events;
  NatsOptions o = options(*server);
  events.attach(o);
  NatsClient client = join(*server, o);
  auto sub = client.subscribe("agents.shard", inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(client.flush(kWait).ok());
  ASSERT_TRUE(client.publish("agents.shard", "before").ok());
  ASSERT_TRUE(inbox.wait_for(1));

  server->kill();  // nats-server: SIGKILL; embedded: stop()
  ASSERT_TRUE(events.wait_disconnects(1));
  ASSERT_TRUE(server->restart());  // same port
  ASSERT_TRUE(events.wait_reconnects(1));
  ASSERT_TRUE(client.publish("agents.shard", "after").ok());

  ASSERT_TRUE(inbox.wait_for(2));
  EXPECT_EQ(inbox.messages()[1].data, "after");
}

TEST_P(NatsClientTest, IdleConnectionsAreKeptAliveByPingPongBothWays) {
  ServerSettings s;
  s.ping_interval = 250ms;  // two missed = 500 ms: room for a loaded machine
  auto server = serve(s);
  ASSERT_TRUE(server);
  Inbox inbox;
  Events server_pings, client_pings;
  // One client the server has to PING (its own pings are rare), one that PINGs the
  // server itself every 250 ms (which spares it the server's).
  NatsOptions answers = options(*server);
  answers.ping_interval = 60s;
  server_pings.attach(answers);
  NatsOptions asks = options(*server);
  asks.ping_interval = 250ms;
  client_pings.attach(asks);
  NatsClient pinged = join(*server, answers);
  NatsClient pinging = join(*server, asks);
  auto sub = pinged.subscribe("idle", inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(pinged.flush(kWait).ok());

  // Idle for 12 intervals: a side that stopped answering would have been dropped by the
  // server (after 2 missed PINGs) or given up by the client (after 2 missed PONGs).
  std::this_thread::sleep_for(3s);

  EXPECT_EQ(server_pings.disconnects(), 0);
  EXPECT_EQ(client_pings.disconnects(), 0);
  ASSERT_TRUE(pinging.publish("idle", "still here").ok());
  EXPECT_TRUE(inbox.wait_for(1));
  if (GetParam() == ServerKind::Embedded) {
    const auto c = server->broker().counters();
    EXPECT_GE(c.pings_sent, 2u);         // the server pinged the quiet client...
    EXPECT_EQ(c.stale_connections, 0u);  // ...and libnats answered every time
  }
}

TEST_P(NatsClientTest, AClientStartedBeforeItsServerConnectsWhenItComes) {
  const std::uint16_t port = unused_port();
  ServerUnderTest server(GetParam(), {});
  Inbox inbox;
  Events events;
  NatsOptions o;
  o.urls = {"127.0.0.1:" + std::to_string(port)};
  o.retry_initial_connect = true;
  o.reconnect_wait = 100ms;
  events.attach(o);
  auto early = NatsClient::connect(o);
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_FALSE(early->connected());
  auto sub = early->subscribe("shard.agent-0", inbox.handler());  // made while not connected
  ASSERT_TRUE(sub.ok()) << sub.error().message;

  ASSERT_TRUE(server.start_on(port));
  ASSERT_TRUE(events.wait_reconnects(1));
  ASSERT_TRUE(early->flush(kWait).ok());
  NatsClient coordinator = join(server);
  ASSERT_TRUE(coordinator.publish("shard.agent-0", "plan").ok());

  ASSERT_TRUE(inbox.wait_for(1));
  EXPECT_EQ(inbox.messages()[0].data, "plan");
}

INSTANTIATE_TEST_SUITE_P(BothServers, NatsClientTest, ::testing::Values(ServerKind::Embedded, ServerKind::NatsServer),
                         lp::testing::kind_name);

TEST(NatsClient, NoServerListeningIsAClearError) {
  NatsOptions o;
  o.urls = {"nats://127.0.0.1:" + std::to_string(unused_port())};
  o.connect_timeout = 1s;

  auto client = NatsClient::connect(o);

  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(client.error().message, "no NATS server answered at " + o.urls[0]);
  EXPECT_FALSE(client.error().hint.empty());
}

TEST(NatsClient, TlsUrlToAServerWithoutTlsSaysSo) {
  broker::Broker broker;
  broker::BrokerOptions bo;
  bo.log = [](std::string_view) {};
  ASSERT_TRUE(broker.start(bo).ok());
  NatsOptions o;
  o.urls = {"tls://127.0.0.1:" + std::to_string(broker.port())};

  auto client = NatsClient::connect(o);

  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message, "the NATS server at " + o.urls[0] + " does not offer TLS");
}

TEST(NatsClient, TlsUrlSpeaksTlsToNatsServer) {
  LP_SKIP_UNLESS_AVAILABLE(ServerKind::NatsServer);
  const auto dir = std::filesystem::temp_directory_path() / ("lp-nats-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                                "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert +
                                " >/dev/null 2>&1";
  if (std::system(make_cert.c_str()) != 0) GTEST_SKIP() << "openssl cannot make a test certificate here";
  lp::testing::NatsServerConfig c;
  c.tls_cert = cert;
  c.tls_key = key;
  lp::testing::NatsServerProcess server(c);
  ASSERT_TRUE(server.start()) << server.why();
  Inbox inbox;
  NatsOptions o;
  o.urls = {server.url()};  // tls://127.0.0.1:port
  o.tls_ca_file = cert;     // self-signed: it is its own CA

  auto client = NatsClient::connect(o);

  ASSERT_TRUE(client.ok()) << client.error().message;
  auto sub = client->subscribe("secure", inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(client->flush(kWait).ok());
  ASSERT_TRUE(client->publish("secure", "over tls").ok());
  EXPECT_TRUE(inbox.wait_for(1));
  NatsOptions plain = o;
  plain.urls = {"nats://127.0.0.1:" + std::to_string(server.port())};
  plain.tls_ca_file.clear();
  EXPECT_FALSE(NatsClient::connect(plain).ok());  // no CA to trust: the server's TLS is not skipped silently
  client->close();
  std::filesystem::remove_all(dir);
}

TEST(NatsUrls, NormalisesHostPortAndSchemes) {
  auto urls = normalize_nats_urls({"10.0.0.5:4222", "nats://coordinator", "tls://a:1,tls://b:2"});
  ASSERT_FALSE(urls.ok());  // tls and nats mixed
  EXPECT_NE(urls.error().message.find("mix tls:// and nats://"), std::string::npos);

  auto plain = normalize_nats_urls({"10.0.0.5:4222", " nats://coordinator ", "[::1]:5000"});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(*plain, (std::vector<std::string>{"nats://10.0.0.5:4222", "nats://coordinator:4222", "nats://[::1]:5000"}));
  auto tls = normalize_nats_urls({"tls://a:1,tls://b:2"});
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(*tls, (std::vector<std::string>{"tls://a:1", "tls://b:2"}));
}

TEST(NatsUrls, RejectsWhatIsNotAServerAddress) {
  for (const char* bad : {"http://a:1", "nats://user:pass@a:1", "a:99999", "a:", "nats://", "a:1/path"}) {
    auto urls = normalize_nats_urls({bad});
    ASSERT_FALSE(urls.ok()) << bad;
    EXPECT_EQ(urls.error().code, ErrorCode::Invalid);
    EXPECT_NE(urls.error().message.find(bad), std::string::npos) << urls.error().message;
  }
}

}  // namespace
}  // namespace lp::cluster
