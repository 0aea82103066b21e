#include "cluster/slot_book.hpp"

#include <gtest/gtest.h>

#include "engine/rate_schedule.hpp"

namespace lp::cluster {
namespace {

using core::Mode;
using core::Profile;

TEST(SlotBook, EachAgentStartsWithItsOwnSlot) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 3);

  for (std::uint32_t s = 0; s < 3; ++s) {
    EXPECT_EQ(book.owner(s), s);
    EXPECT_EQ(book.from(s), 0u);
  }
}

TEST(SlotBook, ALostAgentsSlotsGoRoundRobinFromTheFirstIndexDueAtItsLease) {
  Profile p(Mode::Constant, 10, 60, 0, 1);  // k due at k / 10 s
  SlotBook book(p, 4);
  // Agent 3 had taken slot 1 over earlier; now it goes silent, lease 12.34 s.
  book.lose(1, 5.0, {0, 2, 3});  // slot 1 → agent 0 (first in round-robin)
  ASSERT_EQ(book.owner(1), 0u);
  book.lose(3, 12.34, {2});

  EXPECT_EQ(book.owner(3), 2u);
  // Slot 3 of 4: indices 3, 7, 11, ...; the first due at or after 12.34 s is 127 (12.7 s).
  EXPECT_EQ(book.from(3), 127u);
  EXPECT_EQ(book.from(3), engine::first_index_due_at_or_after(p, 12.34, 3, 4));
}

TEST(SlotBook, AdoptionsSpreadOverTheLiveAgents) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 4);
  book.lose(1, 5.0, {0});  // agent 0 now holds slots 0 and 1

  const auto adopts = book.lose(0, 6.0, {2, 3});

  ASSERT_EQ(adopts.size(), 2u);
  EXPECT_NE(adopts[0].agent, adopts[1].agent);  // one each, not both to the same agent
}

TEST(SlotBook, WithNobodyLeftTheSlotWaitsForTheFirstAgentBack) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 2);
  book.lose(0, 4.0, {});
  EXPECT_EQ(book.owner(0), SlotBook::kNobody);

  auto step = book.rejoin(0);

  ASSERT_TRUE(std::holds_alternative<SlotBook::Adopt>(step));
  EXPECT_EQ(std::get<SlotBook::Adopt>(step), (SlotBook::Adopt{0, 0, 40}));
}

TEST(SlotBook, ARejoiningAgentGetsItsHomeSlotBackByRelease) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 2);
  book.lose(1, 4.0, {0});

  auto step = book.rejoin(1);
  ASSERT_TRUE(std::holds_alternative<SlotBook::Release>(step));
  const auto release = std::get<SlotBook::Release>(step);
  EXPECT_EQ(release, (SlotBook::Release{0, 1, 1}));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(book.rejoin(1)));  // one release at a time

  const auto adopt = book.released(release, 251);

  EXPECT_EQ(adopt, (SlotBook::Adopt{1, 1, 251}));
  EXPECT_EQ(book.owner(1), 1u);
  EXPECT_EQ(book.slots_of(0), std::vector<std::uint32_t>{0});
}

TEST(SlotBook, AReleaseNeverMovesTheSlotBackwards) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 2);
  book.lose(1, 4.0, {0});  // from 41
  const auto release = std::get<SlotBook::Release>(book.rejoin(1));

  const auto adopt = book.released(release, 3);  // a holder that never fired it

  EXPECT_EQ(adopt.from, 41u);
}

TEST(SlotBook, AFailedReleaseCanBeAskedAgain) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 2);
  book.lose(1, 4.0, {0});
  const auto release = std::get<SlotBook::Release>(book.rejoin(1));

  book.release_failed(release);

  EXPECT_TRUE(std::holds_alternative<SlotBook::Release>(book.rejoin(1)));
}

TEST(SlotBook, AHolderWhoseLanesClosedUnderItTakesThemUpAgainOnce) {
  Profile p(Mode::Constant, 10, 60, 0, 1);
  SlotBook book(p, 2);

  auto first = book.closed_by_holder(1, 1, 77, /*now_secs=*/8.0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (SlotBook::Adopt{1, 1, 77}));
  book.adoption_sent(*first, 8.0);

  EXPECT_FALSE(book.closed_by_holder(1, 1, 77, 8.5).has_value());  // the adoption is on its way
  EXPECT_TRUE(book.closed_by_holder(1, 1, 77, 11.0).has_value());  // lost: ask again
  EXPECT_FALSE(book.closed_by_holder(0, 1, 77, 11.0).has_value()); // not agent 0's slot
}

TEST(SlotBook, ASlotClosedBecauseItIsOverIsLeftAlone) {
  Profile p(Mode::Constant, 10, 60, 0, 1);  // 600 iterations
  SlotBook book(p, 2);

  EXPECT_FALSE(book.closed_by_holder(0, 0, 600, 59.9).has_value());
}

}  // namespace
}  // namespace lp::cluster
