#pragma once
// The wall clock as one process of a distributed run sees it: the system clock, plus a
// fixed shift that tests use to fake a machine whose clock is off (loadpilot-agent
// --clock-offset-ms). Every wall time an agent sends or reads goes through here, so a
// shifted agent is shifted consistently, as a real one would be.

#include <chrono>

#include "engine/clock.hpp"

namespace lp::cluster {

class WallClock {
 public:
  explicit WallClock(double offset_ms = 0) : offset_ms_(offset_ms) {}

  /// Unix time in milliseconds (fractional), shifted by the offset.
  double now_ms() const noexcept {
    const auto since = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration<double, std::milli>(since).count() + offset_ms_;
  }
  /// The steady-clock instant at which this clock will read `unix_ms`.
  engine::Clock::time_point to_steady(double unix_ms) const noexcept {
    const auto steady_now = engine::Clock::now();
    const double delta_ms = unix_ms - now_ms();
    return steady_now + std::chrono::duration_cast<engine::Clock::duration>(
                            std::chrono::duration<double, std::milli>(delta_ms));
  }
  /// What this clock read (or will read) at steady instant `t`.
  double to_unix_ms(engine::Clock::time_point t) const noexcept {
    const auto steady_now = engine::Clock::now();
    const double wall_now = now_ms();
    return wall_now + std::chrono::duration<double, std::milli>(t - steady_now).count();
  }
  double offset_ms() const noexcept { return offset_ms_; }

 private:
  double offset_ms_;
};

}  // namespace lp::cluster
