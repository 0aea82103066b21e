#pragma once
// Where the engine reads the time: the steady clock, or a FakeClock a test moves by hand,
// so pacing, drops, lateness and the drain are tested without sleeps.
//
// TimeSource is not virtual: the real engine pays one well-predicted branch where it
// reads the time (once per turn of its loop and once per batch of events), never a
// virtual call per request.

#include <chrono>

namespace lp::engine {

using Clock = std::chrono::steady_clock;

/// A clock that moves only when told. Starts at an arbitrary fixed point (not 0, so a
/// time_point{} default is never mistaken for "now"). Not thread-safe.
class FakeClock {
 public:
  FakeClock() = default;
  explicit FakeClock(Clock::time_point start) : now_(start) {}

  Clock::time_point now() const noexcept { return now_; }
  void advance(Clock::duration by) noexcept { now_ += by; }
  void set(Clock::time_point to) noexcept { now_ = to; }

 private:
  Clock::time_point now_ = Clock::time_point{} + std::chrono::hours(24);
};

/// The steady clock by default; a FakeClock (which must outlive it) when given one.
class TimeSource {
 public:
  TimeSource() = default;
  explicit TimeSource(const FakeClock& fake) noexcept : fake_(&fake) {}

  Clock::time_point now() const noexcept { return fake_ == nullptr ? Clock::now() : fake_->now(); }
  bool is_fake() const noexcept { return fake_ != nullptr; }

 private:
  const FakeClock* fake_ = nullptr;
};

}  // namespace lp::engine
