#pragma once
// When each iteration of one share of the load is due (open model).
//
// The whole run is one global sequence of iterations k = 0, 1, 2, ... where iteration
// k is due at profile.time_of(k). A share (a worker thread, or a thread of an agent)
// owns the k ≡ residue (mod stride). Splitting the sequence rather than the rate is the
// fractional budget: 3 rps over 2 shares fires iterations 0,2,4,... and 1,3,5,...,
// 3 per second in total, not 2 (each rounding 1.5 down) and not 4.

#include <cstdint>
#include <limits>

#include "core/profile.hpp"

namespace lp::engine {

class RateSchedule {
 public:
  RateSchedule(const core::Profile& profile, std::uint64_t residue, std::uint64_t stride);

  /// Seconds after the start at which the next iteration of this share is due;
  /// +infinity once the share is exhausted.
  double next_due() const noexcept { return next_due_; }
  bool exhausted() const noexcept { return m_ >= count_; }
  /// Global index of the next iteration (for rotating virtual-user configs).
  std::uint64_t next_index() const noexcept { return residue_ + m_ * stride_; }
  /// Iterations this share fires over the whole profile.
  std::uint64_t count() const noexcept { return count_; }
  const core::Profile& profile() const noexcept { return profile_; }

  /// Takes the next iteration (it is being sent).
  void advance() noexcept;
  /// Iterations of this share due at or before `t` and not yet taken.
  std::uint64_t backlog(double t) const noexcept;
  /// Drops every iteration due before `t` that is still waiting; returns how many.
  std::uint64_t drop_due_before(double t) noexcept;
  /// Drops every iteration not taken yet (the profile is over); returns how many.
  std::uint64_t drop_rest() noexcept;

 private:
  void update_due() noexcept;

  const core::Profile& profile_;
  std::uint64_t residue_, stride_;
  std::uint64_t m_ = 0;      ///< iterations of this share taken so far
  std::uint64_t count_ = 0;  ///< iterations of this share in the whole profile
  double next_due_ = std::numeric_limits<double>::infinity();
};

}  // namespace lp::engine
