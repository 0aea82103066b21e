#include "metrics/thresholds.hpp"

#include <optional>

namespace lp::metrics {
namespace {

void add_latency(std::vector<ThresholdResult>& out, const char* key, const std::optional<double>& limit,
                 double actual, std::uint64_t samples) {
  if (!limit) return;
  ThresholdResult r{key, *limit, actual, actual <= *limit, false, {}};
  // 0 ms from nothing is not a pass: a target that never answered must not go green.
  if (samples == 0) {
    r.passed = false;
    r.reason = kNoResponsesReason;
  }
  out.push_back(std::move(r));
}

}  // namespace

std::vector<ThresholdResult> evaluate_thresholds(const core::Thresholds& thresholds, const Snapshot& final) {
  std::vector<ThresholdResult> out;
  const LatencySummary& l = final.latency;
  add_latency(out, "p50_ms", thresholds.p50_ms, l.p50_ms, l.count);
  add_latency(out, "p95_ms", thresholds.p95_ms, l.p95_ms, l.count);
  add_latency(out, "p99_ms", thresholds.p99_ms, l.p99_ms, l.count);
  add_latency(out, "max_ms", thresholds.max_ms, l.max_ms, l.count);
  if (thresholds.error_rate) {
    const double actual = final.error_rate();
    out.push_back(
        ThresholdResult{"error_rate", *thresholds.error_rate, actual, actual <= *thresholds.error_rate, false, {}});
  }
  const double dropped_limit = thresholds.dropped_rate.value_or(kDefaultDroppedRateLimit);
  const double dropped = final.dropped_rate();
  out.push_back(ThresholdResult{"dropped_rate", dropped_limit, dropped, dropped <= dropped_limit,
                                !thresholds.dropped_rate.has_value(), {}});
  return out;
}

bool all_passed(const std::vector<ThresholdResult>& results) noexcept { return failed_count(results) == 0; }

std::size_t failed_count(const std::vector<ThresholdResult>& results) noexcept {
  std::size_t failed = 0;
  for (const auto& r : results) failed += r.passed ? 0 : 1;
  return failed;
}

}  // namespace lp::metrics
