#pragma once
// When each iteration of one share of the load is due (open model).
//
// The whole run is one global sequence of iterations k = 0, 1, 2, ... where iteration
// k is due at profile.time_of(k). A share (a worker thread, or a thread of an agent)
// owns the k ≡ residue (mod stride). Splitting the sequence rather than the rate is the
// fractional budget: 3 rps over 2 shares fires iterations 0,2,4,... and 1,3,5,...,
// 3 per second in total, not 2 (each rounding 1.5 down) and not 4.
//
// In distributed mode a share can also start at a given index (a slot adopted from
// another agent) and end before the profile does (a slot handed over): ownership of a
// slot moves at an exact index, so no iteration is fired twice and none is forgotten.

#include <cstdint>
#include <limits>

#include "core/profile.hpp"

namespace lp::engine {

/// The first global index k ≥ `from` with k ≡ residue (mod stride) whose due time
/// profile.time_of(k) is at or after `secs`. Exact (by time_of itself, not by an
/// estimate), so an agent and the coordinator computing it apart agree to the index.
std::uint64_t first_index_due_at_or_after(const core::Profile& profile, double secs, std::uint64_t residue,
                                          std::uint64_t stride, std::uint64_t from = 0) noexcept;

class RateSchedule {
 public:
  /// The share k ≡ residue (mod stride), from the first such k ≥ from_index on.
  /// `profile` must outlive the schedule.
  RateSchedule(const core::Profile& profile, std::uint64_t residue, std::uint64_t stride,
               std::uint64_t from_index = 0);

  /// Seconds after the start at which the next iteration of this share is due;
  /// +infinity once the share is exhausted.
  double next_due() const noexcept { return next_due_; }
  bool exhausted() const noexcept { return m_ >= count_; }
  /// Global index of the next iteration (for rotating virtual-user configs). Once
  /// exhausted: the first index of the share it will never fire.
  std::uint64_t next_index() const noexcept { return index_of(m_); }
  /// Iterations this share fires over the whole profile (from its first index, up to
  /// any limit_to()).
  std::uint64_t count() const noexcept { return count_ - first_m_; }
  const core::Profile& profile() const noexcept { return *profile_; }

  /// Takes the next iteration (it is being sent).
  void advance() noexcept;
  /// Iterations of this share due at or before `t` and not yet taken.
  std::uint64_t backlog(double t) const noexcept;
  /// Drops every iteration due before `t` that is still waiting; returns how many.
  std::uint64_t drop_due_before(double t) noexcept;
  /// As drop_due_before, decided by time_of itself for each index at the boundary, so
  /// the next index afterwards is exactly first_index_due_at_or_after(t).
  std::uint64_t drop_due_before_exact(double t) noexcept;
  /// Drops every iteration not taken yet (the profile is over); returns how many.
  std::uint64_t drop_rest() noexcept;
  /// Gives up every index ≥ `end_index`: they are someone else's (a slot handed over).
  void limit_to(std::uint64_t end_index) noexcept;

 private:
  std::uint64_t index_of(std::uint64_t m) const noexcept { return residue_ + m * stride_; }
  void update_due() noexcept;

  const core::Profile* profile_;
  std::uint64_t residue_, stride_;
  std::uint64_t m_ = 0;        ///< next iteration of this share, counted from the share's k = residue
  std::uint64_t first_m_ = 0;  ///< where the share started (from_index)
  std::uint64_t count_ = 0;    ///< iterations of the share before the profile's end (or the limit)
  double next_due_ = std::numeric_limits<double>::infinity();
};

}  // namespace lp::engine
