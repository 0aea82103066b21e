#pragma once
// JSON pieces shared by the snapshot stream and the results file. Includes
// nlohmann/json: only .cpp files that already use it include this header.

#include <nlohmann/json.hpp>

#include "metrics/snapshot.hpp"

namespace lp::metrics {

/// {min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, max_ms}, rounded to µs.
nlohmann::ordered_json latency_json(const LatencySummary& latency);

}  // namespace lp::metrics
