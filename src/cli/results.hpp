#pragma once
// The machine-readable outcome of a run: what --results-json writes, what
// --save-baseline keeps in .loadpilot/baseline.json and what `compare` reads back.

#include <optional>
#include <string>
#include <vector>

#include "cli/summary.hpp"
#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cli {

/// Where --save-baseline writes, relative to the working directory.
inline constexpr const char* kBaselinePath = ".loadpilot/baseline.json";

/// Version of the results document; bumped when a key changes meaning or goes away.
inline constexpr int kResultsSchemaVersion = 1;

struct ResultsInput {
  std::string scenario;
  std::string target_url;
  double plan_rps = 0;                       ///< target iterations per second at full rate
  double plan_duration_secs = 0;             ///< Plan::duration_secs (ramp_up not added)
  core::Mode plan_mode = core::Mode::Ramp;
  metrics::Snapshot final;                   ///< the last snapshot of the run
  std::vector<metrics::ThresholdResult> thresholds;  ///< from metrics::evaluate_thresholds
  std::optional<SetupStats> setup;           ///< on_start/on_stop calls, when any ran
  double started_at = 0;                     ///< unix seconds, when the load started
  double finished_at = 0;                    ///< unix seconds, when it ended
  std::vector<metrics::Snapshot> timeline;   ///< every snapshot of the run, in order
  /// Python mode: distinct check_<task> (or task) failure messages with their counts.
  std::vector<std::pair<std::string, std::uint64_t>> check_failures;
  std::string mode = "static";               ///< "static" (C++ engine) or "python" (virtual users)
};

/// The results document: one JSON object, 2-space indented, ending in a newline.
/// Top-level keys, in this order: schema_version, scenario, target_url, started_at,
/// finished_at, duration_secs, load_secs, stopped, plan{rps, duration_secs, mode},
/// requests_total, errors_total, error_rate, errors_without_request, rps_actual,
/// rps_target, latency{min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, max_ms,
/// count}, success_latency{same}, service_latency{same}, errors_by_kind{every kind},
/// iterations, late, dropped, dropped_rate, tasks[{name, requests, errors, error_rate,
/// latency{...}}], thresholds[{key, limit, actual, passed, default, reason (only when
/// set)}], passed, setup{requests, errors}, timeline[{elapsed_secs, phase, current_rps,
/// target_rps, requests_total, errors_total, p50_ms, p95_ms, p99_ms (cumulative),
/// dropped, interval{secs, requests, errors, rps, latency{...}} (that interval alone)}],
/// check_failures[{message, count}], mode.
/// Units and rounding: rates are percent (0 when nothing to divide by) rounded to 4
/// decimals; error_rate is Snapshot::error_rate() (never above 100), dropped_rate
/// Snapshot::dropped_rate(); milliseconds and seconds to 3; rps to 2. duration_secs is
/// finished_at - started_at when both are set, else final.elapsed_secs; load_secs is
/// final.load_secs (falling back to elapsed_secs, then duration_secs) and rps_actual is
/// requests_total / load_secs, 0 when it is not > 0. rps_target is plan_rps. passed is
/// true when every threshold passed (or none is set). setup is {0, 0} when absent. NaN
/// and infinities are written as null; invalid UTF-8 in names is replaced with U+FFFD.
/// Does not throw.
std::string results_json(const ResultsInput& input);

/// Writes `content` to `path` so that readers see the old file or the new one, never
/// half of it: creates missing parent directories, writes a temporary file beside
/// `path`, flushes it to disk and renames it over `path`. On failure the temporary file
/// is removed and the Error (ErrorCode::Io) names the path and the errno text, e.g.
/// "cannot write out/r.json: Permission denied".
Status write_file_atomic(const std::string& path, const std::string& content);

}  // namespace lp::cli
