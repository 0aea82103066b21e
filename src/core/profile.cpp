#include "core/profile.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lp::core {

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::RampUp: return "ramp_up";
    case Phase::Steady: return "steady";
    case Phase::RampDown: return "ramp_down";
    case Phase::Done: return "done";
  }
  return "done";
}

Profile::Profile(Mode mode, double rps, double duration_secs, double ramp_up_secs,
                 std::uint32_t steps)
    : mode_(mode) {
  switch (mode) {
    case Mode::Ramp:
      add(ramp_up_secs, 0.0, rps, Phase::RampUp);
      add(duration_secs, rps, rps, Phase::Steady);
      break;
    case Mode::Constant:
      add(duration_secs, rps, rps, Phase::Steady);
      break;
    case Mode::Step: {
      std::uint32_t n = std::max<std::uint32_t>(steps, 1);
      for (std::uint32_t k = 1; k <= n; ++k) {
        double r = rps * k / n;
        add(duration_secs / n, r, r, k < n ? Phase::RampUp : Phase::Steady);
      }
      break;
    }
    case Mode::Spike:
      add(duration_secs / 3, rps * 0.2, rps * 0.2, Phase::RampUp);
      add(duration_secs / 3, rps, rps, Phase::Steady);
      add(duration_secs / 3, rps * 0.2, rps * 0.2, Phase::RampDown);
      break;
  }
  total_count_ = count_until(total_);
}

void Profile::add(double length, double r0, double r1, Phase phase) {
  if (!(length > 0)) return;
  double c0 = 0;
  if (!segments_.empty()) {
    const auto& s = segments_.back();
    c0 = s.c0 + (s.r0 + s.r1) / 2 * (s.t1 - s.t0);
  }
  segments_.push_back(Segment{total_, total_ + length, r0, r1, c0, phase});
  total_ += length;
}

double Profile::rate_at(double t) const noexcept {
  for (const auto& s : segments_) {
    if (t < s.t1) {
      if (t < s.t0) return 0;
      return s.r0 + (s.r1 - s.r0) * (t - s.t0) / (s.t1 - s.t0);
    }
  }
  return 0;
}

Phase Profile::phase_at(double t) const noexcept {
  for (const auto& s : segments_) {
    if (t < s.t1) return s.phase;
  }
  return Phase::Done;
}

double Profile::count_until(double t) const noexcept {
  double count = 0;
  for (const auto& s : segments_) {
    if (t <= s.t0) break;
    double dt = std::min(t, s.t1) - s.t0;
    double r_end = s.r0 + (s.r1 - s.r0) * dt / (s.t1 - s.t0);
    count = s.c0 + (s.r0 + r_end) / 2 * dt;
    if (t < s.t1) break;
  }
  return count;
}

double Profile::time_of(double n) const noexcept {
  if (n <= 0) return 0;
  for (const auto& s : segments_) {
    double area = (s.r0 + s.r1) / 2 * (s.t1 - s.t0);
    double x = n - s.c0;
    if (x > area) continue;
    if (x <= 0) return s.t0;
    double a = (s.r1 - s.r0) / (s.t1 - s.t0);
    // Solve r0·dt + a·dt²/2 = x. This form stays exact when a → 0 and when r0 = 0.
    double dt = 2 * x / (s.r0 + std::sqrt(s.r0 * s.r0 + 2 * a * x));
    return std::min(s.t0 + dt, s.t1);
  }
  return std::numeric_limits<double>::infinity();
}

}  // namespace lp::core
