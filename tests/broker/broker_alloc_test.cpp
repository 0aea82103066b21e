// The broker's loop allocates nothing per message once warmed up: parsing a PUB,
// matching it and queueing the MSG reuse buffers that already have the capacity.
// Links tests/support/counting_new.cpp, which counts only on threads that opt in.

#include <gtest/gtest.h>

#include <string>

#include "broker/broker.hpp"
#include "broker/protocol_parser.hpp"
#include "broker/raw_client.hpp"
#include "support/counting_new.hpp"

namespace lp::broker {
namespace {

using lp::testing::RawClient;

// Sends `count` publishes (some split across reads, like a real stream) and reads every
// delivery back, so buffers are used the way a live subscriber uses them.
void pump(RawClient& publisher, RawClient& subscriber, int count) {
  const std::string message = "PUB loadpilot.metrics.agent-7 _INBOX.r.1 64\r\n" + std::string(64, 'm') + "\r\n";
  const std::string delivery = "MSG loadpilot.metrics.agent-7 1 _INBOX.r.1 64\r\n" + std::string(64, 'm') + "\r\n";
  for (int sent = 0; sent < count; sent += 100) {
    std::string burst;
    for (int i = 0; i < 100; ++i) burst += message;
    ASSERT_TRUE(publisher.send(burst.substr(0, 1000)));
    ASSERT_TRUE(publisher.send(burst.substr(1000)));
    for (int i = 0; i < 100; ++i) ASSERT_EQ(subscriber.bytes(delivery.size()), delivery);
  }
}

TEST(BrokerAllocations, SteadyStateRoutingDoesNotAllocate) {
  Broker broker;
  BrokerOptions o;
  o.log = [](std::string_view) {};
  o.thread_init = [] { lp::testing::count_here = true; };
  ASSERT_TRUE(broker.start(o).ok());
  RawClient subscriber(broker.port()), publisher(broker.port());
  for (RawClient* c : {&subscriber, &publisher}) {
    ASSERT_FALSE(c->info().empty());
    c->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n");
    ASSERT_EQ(c->line(), "PONG\r\n");
  }
  subscriber.send("SUB loadpilot.metrics.* 1\r\nPING\r\n");
  ASSERT_EQ(subscriber.line(), "PONG\r\n");
  pump(publisher, subscriber, 20'000);  // warm up: buffers reach their working size

  const auto before = lp::testing::allocations.load();
  pump(publisher, subscriber, 20'000);
  const auto after = lp::testing::allocations.load();

  EXPECT_EQ(after - before, 0u);
  EXPECT_EQ(broker.counters().messages_out, 40'000u);
}

TEST(BrokerAllocations, ParserDoesNotAllocatePerOperation) {
  ProtocolParser parser;
  const std::string stream = "PUB a.b r 5\r\nhello\r\nSUB a.* q 1\r\nPING\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
  auto feed_all = [&](std::size_t cut) {
    // Two pieces, so both the in-place and the copying paths run.
    for (auto [at, n] : {std::pair<std::size_t, std::size_t>{0, cut}, {cut, stream.size() - cut}}) {
      std::size_t off = 0;
      while (off < n) off += parser.feed(stream.data() + at + off, n - off).consumed;
    }
  };
  for (std::size_t cut = 1; cut < stream.size(); ++cut) feed_all(cut);  // warm up

  lp::testing::count_here = true;
  const auto before = lp::testing::allocations.load();
  for (int round = 0; round < 100; ++round) {
    for (std::size_t cut = 1; cut < stream.size(); ++cut) feed_all(cut);
  }
  const auto after = lp::testing::allocations.load();
  lp::testing::count_here = false;

  EXPECT_EQ(after - before, 0u);
}

}  // namespace
}  // namespace lp::broker
