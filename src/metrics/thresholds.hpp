#pragma once
// Pass/fail limits judged against a run's final snapshot. Here rather than in the CLI so
// whoever holds the final snapshot (the CLI, a coordinator merging agents) can decide.

#include <cstddef>
#include <string>
#include <vector>

#include "core/plan.hpp"
#include "metrics/snapshot.hpp"

namespace lp::metrics {

/// dropped_rate's limit when the plan sets none (percent): a run whose generator could
/// not deliver the planned load does not pass silently.
inline constexpr double kDefaultDroppedRateLimit = 1.0;

/// Shown instead of a value when a latency limit has no sample to judge.
inline constexpr const char* kNoResponsesReason = "no responses to measure";

struct ThresholdResult {
  std::string key;       ///< p50_ms | p95_ms | p99_ms | max_ms | error_rate | dropped_rate
  double limit = 0;      ///< ms for latency keys, percent (0..100) for the rates
  double actual = 0;     ///< same unit as `limit`
  bool passed = false;   ///< actual <= limit, and there was something to judge
  bool defaulted = false;  ///< the limit is the default, not set by the user
  /// Why it failed when `actual` cannot say it: kNoResponsesReason. Empty otherwise.
  std::string reason;

  friend bool operator==(const ThresholdResult&, const ThresholdResult&) = default;
};

/// One result per limit that is set, in the order p50_ms, p95_ms, p99_ms, max_ms,
/// error_rate, then always dropped_rate (kDefaultDroppedRateLimit when unset).
///   - Latencies come from `final.latency`: every response (any status) and every
///     timeout, measured from the due time. With no sample at all (a dead target: only
///     connect errors) a latency limit FAILS with reason kNoResponsesReason.
///   - error_rate is Snapshot::error_rate(): errors / (requests + errors_without_request)
///     in percent, 0 when nothing was sent, never above 100.
///   - dropped_rate is Snapshot::dropped_rate(): dropped / (iterations + dropped).
/// A value exactly at its limit passes.
std::vector<ThresholdResult> evaluate_thresholds(const core::Thresholds& thresholds, const Snapshot& final);

/// True when every result passed (and when there are none).
bool all_passed(const std::vector<ThresholdResult>& results) noexcept;

/// Number of results that failed.
std::size_t failed_count(const std::vector<ThresholdResult>& results) noexcept;

}  // namespace lp::metrics
