#pragma once
// The open model's pacing policy, one for the static workers and Python mode: when each
// iteration of a share is due, when a sent one counts as late, how long due iterations
// may wait for a free connection (or virtual user) before they are dropped, and what
// happens to the ones still due when sending ends.
//
// Latency is measured from the due time take() returns, never from when the iteration
// was sent: a generator that falls behind shows in the latency figures (no coordinated
// omission) and in late / dropped, never quietly. (The one exception runs the other
// way: an iteration the static worker sends ahead of its due time, by at most
// Worker::kSendAhead, is timed from its send, since it cannot be answered before.)
//
// Distributed mode adds a lease: an agent may fire only iterations due before the time
// its coordinator last vouched for. The lease is one time compared where the next due
// time is computed (once per iteration, not per check), so it costs nothing per request.

#include <chrono>
#include <cstdint>
#include <limits>

#include "core/profile.hpp"
#include "engine/clock.hpp"
#include "engine/rate_schedule.hpp"

namespace lp::engine {

class Pacer {
 public:
  /// Due iterations wait at most this long for a free connection or virtual user; older
  /// ones are dropped and counted. It bounds the backlog (and the memory and the burst
  /// a recovering target would get) while every wait below it shows in the latency.
  static constexpr std::chrono::seconds kMaxLag{1};

  /// The share k ≡ residue (mod stride) of `profile`'s iterations (see RateSchedule),
  /// from the first such k ≥ from_index. `profile` must outlive the pacer. Nothing is
  /// due until start_at().
  Pacer(const core::Profile& profile, std::uint64_t residue, std::uint64_t stride, std::uint64_t from_index = 0);

  /// Starts the clock: iteration k is due at start + profile.time_of(k).
  void start_at(Clock::time_point start) noexcept;

  Clock::time_point start() const noexcept { return start_; }
  /// The profile's end: start + total_secs. Iterations are due only before it.
  Clock::time_point end() const noexcept { return end_; }
  /// Due time of the next iteration; Clock::time_point::max() when none is left, or
  /// the next one is beyond the lease.
  Clock::time_point next_due() const noexcept { return next_due_; }
  /// True when the next iteration is due at or before `now`.
  bool due(Clock::time_point now) const noexcept { return next_due_ <= now; }
  /// Global index of the next iteration (for rotating virtual-user configs); once
  /// closed, the first index this pacer will never fire.
  std::uint64_t next_index() const noexcept { return schedule_.next_index(); }
  /// Nothing left to fire: closed, or the share is exhausted.
  bool finished() const noexcept { return closed_ || schedule_.exhausted(); }

  /// Takes the next iteration, which is being sent at `now` (when due(now), or up to
  /// Worker::kSendAhead before its due time). Counts it late when now - due >=
  /// metrics::kLateAfter. Returns its due time.
  Clock::time_point take(Clock::time_point now) noexcept;
  /// Nothing is free to send with at `now`: drops the due iterations that have waited
  /// longer than kMaxLag. Returns how many were dropped.
  std::uint64_t shed(Clock::time_point now) noexcept;
  /// Iterations due at or before `now` and not taken (at least 1 when due(now)).
  std::uint64_t backlog(Clock::time_point now) const noexcept;
  /// Sending ends at `now` (the profile's end, or a stop): every iteration due by then
  /// and never sent is dropped; the later ones were never due and are not counted.
  /// Nothing is due afterwards. Returns how many were dropped.
  std::uint64_t close(Clock::time_point now) noexcept;
  /// A stop (Ctrl+C, SIGTERM, the coordinator) at `now`: like close(), but only the
  /// iterations already late at the stop (due kLateAfter or more before it) are
  /// dropped; one due just now was on time, and the stop, not the generator, is why it
  /// is not sent. Returns how many were dropped.
  std::uint64_t stop(Clock::time_point now) noexcept;

  /// Iterations due at or after `until_secs` (seconds after the start) are not this
  /// pacer's to fire unless the lease is extended; +infinity = no lease. A lease never
  /// moves back: a smaller value than the current one is ignored.
  void set_lease(double until_secs) noexcept;
  double lease() const noexcept { return lease_secs_; }
  /// The lease ran out at `lease()`: drops what was due before it and never sent, and
  /// closes; next_index() is then exactly the first index due at or after the lease.
  /// Returns how many were dropped.
  std::uint64_t expire_lease() noexcept;
  /// Gives up every index ≥ end_index (the slot is handed to another agent). What is
  /// below stays this pacer's to fire, each at its due time.
  void limit_to(std::uint64_t end_index) noexcept;

  std::uint64_t sent() const noexcept { return sent_; }
  std::uint64_t late() const noexcept { return late_; }
  std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  double secs_at(Clock::time_point t) const noexcept;
  void update_due() noexcept;

  RateSchedule schedule_;
  Clock::time_point start_{};
  Clock::time_point end_ = Clock::time_point::max();
  Clock::time_point next_due_ = Clock::time_point::max();
  double lease_secs_ = std::numeric_limits<double>::infinity();
  bool started_ = false;
  bool closed_ = false;
  std::uint64_t sent_ = 0, late_ = 0, dropped_ = 0;
};

}  // namespace lp::engine
