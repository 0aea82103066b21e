#pragma once
// Prometheus text exposition (format 0.0.4) of a run: what GET /metrics serves while a
// test runs. Built from a snapshot and the cumulative stats behind it, so the latency
// can be a real Prometheus histogram: its bucket bounds are fixed (the same on every
// agent and every run), so histogram_quantile() over sum by (le) aggregates exactly
// across agents and tasks.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"

namespace lp::metrics {

/// The Content-Type header that goes with to_prometheus().
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// What the figures are of: the labels of loadpilot_info.
struct ExpositionInfo {
  std::string scenario;
  std::string target_url;
  std::string mode;        ///< "static" or "python"
  std::string profile;     ///< ramp | constant | step | spike
  std::string version;     ///< LoadPilot version
};

/// Upper bounds (µs, ascending) of loadpilot_request_duration_seconds' buckets, +Inf
/// aside: four per power of two from 16 µs to 2^26 µs (67 s), 2^e·(1, 1.25, 1.5, 1.75).
/// Each is the lower bound of a metrics::Histogram bucket, so a bucket's count is exact:
/// the samples recorded below the bound, none split or interpolated.
const std::vector<std::uint64_t>& duration_bucket_bounds_us();

/// Families, each with # HELP and # TYPE (docs/monitoring.md lists them with labels):
///   loadpilot_info{scenario,target,mode,profile,version} 1
///   loadpilot_phase{phase} 1 for the current phase, 0 for the others
///   loadpilot_elapsed_seconds, loadpilot_rps_current, loadpilot_rps_target
///   loadpilot_requests_total{task}, loadpilot_errors_total{task,kind} (every kind)
///   loadpilot_iterations_total, loadpilot_late_total, loadpilot_dropped_total
///   loadpilot_in_flight, loadpilot_connections, loadpilot_active_workers, loadpilot_active_agents
///   loadpilot_request_duration_seconds{task} histogram (_bucket{le}, _sum, _count) of
///     `latency` (every response and timeout, from the due time)
///   loadpilot_latency_seconds{percentile="50"|"95"|"99"}: the last interval's percentiles
/// Tasks are named from snapshot.tasks and counted from stats.tasks (same order). Label
/// values are escaped (backslash, double quote, newline); numbers use the shortest
/// round-trip form. Does not throw.
std::string to_prometheus(const Snapshot& snapshot, const RunStats& stats, const ExpositionInfo& info);

}  // namespace lp::metrics
