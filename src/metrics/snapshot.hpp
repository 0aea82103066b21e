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
  std::uint64_t count = 0;  ///< samples behind the figures; 0: nothing to judge
  /// Percentiles as Histogram::value_at_quantile (p999 is q = 0.999). All 0 when empty.
  static LatencySummary of(const Histogram& h);

  friend bool operator==(const LatencySummary&, const LatencySummary&) = default;
};

/// Percent of `part` in `whole`; 0 when `whole` is 0.
inline double percent(std::uint64_t part, std::uint64_t whole) noexcept {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

struct TaskSnapshot {
  std::string name;
  std::uint64_t requests = 0, errors = 0;
  LatencySummary latency;
  std::uint64_t errors_without_request = 0;  ///< see TaskStats::errors_without_request

  /// errors / (requests + errors_without_request) in percent: never above 100.
  double error_rate() const noexcept { return percent(errors, requests + errors_without_request); }

  friend bool operator==(const TaskSnapshot&, const TaskSnapshot&) = default;
};

/// The figures of one interval alone: the difference of two cumulative snapshots' stats.
struct IntervalSnapshot {
  double secs = 0;                   ///< length of the interval
  std::uint64_t requests = 0, errors = 0;
  double rps = 0;                    ///< requests / secs
  LatencySummary latency;            ///< of the interval's samples only

  friend bool operator==(const IntervalSnapshot&, const IntervalSnapshot&) = default;
};

/// One agent of a distributed run, as the coordinator sees it.
struct AgentSnapshot {
  std::string id;
  /// waiting | running | suspect (silent, its slots handed over) | timed_out (silent
  /// 15 s) | rejoined | done | lost (never sent its final)
  std::string state;
  std::uint64_t requests = 0;  ///< every instance of it (a restarted agent counts once per instance)
  /// When it began its schedule, in the coordinator's clock, minus the earliest agent's
  /// start; unset until it began.
  std::optional<double> start_skew_ms;

  /// Taking part in the run: waiting for its start, running, or back after a silence.
  bool live() const noexcept { return state == "waiting" || state == "running" || state == "rejoined"; }

  friend bool operator==(const AgentSnapshot&, const AgentSnapshot&) = default;
};

struct Snapshot {
  double timestamp_secs = 0;   ///< unix time of the snapshot
  double elapsed_secs = 0;     ///< since the start of the load
  /// Time from the start until sending ended (the profile's end, or the stop); while
  /// sending, the elapsed time. Achieved rps everywhere is requests_total / load_secs.
  double load_secs = 0;
  /// Per second: over the last interval while running; in the final snapshot
  /// requests_total / load_secs (the run's achieved rate).
  double current_rps = 0;
  double target_rps = 0;       ///< the profile's rate now (iterations per second)
  std::uint64_t requests_total = 0, errors_total = 0;
  std::uint64_t iterations = 0;  ///< task iterations sent (each may make several requests)
  std::uint32_t active_workers = 0;
  std::string phase;           ///< ramp_up | steady | ramp_down | draining | done
  bool stopped = false;        ///< stopped early (SIGINT / SIGTERM) rather than at the profile's end
  IntervalSnapshot interval;   ///< since the previous snapshot
  LatencySummary latency;      ///< from due time (or the send, if ahead), every response and timeout (what users feel)
  LatencySummary success;      ///< the same, successful responses only
  LatencySummary service;      ///< from the write (what the server took), responses only
  LatencySummary send_lag;     ///< from due time to send, per iteration sent on time or late (RunStats::send_lag)
  LatencySummary send_early;   ///< how early, per iteration sent ahead of its due time (RunStats::send_early)
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  std::uint64_t errors_without_request = 0;  ///< see TaskStats::errors_without_request
  std::uint64_t late = 0, dropped = 0, in_flight = 0, connections = 0;
  std::vector<TaskSnapshot> tasks;
  /// Distributed runs only (empty, and left out of the JSON, otherwise).
  std::vector<AgentSnapshot> agents;
  /// Distributed runs only: the latest agent start minus the earliest, coordinator clock.
  std::optional<double> start_skew_ms;

  /// errors / (requests + errors_without_request) in percent: never above 100.
  double error_rate() const noexcept { return percent(errors_total, requests_total + errors_without_request); }
  /// Due iterations never sent, in percent of all due ones: dropped / (iterations + dropped).
  double dropped_rate() const noexcept { return percent(dropped, iterations + dropped); }

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
/// Leaves the times, rates, active_workers, phase, stopped and interval at their
/// defaults for the caller to fill in (engine::SnapshotBuilder does).
Snapshot make_snapshot(const RunStats& stats, const std::vector<std::string>& names);

/// Inverse of Snapshot::to_json, for reading the coordinator's stream. Missing keys and
/// keys of the wrong type (null, a string where a number belongs, negative counters) keep
/// the field's default; unknown keys are ignored. nullopt when the line is not a JSON
/// object. Does not throw.
std::optional<Snapshot> parse_snapshot(std::string_view json_line);

}  // namespace lp::metrics
