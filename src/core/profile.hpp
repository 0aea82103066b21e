#pragma once
// Load profiles as pure functions of elapsed time (SPEC.md §1):
//   ramp      0 → rps linearly over ramp_up, then rps for duration (total = ramp_up + duration)
//   constant  rps for duration
//   step      duration split into `steps` equal windows at rps·k/steps, k = 1..steps
//   spike     thirds of duration at 20 %, 100 %, 20 % of rps
// A profile is a list of segments whose rate is linear in time, so the number of
// iterations due by time t, and its inverse (when the n-th is due), are exact.

#include <cstdint>
#include <vector>

#include "core/plan.hpp"

namespace lp::core {

enum class Phase : std::uint8_t { RampUp, Steady, RampDown, Done };
const char* to_string(Phase phase);

class Profile {
 public:
  Profile(Mode mode, double rps, double duration_secs, double ramp_up_secs, std::uint32_t steps);
  explicit Profile(const Plan& plan)
      : Profile(plan.mode, plan.rps, plan.duration_secs, plan.ramp_up_secs, plan.steps) {}

  /// Iterations per second wanted at `t` seconds after the start; 0 once done.
  double rate_at(double t) const noexcept;
  Phase phase_at(double t) const noexcept;
  double total_secs() const noexcept { return total_; }

  /// Iterations due in [0, t]: the integral of the rate. Fractional on purpose: callers
  /// keep the remainder (the fractional budget), so low rates are never rounded away.
  double count_until(double t) const noexcept;
  /// Earliest time at which count_until reaches `n`; total_secs() or later means never.
  /// Iteration k (0-based) is due at time_of(k), so the first one fires at t = 0.
  double time_of(double n) const noexcept;
  /// Iterations the whole profile fires: ceil(count_until(total)) for a whole-number total.
  double total_count() const noexcept { return total_count_; }

 private:
  struct Segment {
    double t0, t1;   ///< seconds since start
    double r0, r1;   ///< rate at t0 and t1 (linear in between)
    double c0;       ///< iterations due before t0
    Phase phase;
  };
  void add(double length, double r0, double r1, Phase phase);

  Mode mode_;
  std::vector<Segment> segments_;
  double total_ = 0;
  double total_count_ = 0;
};

}  // namespace lp::core
