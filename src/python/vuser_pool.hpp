#pragma once
// The virtual users of a Python-mode run: how many there are and when each starts.
// Pure arithmetic on seconds since the clock started, so it is tested without a clock
// (tests/python/vuser_pool_test.cpp); vuser_runner.cpp asks it once per hub turn.
//
// Unset `vusers`, the pool starts at min(max(5, ceil(rps / 100)), 100) users and grows
// by one user per due iteration that finds every user busy (and no user still in
// on_start to take it), up to kGrowCap. vuser_runner.cpp asks for that growth only
// when every user waits on the network: with responses already in, users are about to
// be free and the hub's Python time is the limit. Set, the pool is exactly `vusers` users and never
// grows: the user asked for that many (accounts, sessions), and an iteration that finds
// them all busy waits, which shows as late or dropped. In ramp mode the pool's users
// start one after another over ramp_up rather than all at once; a user due later is
// started early when an iteration finds every started user busy.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/plan.hpp"

namespace lp::python {

class VUserPool {
 public:
  /// Most users an unset pool grows to. Each user is a greenlet (a few KiB) and makes
  /// one call at a time, so this is also about the calls that can be in flight.
  static constexpr std::uint32_t kGrowCap = 1000;
  static constexpr std::uint32_t kDefaultMin = 5;
  static constexpr std::uint32_t kDefaultMax = 100;

  /// The pool size for a rate when `vusers` is unset: min(max(5, ceil(rps / 100)), 100).
  static std::uint32_t default_size(double rps) {
    double per_hundred = std::ceil(rps / 100.0);
    if (!(per_hundred > kDefaultMin)) return kDefaultMin;  // also NaN
    return per_hundred >= kDefaultMax ? kDefaultMax : static_cast<std::uint32_t>(per_hundred);
  }

  /// The pool `plan` asks for: plan.vusers (fixed) or the default for plan.rps (grows).
  explicit VUserPool(const core::Plan& plan)
      : size_(plan.vusers ? plan.vusers : default_size(plan.rps)),
        cap_(plan.vusers ? plan.vusers : std::max(kGrowCap, size_)),
        fixed_(plan.vusers != 0),
        stagger_secs_(plan.mode == core::Mode::Ramp ? std::max(0.0, plan.ramp_up_secs) : 0.0) {}

  std::uint32_t size() const { return size_; }  ///< users the run starts with
  std::uint32_t cap() const { return cap_; }    ///< most users it may have
  bool fixed() const { return fixed_; }         ///< vusers was set: never grown

  /// Users to start before the clock, the first included: all of the pool, or only the
  /// first when the pool starts staggered over ramp_up.
  std::uint32_t before_clock() const { return stagger_secs_ > 0 ? 1 : size_; }

  /// When the pool's user `index` (0-based) is due to start, in seconds after the clock
  /// started: index · ramp_up / size in ramp mode, else 0.
  double start_time(std::uint32_t index) const {
    return stagger_secs_ > 0 ? stagger_secs_ * index / size_ : 0.0;
  }

  /// Users to start now, `t` seconds after the clock started, with `users` started so
  /// far (`starting` of them still in on_start) and `unserved` due iterations that no
  /// idle user could take this turn. Never more than cap() users in all.
  std::uint32_t to_start(double t, std::size_t users, std::size_t starting, std::uint64_t unserved) const {
    std::uint64_t want = scheduled(t);
    if (unserved > starting) want = std::max<std::uint64_t>(want, users + (unserved - starting));
    want = std::min<std::uint64_t>(want, cap_);
    return want > users ? static_cast<std::uint32_t>(want - users) : 0;
  }

 private:
  /// Pool users whose staggered start time has come by `t`.
  std::uint64_t scheduled(double t) const {
    if (stagger_secs_ <= 0) return size_;
    if (t < 0) return 1;
    double due = std::floor(t * size_ / stagger_secs_) + 1;
    return due >= size_ ? size_ : static_cast<std::uint64_t>(due);
  }

  std::uint32_t size_;
  std::uint32_t cap_;
  bool fixed_;
  double stagger_secs_;
};

}  // namespace lp::python
