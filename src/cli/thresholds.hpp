#pragma once
// The `--threshold KEY=VALUE` flags that override the scenario's own limits. Judging a
// run against them is metrics::evaluate_thresholds (metrics/thresholds.hpp).

#include <string>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"

namespace lp::cli {

/// `base` with each `KEY=VALUE` of `items` applied in order (a later item for the same
/// key wins). Keys are p50_ms, p95_ms, p99_ms, max_ms (milliseconds, >= 0), error_rate
/// and dropped_rate (percent 0..100, a trailing '%' is allowed). On any bad item nothing
/// is applied and the Error (ErrorCode::Invalid) lists every bad item, joined by "; ",
/// each naming the item as given, e.g. "--threshold 'p99=5': unknown key 'p99' (use
/// p50_ms, p95_ms, p99_ms, max_ms, error_rate or dropped_rate)".
Result<core::Thresholds> apply_threshold_overrides(core::Thresholds base,
                                                   const std::vector<std::string>& items);

}  // namespace lp::cli
