#pragma once
// Pass/fail limits checked against the final snapshot, and the `--threshold KEY=VALUE`
// flags that override the scenario's own. A breach makes `loadpilot run` exit 1.

#include <string>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"

namespace lp::cli {

struct ThresholdResult {
  std::string key;      ///< p50_ms | p95_ms | p99_ms | max_ms | error_rate
  double limit = 0;     ///< ms for latency keys, percent (0..100) for error_rate
  double actual = 0;    ///< same unit as `limit`
  bool passed = false;  ///< actual <= limit

  friend bool operator==(const ThresholdResult&, const ThresholdResult&) = default;
};

/// One result per threshold that is set, in the order p50_ms, p95_ms, p99_ms, max_ms,
/// error_rate; empty when none is set. Latencies come from `final.latency` (measured
/// from the due time). error_rate is errors_total / requests_total × 100, and 0 when
/// no request was made, so an empty run passes an error_rate limit but a run that
/// sent nothing still shows 0 ms latencies. A value exactly at its limit passes.
std::vector<ThresholdResult> evaluate_thresholds(const core::Thresholds& thresholds,
                                                 const metrics::Snapshot& final);

/// True when every result passed (and when there are none).
bool all_passed(const std::vector<ThresholdResult>& results) noexcept;

/// Number of results that failed.
std::size_t failed_count(const std::vector<ThresholdResult>& results) noexcept;

/// `base` with each `KEY=VALUE` of `items` applied in order (a later item for the same
/// key wins). Keys are p50_ms, p95_ms, p99_ms, max_ms (milliseconds, >= 0) and
/// error_rate (percent 0..100, a trailing '%' is allowed). On any bad item nothing is
/// applied and the Error (ErrorCode::Invalid) lists every bad item, joined by "; ",
/// each naming the item as given, e.g.
/// "--threshold 'p99=5': unknown key 'p99' (use p50_ms, p95_ms, p99_ms, max_ms or error_rate)".
Result<core::Thresholds> apply_threshold_overrides(core::Thresholds base,
                                                   const std::vector<std::string>& items);

}  // namespace lp::cli
