// The client protocol, byte for byte, against the embedded broker AND a real
// nats-server: each test runs once per server (TEST_P), so the two are shown to answer
// the same, not claimed to. Clients here are raw sockets (raw_client.hpp).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "broker/raw_client.hpp"
#include "broker/server_under_test.hpp"

namespace lp::testing {
namespace {

constexpr const char* kQuiet = R"({"verbose":false,"pedantic":false})";

class Conformance : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override { LP_SKIP_UNLESS_AVAILABLE(GetParam()); }

  // A started server; the test fails (and stops) if it cannot start.
  std::unique_ptr<ServerUnderTest> serve(ServerSettings settings = {}) {
    auto server = std::make_unique<ServerUnderTest>(GetParam(), std::move(settings));
    if (!server->start()) return nullptr;
    return server;
  }

  // A client past the handshake: INFO read, CONNECT sent, PONG received.
  std::unique_ptr<RawClient> join(const ServerUnderTest& server, const std::string& connect_json = kQuiet) {
    auto c = std::make_unique<RawClient>(server.port());
    EXPECT_TRUE(c->connected());
    EXPECT_FALSE(c->info().empty());
    c->send("CONNECT " + connect_json + "\r\nPING\r\n");
    EXPECT_EQ(c->line(), "PONG\r\n");
    return c;
  }

  // Everything the server sends `c` up to the PONG answering a PING sent now: the
  // server has then handled everything `c` sent before. A PING from the server on the
  // way is answered and left out (nats-server PINGs new clients early to measure RTT).
  std::vector<std::string> until_pong(RawClient& c) {
    c.send("PING\r\n");
    std::vector<std::string> lines;
    for (int i = 0; i < 100000; ++i) {
      auto l = c.line();
      if (!l) {
        lines.push_back("<timeout or closed>");
        break;
      }
      if (*l == "PONG\r\n") break;
      if (*l == "PING\r\n") {
        c.send("PONG\r\n");
        continue;
      }
      lines.push_back(*l);
    }
    return lines;
  }
};

TEST_P(Conformance, InfoComesFirstWithTheFieldsClientsNeed) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawClient c(server->port());

  const std::string info = c.info();

  ASSERT_FALSE(info.empty());
  const auto doc = nlohmann::json::parse(info);
  EXPECT_TRUE(doc["server_id"].is_string());
  EXPECT_TRUE(doc["version"].is_string());
  EXPECT_EQ(doc["proto"], 1);
  EXPECT_TRUE(doc["host"].is_string());
  EXPECT_EQ(doc["port"], server->port());
  EXPECT_EQ(doc["headers"], true);
  EXPECT_EQ(doc["max_payload"], 1024 * 1024);
  EXPECT_TRUE(doc["client_id"].is_number_unsigned());
  EXPECT_FALSE(doc.contains("auth_required"));
  if (doc.contains("connect_urls")) {
    for (const auto& u : doc["connect_urls"]) EXPECT_EQ(u.get<std::string>().find("0.0.0.0"), std::string::npos);
  }
}

TEST_P(Conformance, PongAnswersConnectAndPingWithoutOkWhenNotVerbose) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_FALSE(c.info().empty());

  c.send("CONNECT {\"verbose\":false}\r\nPING\r\n");

  EXPECT_EQ(c.line(), "PONG\r\n");
  c.send("SUB a 1\r\nPUB b 1\r\nx\r\nUNSUB 1\r\n");
  EXPECT_EQ(until_pong(c), std::vector<std::string>{});
}

TEST_P(Conformance, VerboseClientsGetOkAfterEachOperationButPing) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_FALSE(c.info().empty());

  c.send("CONNECT {\"verbose\":true,\"pedantic\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nUNSUB 1\r\nPING\r\n");

  EXPECT_EQ(c.line(), "+OK\r\n");  // CONNECT
  EXPECT_EQ(c.line(), "+OK\r\n");  // SUB
  EXPECT_EQ(c.line(), "+OK\r\n");  // PUB, before the message it routes
  EXPECT_EQ(c.line(), "MSG a 1 2\r\n");
  EXPECT_EQ(c.line(), "hi\r\n");
  EXPECT_EQ(c.line(), "+OK\r\n");  // UNSUB
  EXPECT_EQ(c.line(), "PONG\r\n");
}

TEST_P(Conformance, UnknownOperationIsAnErrorThenTheConnectionCloses) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto c = join(*server);

  c->send("FOO bar\r\n");

  EXPECT_EQ(c->line(), "-ERR 'Unknown Protocol Operation'\r\n");
  EXPECT_TRUE(c->closed_by_server());
}

TEST_P(Conformance, PayloadAboveMaxPayloadIsRefusedAtItsControlLine) {
  ServerSettings s;
  s.max_payload = 1024;
  auto server = serve(s);
  ASSERT_TRUE(server);
  auto c = join(*server);
  c->send("SUB a 1\r\nPUB a 1024\r\n" + std::string(1024, 'x') + "\r\n");
  ASSERT_EQ(until_pong(*c), (std::vector<std::string>{"MSG a 1 1024\r\n", std::string(1024, 'x') + "\r\n"}));

  c->send("PUB a 1025\r\n");

  EXPECT_EQ(c->line(), "-ERR 'Maximum Payload Violation'\r\n");
  EXPECT_TRUE(c->closed_by_server());
}

TEST_P(Conformance, PayloadIsReadByByteCountAndTheReplyIsNotTheSize) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto c = join(*server);

  c->send("SUB a 1\r\nPUB a 42 9\r\nx\r\nPING\r\n\r\n");

  EXPECT_EQ(c->line(), "MSG a 1 42 9\r\n");
  EXPECT_EQ(c->bytes(11), "x\r\nPING\r\n\r\n");
  EXPECT_EQ(until_pong(*c), std::vector<std::string>{});
}

TEST_P(Conformance, WildcardsMatchTokensAndFullWildcardNeedsOneMore) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto c = join(*server);
  c->send("SUB a.> 1\r\nSUB a.* 2\r\nSUB a 3\r\nSUB *.b 4\r\n");

  auto deliveries = [&](const std::string& subject) {
    c->send("PUB " + subject + " 0\r\n\r\n");
    std::set<std::string> sids;
    const auto lines = until_pong(*c);
    for (std::size_t i = 0; i + 1 < lines.size(); i += 2) sids.insert(lines[i]);
    return sids;
  };

  EXPECT_EQ(deliveries("a"), (std::set<std::string>{"MSG a 3 0\r\n"}));
  EXPECT_EQ(deliveries("a.b"), (std::set<std::string>{"MSG a.b 1 0\r\n", "MSG a.b 2 0\r\n", "MSG a.b 4 0\r\n"}));
  EXPECT_EQ(deliveries("a.b.c"), (std::set<std::string>{"MSG a.b.c 1 0\r\n"}));
}

TEST_P(Conformance, UnsubWithMaxStopsAfterThatManyMessages) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto c = join(*server);
  c->send("SUB a 1\r\nPUB a 1\r\n1\r\nUNSUB 1 3\r\n");

  c->send("PUB a 1\r\n2\r\nPUB a 1\r\n3\r\nPUB a 1\r\n4\r\n");

  // The message before UNSUB counts toward the 3.
  EXPECT_EQ(until_pong(*c), (std::vector<std::string>{"MSG a 1 1\r\n", "1\r\n", "MSG a 1 1\r\n", "2\r\n",
                                                      "MSG a 1 1\r\n", "3\r\n"}));
}

TEST_P(Conformance, EachQueueGroupMessageGoesToOneMemberSpreadAcrossThem) {
  auto server = serve();
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<RawClient>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(join(*server));
    members.back()->send("SUB jobs workers " + std::to_string(i + 1) + "\r\n");
    until_pong(*members.back());
  }
  auto plain = join(*server);
  plain->send("SUB jobs 9\r\n");
  until_pong(*plain);
  auto publisher = join(*server);
  constexpr int kMessages = 300;

  std::string burst;
  for (int i = 0; i < kMessages; ++i) burst += "PUB jobs 1\r\nx\r\n";
  publisher->send(burst);
  until_pong(*publisher);

  int total = 0;
  for (auto& m : members) {
    const int got = static_cast<int>(until_pong(*m).size() / 2);
    EXPECT_GE(got, kMessages / 6) << "a member was starved";  // expected 100 each
    total += got;
  }
  EXPECT_EQ(total, kMessages);  // each message once across the group
  EXPECT_EQ(until_pong(*plain).size() / 2, static_cast<std::size_t>(kMessages));  // plain subscribers get all
}

TEST_P(Conformance, HeadersReachHeaderClientsAndAreStrippedForOthers) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto with = join(*server, R"({"verbose":false,"pedantic":false,"headers":true})");
  auto without = join(*server);
  with->send("SUB h 1\r\n");
  without->send("SUB h 2\r\n");
  until_pong(*with);
  until_pong(*without);

  with->send("HPUB h r 19 21\r\nNATS/1.0\r\nK: v1\r\n\r\nhi\r\n");

  EXPECT_EQ(until_pong(*with), (std::vector<std::string>{"HMSG h 1 r 19 21\r\n", "NATS/1.0\r\n", "K: v1\r\n", "\r\n", "hi\r\n"}));
  EXPECT_EQ(until_pong(*without), (std::vector<std::string>{"MSG h 2 r 2\r\n", "hi\r\n"}));
}

TEST_P(Conformance, RequestWithNoRespondersGetsA503OnItsInbox) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto c = join(*server, R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true})");

  c->send("SUB _INBOX.x.* 9\r\nPUB nobody.home _INBOX.x.1 0\r\n\r\n");

  EXPECT_EQ(c->line(), "HMSG _INBOX.x.1 9 16 16\r\n");
  EXPECT_EQ(c->bytes(18), "NATS/1.0 503\r\n\r\n\r\n");
  EXPECT_EQ(until_pong(*c), std::vector<std::string>{});
}

TEST_P(Conformance, ServerDropsAClientThatMissesTwoPings) {
  ServerSettings s;
  s.ping_interval = std::chrono::milliseconds(100);
  auto server = serve(s);
  ASSERT_TRUE(server);
  auto c = join(*server);

  // The client stays silent from now on.

  EXPECT_EQ(c->line(), "PING\r\n");
  EXPECT_EQ(c->line(), "PING\r\n");
  EXPECT_EQ(c->line(), "-ERR 'Stale Connection'\r\n");
  EXPECT_TRUE(c->closed_by_server());
}

TEST_P(Conformance, AClientThatAnswersPingsStaysConnected) {
  ServerSettings s;
  s.ping_interval = std::chrono::milliseconds(100);
  auto server = serve(s);
  ASSERT_TRUE(server);
  auto c = join(*server);

  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(c->line(), "PING\r\n") << "ping " << i;
    c->send("PONG\r\n");
  }

  EXPECT_EQ(until_pong(*c), std::vector<std::string>{});
}

TEST_P(Conformance, SlowConsumerIsDroppedWhileThePublisherGoesOn) {
  ServerSettings s;
  s.max_pending = 256 * 1024;
  s.max_payload = 64 * 1024;  // a server refuses max_pending below max_payload
  auto server = serve(s);
  ASSERT_TRUE(server);
  auto slow = std::make_unique<RawClient>(server->port(), 64 * 1024);
  ASSERT_FALSE(slow->info().empty());
  slow->send(std::string("CONNECT ") + kQuiet + "\r\nSUB big 1\r\nPING\r\n");
  ASSERT_EQ(slow->line(), "PONG\r\n");
  auto publisher = join(*server);

  // 32 MiB for a reader that reads nothing: far beyond the limit plus what the kernel
  // buffers on loopback.
  const std::string message = "PUB big 32768\r\n" + std::string(32768, 'x') + "\r\n";
  std::string chunk;
  for (int i = 0; i < 32; ++i) chunk += message;
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(publisher->send(chunk));

  EXPECT_EQ(until_pong(*publisher), std::vector<std::string>{});  // never blocked on the slow one
  EXPECT_TRUE(slow->closed_by_server(std::chrono::seconds(20)));
  if (GetParam() == ServerKind::Embedded) {
    EXPECT_EQ(server->broker().counters().slow_consumers, 1u);
    bool logged = false;
    for (const auto& line : server->log_lines()) logged |= line.find("slow consumer: client") != std::string::npos;
    EXPECT_TRUE(logged);
  }
}

TEST_P(Conformance, WrongOrMissingTokenIsAnAuthorizationViolation) {
  ServerSettings s;
  s.token = "s3cret";
  auto server = serve(s);
  ASSERT_TRUE(server);

  RawClient wrong(server->port());
  const auto info = nlohmann::json::parse(wrong.info());
  EXPECT_EQ(info["auth_required"], true);
  wrong.send(R"(CONNECT {"verbose":false,"auth_token":"guess"})" "\r\nPING\r\n");
  EXPECT_EQ(wrong.line(), "-ERR 'Authorization Violation'\r\n");
  EXPECT_TRUE(wrong.closed_by_server());

  RawClient early(server->port());
  ASSERT_FALSE(early.info().empty());
  early.send("SUB a 1\r\n");
  EXPECT_EQ(early.line(), "-ERR 'Authorization Violation'\r\n");
  EXPECT_TRUE(early.closed_by_server());

  auto right = join(*server, R"({"verbose":false,"pedantic":false,"auth_token":"s3cret"})");
  EXPECT_EQ(until_pong(*right), std::vector<std::string>{});
}

TEST_P(Conformance, InvalidSubjectsAreRefusedAndTheConnectionStays) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto c = join(*server, R"({"verbose":false,"pedantic":true})");

  c->send("SUB a..b 1\r\nSUB a.>.b 2\r\nPUB a.* 1\r\nx\r\n");

  EXPECT_EQ(until_pong(*c), (std::vector<std::string>{"-ERR 'Invalid Subject'\r\n", "-ERR 'Invalid Subject'\r\n",
                                                      "-ERR 'Invalid Publish Subject'\r\n"}));
}

TEST_P(Conformance, EchoOffKeepsAClientsOwnMessagesFromIt) {
  auto server = serve();
  ASSERT_TRUE(server);
  auto quiet = join(*server, R"({"verbose":false,"pedantic":false,"echo":false})");
  auto other = join(*server);
  quiet->send("SUB e 1\r\n");
  other->send("SUB e 1\r\n");
  until_pong(*quiet);
  until_pong(*other);

  quiet->send("PUB e 1\r\nx\r\n");

  EXPECT_EQ(until_pong(*quiet), std::vector<std::string>{});
  EXPECT_EQ(until_pong(*other), (std::vector<std::string>{"MSG e 1 1\r\n", "x\r\n"}));
}

INSTANTIATE_TEST_SUITE_P(BothServers, Conformance, ::testing::Values(ServerKind::Embedded, ServerKind::NatsServer),
                         kind_name);

}  // namespace
}  // namespace lp::testing
