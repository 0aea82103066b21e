// The embedded broker's own API and the behaviour only it has (nats-server differs or
// has no equivalent): start/stop/restart, counters, bind checks, the open-port warning.
// What both servers share is in conformance_test.cpp.

#include "broker/broker.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "broker/raw_client.hpp"

namespace lp::broker {
namespace {

using lp::testing::RawClient;

// Log lines a broker wrote, for checks.
struct CapturedLog {
  std::mutex mu;
  std::vector<std::string> lines;

  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mu);
      lines.emplace_back(line);
    };
  }
  bool contains(const std::string& text) {
    std::lock_guard lock(mu);
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

BrokerOptions loopback(CapturedLog& log) {
  BrokerOptions o;
  o.bind_addr = "127.0.0.1";
  o.log = log.sink();
  return o;
}

void handshake(RawClient& c, const std::string& json = R"({"verbose":false,"pedantic":false})") {
  ASSERT_FALSE(c.info().empty());
  c.send("CONNECT " + json + "\r\nPING\r\n");
  ASSERT_EQ(c.line(), "PONG\r\n");
}

TEST(Broker, PicksAFreePortAndStopsCleanly) {
  CapturedLog log;
  Broker broker;

  ASSERT_TRUE(broker.start(loopback(log)).ok());

  EXPECT_TRUE(broker.running());
  EXPECT_NE(broker.port(), 0);
  EXPECT_EQ(broker.url(), "nats://127.0.0.1:" + std::to_string(broker.port()));
  RawClient c(broker.port());
  handshake(c);
  broker.stop();
  EXPECT_FALSE(broker.running());
  EXPECT_EQ(broker.port(), 0);
  EXPECT_TRUE(c.closed_by_server());
  broker.stop();  // idempotent
}

TEST(Broker, StartsAgainOnTheSamePort) {
  CapturedLog log;
  Broker broker;
  ASSERT_TRUE(broker.start(loopback(log)).ok());
  const std::uint16_t port = broker.port();
  RawClient before(port);
  handshake(before);
  broker.stop();

  BrokerOptions again = loopback(log);
  again.port = port;
  ASSERT_TRUE(broker.start(again).ok());

  EXPECT_EQ(broker.port(), port);
  RawClient after(port);
  handshake(after);
}

TEST(Broker, RefusesAPortInUseNamingIt) {
  CapturedLog log;
  Broker first;
  ASSERT_TRUE(first.start(loopback(log)).ok());
  BrokerOptions same = loopback(log);
  same.port = first.port();
  Broker second;

  const Status started = second.start(same);

  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::Unavailable);
  EXPECT_NE(started.error().message.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos);
  EXPECT_NE(started.error().message.find("in use"), std::string::npos);
  EXPECT_FALSE(started.error().hint.empty());
}

TEST(Broker, ListsEveryInvalidOptionAtOnce) {
  BrokerOptions o;
  o.bind_addr = "localhost";
  o.max_payload = 2 * 1024 * 1024;
  o.max_pending_bytes = 1024 * 1024;
  o.ping_interval = std::chrono::milliseconds(0);
  Broker broker;

  const Status started = broker.start(o);

  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::Invalid);
  const std::string& m = started.error().message;
  EXPECT_NE(m.find("'localhost' is not an IPv4 or IPv6 address"), std::string::npos) << m;
  EXPECT_NE(m.find("max_pending_bytes (1048576) must be at least max_payload (2097152)"), std::string::npos) << m;
  EXPECT_NE(m.find("ping_interval must be > 0"), std::string::npos) << m;
  EXPECT_FALSE(broker.running());
}

TEST(Broker, WarnsThatAnOpenPortWithoutATokenLetsAnyoneJoin) {
  CapturedLog open_log, token_log, loopback_log;
  Broker open, with_token, local;
  BrokerOptions o = loopback(open_log);
  o.bind_addr = "0.0.0.0";
  BrokerOptions t = loopback(token_log);
  t.bind_addr = "0.0.0.0";
  t.token = "s3cret";

  ASSERT_TRUE(open.start(o).ok());
  ASSERT_TRUE(with_token.start(t).ok());
  ASSERT_TRUE(local.start(loopback(loopback_log)).ok());

  EXPECT_TRUE(open_log.contains("without a token: anyone who can reach this port can join"));
  EXPECT_TRUE(open_log.contains("0.0.0.0:" + std::to_string(open.port())));
  EXPECT_FALSE(token_log.contains("without a token"));
  EXPECT_FALSE(loopback_log.contains("without a token"));
  EXPECT_EQ(open.url(), "nats://127.0.0.1:" + std::to_string(open.port()));  // a wildcard bind is dialled on loopback
}

TEST(Broker, InfoOnAWildcardBindAdvertisesNoConnectUrls) {
  CapturedLog log;
  Broker broker;
  BrokerOptions o = loopback(log);
  o.bind_addr = "0.0.0.0";
  o.token = "s3cret";
  ASSERT_TRUE(broker.start(o).ok());
  RawClient c(broker.port());

  const auto info = nlohmann::json::parse(c.info());

  EXPECT_FALSE(info.contains("connect_urls"));  // clients would add 0.0.0.0 to their pool
  EXPECT_EQ(info["auth_required"], true);
  EXPECT_EQ(info["port"], broker.port());
}

TEST(Broker, CountsClientsMessagesAndSubscriptions) {
  CapturedLog log;
  Broker broker;
  ASSERT_TRUE(broker.start(loopback(log)).ok());
  RawClient sub(broker.port()), pub(broker.port());
  handshake(sub);
  handshake(pub);
  sub.send("SUB a.* 1\r\nSUB a.b 2\r\nPING\r\n");
  ASSERT_EQ(sub.line(), "PONG\r\n");

  pub.send("PUB a.b 3\r\nabc\r\nPUB z 1\r\nx\r\nPING\r\n");
  ASSERT_EQ(pub.line(), "PONG\r\n");

  const BrokerCounters c = broker.counters();
  EXPECT_EQ(c.clients, 2u);
  EXPECT_EQ(c.connections_total, 2u);
  EXPECT_EQ(c.messages_in, 2u);
  EXPECT_EQ(c.bytes_in, 4u);
  EXPECT_EQ(c.messages_out, 2u);  // one per matching subscription
  EXPECT_EQ(c.bytes_out, 6u);
  EXPECT_EQ(c.subscriptions, 2u);
  sub.close();
  pub.send("PING\r\n");
  ASSERT_EQ(pub.line(), "PONG\r\n");
  for (int i = 0; i < 500 && broker.counters().clients != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(broker.counters().clients, 1u);
  EXPECT_EQ(broker.counters().subscriptions, 0u);
}

TEST(Broker, ControlLineAboveTheLimitIsAnError) {
  CapturedLog log;
  Broker broker;
  ASSERT_TRUE(broker.start(loopback(log)).ok());
  RawClient c(broker.port());
  handshake(c);

  c.send("SUB " + std::string(5000, 'a') + " 1\r\n");

  EXPECT_EQ(c.line(), "-ERR 'Maximum Control Line Exceeded'\r\n");
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(broker.counters().protocol_errors, 1u);
}

TEST(Broker, ConnectThatIsNotJsonIsAnError) {
  CapturedLog log;
  Broker broker;
  ASSERT_TRUE(broker.start(loopback(log)).ok());
  RawClient c(broker.port());
  ASSERT_FALSE(c.info().empty());

  c.send("CONNECT {verbose\r\n");

  EXPECT_EQ(c.line(), "-ERR 'Unknown Protocol Operation'\r\n");
  EXPECT_TRUE(c.closed_by_server());
}

TEST(Broker, HeaderPublishFromAClientWithoutHeadersIsAnError) {
  CapturedLog log;
  Broker broker;
  ASSERT_TRUE(broker.start(loopback(log)).ok());
  RawClient c(broker.port());
  handshake(c);

  c.send("HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n");

  EXPECT_EQ(c.line(), "-ERR 'Unknown Protocol Operation'\r\n");
  EXPECT_TRUE(c.closed_by_server());
}

TEST(Broker, WithATokenAClientThatNeverSendsConnectIsDropped) {
  CapturedLog log;
  Broker broker;
  BrokerOptions o = loopback(log);
  o.token = "s3cret";
  o.auth_timeout = std::chrono::milliseconds(100);
  ASSERT_TRUE(broker.start(o).ok());
  RawClient c(broker.port());
  ASSERT_FALSE(c.info().empty());

  // Silent from here.

  EXPECT_EQ(c.line(), "-ERR 'Authentication Timeout'\r\n");
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(broker.counters().auth_failures, 1u);
  EXPECT_TRUE(log.contains("authentication timeout: client 1"));
}

TEST(Broker, NoPingBeforeConnectButASilentClientIsStillDropped) {
  CapturedLog log;
  Broker broker;
  BrokerOptions o = loopback(log);
  o.ping_interval = std::chrono::milliseconds(50);
  ASSERT_TRUE(broker.start(o).ok());
  RawClient c(broker.port());
  ASSERT_FALSE(c.info().empty());

  // Never sends CONNECT: no PING may come first (it has broken clients mid-handshake).

  EXPECT_EQ(c.line(), "-ERR 'Stale Connection'\r\n");
  EXPECT_TRUE(c.closed_by_server());
}

TEST(Broker, StaleClientsAreCountedAndLogged) {
  CapturedLog log;
  Broker broker;
  BrokerOptions o = loopback(log);
  o.ping_interval = std::chrono::milliseconds(50);
  ASSERT_TRUE(broker.start(o).ok());
  RawClient c(broker.port());
  handshake(c);

  ASSERT_TRUE(c.closed_by_server());

  EXPECT_EQ(broker.counters().stale_connections, 1u);
  EXPECT_TRUE(log.contains("stale connection: client 1 127.0.0.1:"));
}

}  // namespace
}  // namespace lp::broker
