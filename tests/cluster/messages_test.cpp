#include "cluster/messages.hpp"

#include <gtest/gtest.h>

namespace lp::cluster {
namespace {

core::Plan small_plan() {
  core::Plan p;
  p.name = "shop";
  p.rps = 3.5;
  p.duration_secs = 10;
  p.ramp_up_secs = 0;
  p.mode = core::Mode::Constant;
  p.target_url = "http://127.0.0.1:8000";
  core::Task t;
  t.name = "browse";
  t.url = "/api/products";
  p.tasks.push_back(t);
  core::VUserConfig u;
  u.task_headers["browse"] = {{"Authorization", "Bearer abc"}};
  u.task_urls["browse"] = "/api/v1/projects/7";
  p.vuser_configs = {u, u};
  return p;
}

TEST(Messages, SubjectsAreThePrefixedNames) {
  EXPECT_EQ(subject::register_all(), "loadpilot.register");
  EXPECT_EQ(subject::clock("agent-0"), "loadpilot.clock.agent-0");
  EXPECT_EQ(subject::shard("agent-0"), "loadpilot.shard.agent-0");
  EXPECT_EQ(subject::control("agent-0"), "loadpilot.control.agent-0");
  EXPECT_EQ(subject::control_all(), "loadpilot.control");
  EXPECT_EQ(subject::release("agent-0"), "loadpilot.release.agent-0");
  EXPECT_EQ(subject::metrics("agent-0"), "loadpilot.metrics.agent-0");
  EXPECT_EQ(subject::metrics_all(), "loadpilot.metrics.*");
}

TEST(Messages, AgentIdsMustBeOneSubjectToken) {
  EXPECT_TRUE(validate_agent_id("agent-0").ok());
  EXPECT_TRUE(validate_agent_id("host_1-123").ok());
  for (const std::string& bad : {std::string(), std::string("a.b"), std::string("a b"), std::string("a*"),
                                 std::string("a>"), std::string(129, 'x')}) {
    auto s = validate_agent_id(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().hint.find("--agent-id"), std::string::npos);
  }
}

TEST(Messages, ARegistrationRoundTrips) {
  Registration r{"agent-3", 0xFEEDFACECAFEBEEFULL, "0.1.0", "box", 4242, metrics::AgentState::Paused, "run1", "oops"};

  auto got = decode_registration(encode(r));

  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, r);
}

TEST(Messages, AShardRoundTripsWithItsPlanAndTimes) {
  Shard s{"7f3a", small_plan(), 4, {{1, 0}, {3, 1234}}, 1'764'000'000'123.456789, 1'764'000'003'123.25};

  auto got = decode_shard(encode(s));

  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, s);
  // The times travel exactly: agent and coordinator compute the lease's index from them.
  EXPECT_EQ(got->start_at_unix_ms, s.start_at_unix_ms);
  EXPECT_EQ(got->lease_until_unix_ms, s.lease_until_unix_ms);
}

TEST(Messages, AShardWithAnInvalidPlanListsItsProblems) {
  Shard s{"7f3a", small_plan(), 1, {{0, 0}}, 1, 2};
  s.plan.rps = 0;

  auto got = decode_shard(encode(s));

  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("rps must be > 0"), std::string::npos) << got.error().message;
}

TEST(Messages, AShardSlotOutsideTheSlotCountIsRefused) {
  Shard s{"7f3a", small_plan(), 2, {{2, 0}}, 1, 2};

  auto got = decode_shard(encode(s));

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "shard: slot 2 of 2");
}

TEST(Messages, ControlMessagesRoundTrip) {
  for (const Control& c : {Control{"r", Control::Type::Lease, 1'764'000'000'999.5, 0, 0},
                           Control{"r", Control::Type::Adopt, 0, 3, 987'654'321'012ULL},
                           Control{"r", Control::Type::Stop, 0, 0, 0}}) {
    auto got = decode_control(encode(c));
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, c);
  }
}

TEST(Messages, AnUnknownControlTypeIsNamed) {
  auto got = decode_control(R"({"run_id":"r","type":"pause"})");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "control message: unknown type 'pause' (lease, adopt or stop)");
}

TEST(Messages, ReleaseRequestAndReplyRoundTrip) {
  ReleaseRequest q{"r", 5};
  ReleaseReply held{"r", 5, 4321, ""};
  ReleaseReply not_held{"r", 5, std::nullopt, "not in run r"};

  EXPECT_EQ(*decode_release_request(encode(q)), q);
  EXPECT_EQ(*decode_release_reply(encode(held)), held);
  EXPECT_EQ(*decode_release_reply(encode(not_held)), not_held);
}

TEST(Messages, AClockReplyCarriesTheAgentsTime) {
  auto got = decode_clock_reply(encode_clock_reply(1'764'000'000'000.125));

  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 1'764'000'000'000.125);
}

TEST(Messages, AMissingFieldIsNamed) {
  auto got = decode_registration(R"({"agent_id":"a","state":"idle"})");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "registration: 'instance' is missing");
}

TEST(Messages, AFieldOfTheWrongTypeIsNamed) {
  auto got = decode_release_request(R"({"run_id":"r","slot":"one"})");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "release request: 'slot' must be a non-negative integer");
}

TEST(Messages, NotJsonIsRefused) {
  auto got = decode_shard("not json");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "shard is not a JSON object");
}

}  // namespace
}  // namespace lp::cluster
