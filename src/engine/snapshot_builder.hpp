#pragma once
// Turns cumulative stats into the once-a-second snapshot: elapsed time, the profile's
// phase and target rate, and the rate achieved since the previous snapshot. Shared by
// the static runner and Python mode so both report exactly the same way.

#include <chrono>
#include <string>
#include <vector>

#include "core/profile.hpp"
#include "metrics/snapshot.hpp"

namespace lp::engine {

class SnapshotBuilder {
 public:
  using Clock = std::chrono::steady_clock;

  SnapshotBuilder(const core::Profile& profile, std::vector<std::string> task_names, Clock::time_point start);

  /// The snapshot at `now`. `final` marks the last one: phase "done", target 0, and
  /// current_rps over the whole run rather than the last interval.
  metrics::Snapshot build(const metrics::RunStats& stats, Clock::time_point now, std::uint32_t active_workers,
                          bool final);

 private:
  const core::Profile& profile_;
  std::vector<std::string> names_;
  Clock::time_point start_;
  double start_unix_;
  std::uint64_t last_requests_ = 0;
  Clock::time_point last_time_;
};

}  // namespace lp::engine
