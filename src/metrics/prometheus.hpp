#pragma once
// Prometheus text exposition (format 0.0.4) of one Snapshot: what GET /metrics serves.

#include <string>
#include <string_view>

#include "metrics/snapshot.hpp"

namespace lp::metrics {

/// The Content-Type header that goes with to_prometheus().
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// Every metric family with its # HELP and # TYPE lines, each sample on its own line,
/// ending in a newline. Families: loadpilot_rps_actual, loadpilot_rps_target,
/// loadpilot_requests_total, loadpilot_errors_total, loadpilot_errors_by_kind_total{kind},
/// loadpilot_latency_ms{quantile}, loadpilot_latency_max_ms, loadpilot_active_workers,
/// loadpilot_late_total, loadpilot_dropped_total, loadpilot_in_flight,
/// loadpilot_connections, and per task loadpilot_task_requests_total{task},
/// loadpilot_task_errors_total{task}, loadpilot_task_latency_ms{task,quantile}.
/// Values are rounded like Snapshot::to_json (ms to 3 decimals, rps to 2); label values
/// are escaped (backslash, double quote, newline).
std::string to_prometheus(const Snapshot& snapshot);

}  // namespace lp::metrics
