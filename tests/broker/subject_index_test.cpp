#include "broker/subject_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lp::broker {
namespace {

// An index with subscriptions named by their sid, and the sids a subject reaches.
class Index {
 public:
  Subscription* add(const std::string& subject, const std::string& sid) {
    auto sub = std::make_unique<Subscription>();
    sub->subject = subject;
    sub->sid = sid;
    index.insert(sub.get());
    subs.push_back(std::move(sub));
    return subs.back().get();
  }

  std::multiset<std::string> reached(const std::string& subject) const {
    std::vector<Subscription*> out;
    index.match(subject, out);
    std::multiset<std::string> sids;
    for (auto* s : out) sids.insert(s->sid);
    return sids;
  }

  SubjectIndex index;
  std::vector<std::unique_ptr<Subscription>> subs;
};

using Sids = std::multiset<std::string>;

TEST(SubjectIndex, LiteralMatchesOnlyItself) {
  Index ix;
  ix.add("a.b", "1");

  EXPECT_EQ(ix.reached("a.b"), Sids{"1"});
  EXPECT_EQ(ix.reached("a"), Sids{});
  EXPECT_EQ(ix.reached("a.b.c"), Sids{});
  EXPECT_EQ(ix.reached("a.bc"), Sids{});
}

TEST(SubjectIndex, StarMatchesExactlyOneToken) {
  Index ix;
  ix.add("a.*", "1");
  ix.add("*.b", "2");
  ix.add("*", "3");

  EXPECT_EQ(ix.reached("a.b"), (Sids{"1", "2"}));
  EXPECT_EQ(ix.reached("a.c"), Sids{"1"});
  EXPECT_EQ(ix.reached("a"), Sids{"3"});
  EXPECT_EQ(ix.reached("a.b.c"), Sids{});
}

TEST(SubjectIndex, FullWildcardMatchesOneOrMoreTokensNeverNone) {
  Index ix;
  ix.add("a.>", "1");
  ix.add(">", "2");

  EXPECT_EQ(ix.reached("a.b"), (Sids{"1", "2"}));
  EXPECT_EQ(ix.reached("a.b.c"), (Sids{"1", "2"}));
  EXPECT_EQ(ix.reached("a"), Sids{"2"});  // `a.>` does not match `a`
  EXPECT_EQ(ix.reached("b.a"), Sids{"2"});
}

TEST(SubjectIndex, MixedWildcardsAndRepeatedPatterns) {
  Index ix;
  ix.add("loadpilot.metrics.*", "coordinator");
  ix.add("loadpilot.*.agent-1", "star");
  ix.add("loadpilot.metrics.agent-1", "literal");
  ix.add("loadpilot.metrics.agent-1", "literal-again");
  ix.add("*.*.>", "deep");

  EXPECT_EQ(ix.reached("loadpilot.metrics.agent-1"),
            (Sids{"coordinator", "star", "literal", "literal-again", "deep"}));
  EXPECT_EQ(ix.reached("loadpilot.metrics.agent-1.x"), Sids{"deep"});
  EXPECT_EQ(ix.reached("loadpilot.shard.agent-1"), (Sids{"star", "deep"}));
  EXPECT_EQ(ix.reached("loadpilot.shard"), Sids{});
}

TEST(SubjectIndex, TokensThatOnlyContainWildcardCharactersAreLiteral) {
  Index ix;
  ix.add("a.b*", "1");

  EXPECT_EQ(ix.reached("a.b*"), Sids{"1"});
  EXPECT_EQ(ix.reached("a.bc"), Sids{});
}

TEST(SubjectIndex, RemovedSubscriptionsNoLongerMatch) {
  Index ix;
  Subscription* literal = ix.add("a.b", "1");
  Subscription* star = ix.add("a.*", "2");
  Subscription* full = ix.add("a.>", "3");
  ix.add("a.*", "4");
  ASSERT_EQ(ix.index.size(), 4u);

  ix.index.remove(literal);
  ix.index.remove(star);
  ix.index.remove(full);
  ix.index.remove(full);  // twice: a no-op

  EXPECT_EQ(ix.reached("a.b"), Sids{"4"});
  EXPECT_EQ(ix.index.size(), 1u);
}

TEST(SubjectIndex, ManySubscribersOfOneWildcard) {
  Index ix;
  for (int i = 0; i < 1000; ++i) ix.add("_INBOX.agent-" + std::to_string(i) + ".*", std::to_string(i));

  EXPECT_EQ(ix.reached("_INBOX.agent-517.42"), Sids{"517"});
  EXPECT_EQ(ix.reached("_INBOX.agent-517"), Sids{});
}

TEST(SubjectValidity, SubscriptionSubjects) {
  for (const char* ok : {"a", "a.b", "a.*", "*", ">", "a.>", "*.*.>", "a.b*", "_INBOX.x.*"}) {
    EXPECT_TRUE(is_valid_subject(ok)) << ok;
  }
  for (const char* bad : {"", ".", "a.", ".a", "a..b", "a.>.b", ">.a", "a b", "a\tb", "a.\r"}) {
    EXPECT_FALSE(is_valid_subject(bad)) << bad;
  }
}

TEST(SubjectValidity, PublishSubjectsHaveNoWildcards) {
  EXPECT_TRUE(is_valid_publish_subject("a.b"));
  EXPECT_TRUE(is_valid_publish_subject("a.b*"));
  EXPECT_FALSE(is_valid_publish_subject("a.*"));
  EXPECT_FALSE(is_valid_publish_subject("a.>"));
  EXPECT_FALSE(is_valid_publish_subject("a..b"));
}

}  // namespace
}  // namespace lp::broker
