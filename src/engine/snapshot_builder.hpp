#pragma once
// Turns cumulative stats into the once-a-second snapshot: elapsed time, the profile's
// phase and target rate, the last interval's own figures (the difference of two
// cumulative copies, so it works the same on stats merged from remote agents) and the
// load duration the achieved rate is divided by. Shared by the static runner and Python
// mode so both report exactly the same way.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/profile.hpp"
#include "engine/clock.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

class SnapshotBuilder {
 public:
  /// Where the run is, for the phase of a snapshot.
  enum class Stage : std::uint8_t {
    Sending,   ///< phase from the profile (ramp_up, steady, ramp_down)
    Draining,  ///< "draining": sending is over, requests in flight are finishing
    Done,      ///< "done": the final snapshot
  };

  /// `start` is when iteration 0 was due; `start_unix_secs` the same instant in unix
  /// time (for timestamp_secs). `profile` must outlive the builder.
  SnapshotBuilder(const core::Profile& profile, std::vector<std::string> task_names, Clock::time_point start,
                  double start_unix_secs);
  /// The same, with start_unix_secs read from the system clock.
  SnapshotBuilder(const core::Profile& profile, std::vector<std::string> task_names, Clock::time_point start);

  /// The run was stopped at `at`: snapshots say stopped, and load_secs ends there when
  /// that is before the profile's end.
  void stopped_at(Clock::time_point at);

  /// The snapshot at `now` from cumulative `stats`. Its `interval` holds what happened
  /// since the previous build() (or the start): stats minus the previous stats, over the
  /// time between them. current_rps is the interval's rate, except in the final snapshot
  /// (Stage::Done), where it is requests_total / load_secs. Target rate and active
  /// workers are 0 unless sending.
  metrics::Snapshot build(const metrics::RunStats& stats, Clock::time_point now, std::uint32_t active_workers,
                          Stage stage);

 private:
  const core::Profile& profile_;
  std::vector<std::string> names_;
  Clock::time_point start_;
  double start_unix_;
  Clock::time_point load_end_;  ///< the profile's end, or the stop
  bool stopped_ = false;
  metrics::RunStats last_stats_;
  Clock::time_point last_time_;
};

}  // namespace lp::engine
