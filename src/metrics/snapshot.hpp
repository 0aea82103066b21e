#pragma once
// One line of the metrics stream: the engine's state once a second, cumulative
// counters plus the rates and percentiles derived from them. Serialised as one JSON
// object per line (ndjson): the contract between coordinator, service and CLI.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/stats.hpp"

namespace lp::metrics {

/// Latency in milliseconds with microsecond precision (value_us / 1000.0).
struct LatencySummary {
  double min_ms = 0, mean_ms = 0, p50_ms = 0, p90_ms = 0, p95_ms = 0, p99_ms = 0,
         p999_ms = 0, max_ms = 0;
  /// Percentiles as Histogram::value_at_quantile (p999 is q = 0.999). All 0 when empty.
  static LatencySummary of(const Histogram& h);

  friend bool operator==(const LatencySummary&, const LatencySummary&) = default;
};

struct TaskSnapshot {
  std::string name;
  std::uint64_t requests = 0, errors = 0;
  LatencySummary latency;

  friend bool operator==(const TaskSnapshot&, const TaskSnapshot&) = default;
};

struct Snapshot {
  double timestamp_secs = 0;   ///< unix time of the snapshot
  double elapsed_secs = 0;     ///< since the start of the load
  double current_rps = 0;      ///< requests completed per second over the last interval
  double target_rps = 0;       ///< the profile's rate now (iterations per second)
  std::uint64_t requests_total = 0, errors_total = 0;
  std::uint32_t active_workers = 0;
  std::string phase;           ///< ramp_up | steady | ramp_down | done
  LatencySummary latency;      ///< from due time (what users feel)
  LatencySummary service;      ///< from the write (what the server took)
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  std::uint64_t late = 0, dropped = 0, in_flight = 0, connections = 0;
  std::vector<TaskSnapshot> tasks;

  /// One JSON object, no trailing newline. Keys as in docs/architecture.md; every
  /// error kind is always present. To keep lines short, milliseconds and seconds are
  /// rounded to 3 decimals (µs and ms) and rates to 2. Invalid UTF-8 in names is
  /// replaced with U+FFFD, never thrown. NaN and infinities are written as null.
  std::string to_json() const;

  /// Field-by-field; after a to_json round trip only values already at the rounding
  /// precision compare equal.
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

/// Builds a snapshot from cumulative stats. `names` are the task names, by index; a
/// task without a name is called "task_<index>", a name without stats gets zeros.
/// Leaves timestamp_secs, elapsed_secs, current_rps, target_rps, active_workers and
/// phase at their defaults for the caller to fill in.
Snapshot make_snapshot(const RunStats& stats, const std::vector<std::string>& names);

/// Inverse of Snapshot::to_json, for reading the coordinator's stream. Missing keys and
/// keys of the wrong type (null, a string where a number belongs, negative counters) keep
/// the field's default; unknown keys are ignored. nullopt when the line is not a JSON
/// object. Does not throw.
std::optional<Snapshot> parse_snapshot(std::string_view json_line);

}  // namespace lp::metrics
