#include "engine/pacer.hpp"

#include <gtest/gtest.h>

#include "engine/clock.hpp"

namespace lp::engine {
namespace {

using namespace std::chrono_literals;
using core::Mode;
using core::Profile;

/// Takes every iteration due at `now`, as a worker with free connections would.
std::uint64_t send_due(Pacer& pacer, Clock::time_point now) {
  std::uint64_t sent = 0;
  while (pacer.due(now)) {
    pacer.take(now);
    ++sent;
  }
  return sent;
}

TEST(Pacer, NothingIsDueBeforeTheClockStarts) {
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);

  EXPECT_FALSE(pacer.due(FakeClock{}.now()));
  EXPECT_EQ(pacer.next_due(), Clock::time_point::max());
}

TEST(Pacer, IterationsAreDueAtTheProfilesTimes) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());

  EXPECT_EQ(send_due(pacer, clock.now()), 1u);  // iteration 0 at t = 0
  clock.advance(50ms);
  EXPECT_EQ(send_due(pacer, clock.now()), 5u);  // 10, 20, 30, 40, 50 ms
  EXPECT_EQ(pacer.next_due(), clock.now() + 10ms);
  EXPECT_EQ(pacer.end(), pacer.start() + 10s);
}

TEST(Pacer, KeepsTheDueTimeOfAnIterationSentLateAndCountsItLate) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.take(clock.now());
  clock.advance(50ms);

  const Clock::time_point intended = pacer.take(clock.now());  // iteration 1, due at 10 ms

  EXPECT_EQ(intended, pacer.start() + 10ms);  // lateness is reported, not hidden
  EXPECT_EQ(pacer.late(), 1u);
  EXPECT_EQ(pacer.sent(), 2u);
}

TEST(Pacer, SentWithinTenMillisecondsOfTheDueTimeIsNotLate) {
  FakeClock clock;
  Profile profile(Mode::Constant, 10, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());

  clock.advance(9ms);
  pacer.take(clock.now());

  EXPECT_EQ(pacer.late(), 0u);
}

TEST(Pacer, ShedDropsOnlyWhatWaitedLongerThanTheLagBound) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.take(clock.now());
  clock.advance(1500ms);  // no connection free since: iterations 1..150 are due

  const std::uint64_t dropped = pacer.shed(clock.now());

  EXPECT_EQ(dropped, 49u);  // due at 10..490 ms: waited more than 1 s
  EXPECT_EQ(pacer.dropped(), 49u);
  EXPECT_EQ(pacer.next_due(), pacer.start() + 500ms);  // the wait within the bound is kept
  EXPECT_EQ(pacer.backlog(clock.now()), 101u);         // 500 ms .. 1500 ms
}

TEST(Pacer, ShedWithinTheLagBoundDropsNothing) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  clock.advance(900ms);

  EXPECT_EQ(pacer.shed(clock.now()), 0u);
  EXPECT_EQ(pacer.backlog(clock.now()), 91u);
}

TEST(Pacer, ClosingAtTheProfilesEndDropsEveryIterationLeft) {
  FakeClock clock;
  Profile profile(Mode::Constant, 10, 1, 0, 1);  // 10 iterations, due 0 .. 900 ms
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.take(clock.now());
  clock.advance(1s);

  EXPECT_EQ(pacer.close(clock.now()), 9u);

  EXPECT_EQ(pacer.dropped(), 9u);
  EXPECT_FALSE(pacer.due(clock.now() + 1h));
}

TEST(Pacer, ClosingAtAStopDropsWhatWasDueButNotWhatWasNeverDue) {
  FakeClock clock;
  Profile profile(Mode::Constant, 10, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.take(clock.now());
  clock.advance(300ms);  // iterations 1, 2, 3 are due and unsent

  EXPECT_EQ(pacer.close(clock.now()), 3u);

  EXPECT_EQ(pacer.sent() + pacer.dropped(), 4u);
  EXPECT_FALSE(pacer.due(clock.now() + 1h));
}

TEST(Pacer, AStopDropsOnlyWhatWasAlreadyLate) {
  FakeClock clock;
  Profile profile(Mode::Constant, 10, 10, 0, 1);  // due every 100 ms
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.take(clock.now());
  clock.advance(302ms);  // 1 and 2 are late (202 and 102 ms), 3 is due 2 ms ago: on time

  EXPECT_EQ(pacer.stop(clock.now()), 2u);

  EXPECT_EQ(pacer.dropped(), 2u);
  EXPECT_FALSE(pacer.due(clock.now() + 1h));
}

TEST(Pacer, AStopJustAfterADueTimeDropsNothing) {
  FakeClock clock;
  Profile profile(Mode::Constant, 10, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.take(clock.now());
  clock.advance(105ms);  // iteration 1 due 5 ms ago: the stop, not the generator, keeps it

  EXPECT_EQ(pacer.stop(clock.now()), 0u);
  EXPECT_EQ(pacer.dropped(), 0u);
  EXPECT_EQ(pacer.sent(), 1u);
}

TEST(Pacer, SharesSplitTheSequenceSoTheTotalIsExact) {
  FakeClock clock;
  Profile profile(Mode::Constant, 3, 10, 0, 1);
  Pacer a(profile, 0, 2), b(profile, 1, 2);
  a.start_at(clock.now());
  b.start_at(clock.now());

  clock.advance(10s);
  const std::uint64_t sent = send_due(a, clock.now()) + send_due(b, clock.now());

  EXPECT_EQ(sent, 30u);
}

}  // namespace
}  // namespace lp::engine

namespace lp::engine {
namespace {

using namespace std::chrono_literals;
using core::Mode;
using core::Profile;

TEST(PacerLease, IterationsAtOrAfterTheLeaseAreNotDue) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.set_lease(0.05);
  pacer.start_at(clock.now());

  clock.advance(1s);
  std::uint64_t sent = 0;
  while (pacer.due(clock.now())) {
    pacer.take(clock.now());
    ++sent;
  }

  EXPECT_EQ(sent, 5u);  // 0, 10, 20, 30, 40 ms; 50 ms is the lease's end
  EXPECT_EQ(pacer.next_due(), Clock::time_point::max());
  EXPECT_FALSE(pacer.finished());  // held, not over: a renewal would let it go on
}

TEST(PacerLease, ALeaseNeverMovesBack) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.set_lease(2.0);

  pacer.set_lease(1.0);

  EXPECT_EQ(pacer.lease(), 2.0);
}

TEST(PacerLease, ExpiryDropsWhatTheLeaseCoveredAndStopsAtItsIndex) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 1, 2);  // 1, 3, 5, ...
  pacer.set_lease(0.105);
  pacer.start_at(clock.now());
  pacer.take(clock.now() + 10ms);

  EXPECT_EQ(pacer.expire_lease(), 4u);  // 3, 5, 7, 9 (due 30 .. 90 ms)

  EXPECT_TRUE(pacer.finished());
  EXPECT_EQ(pacer.next_index(), 11u);
  EXPECT_EQ(pacer.dropped(), 4u);
  EXPECT_FALSE(pacer.due(clock.now() + 1h));
}

TEST(PacerLease, ALimitKeepsWhatIsBelowIt) {
  FakeClock clock;
  Profile profile(Mode::Constant, 100, 10, 0, 1);
  Pacer pacer(profile, 0, 1);
  pacer.start_at(clock.now());
  pacer.limit_to(3);

  clock.advance(1s);
  std::uint64_t sent = 0;
  while (pacer.due(clock.now())) {
    pacer.take(clock.now());
    ++sent;
  }

  EXPECT_EQ(sent, 3u);
  EXPECT_TRUE(pacer.finished());
}

}  // namespace
}  // namespace lp::engine
