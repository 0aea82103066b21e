#pragma once
// The machine-readable outcome of a run: what --results-json writes, what
// --save-baseline keeps in .loadpilot/baseline.json, what `compare` reads back and what
// the HTML report is drawn from. Every field is documented in docs/results.md.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/steps.hpp"
#include "cli/summary.hpp"
#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cli {

/// Where --save-baseline writes, relative to the working directory.
inline constexpr const char* kBaselinePath = ".loadpilot/baseline.json";

/// Version of the results document; bumped when a key changes meaning or goes away.
/// 2: run metadata (LoadPilot build, command line, profile, agents), per-task success
/// latency, steps and knee, sparse histograms, per-interval errors by kind, late and
/// dropped in the timeline.
inline constexpr int kResultsSchemaVersion = 2;

/// One agent of a distributed run, as the last snapshot saw it.
struct AgentRow {
  std::string id;
  std::string state;             ///< e.g. "running", "done", "timed_out"
  std::uint64_t requests = 0;
  double start_skew_ms = 0;      ///< its measured start minus the planned start_at

  friend bool operator==(const AgentRow&, const AgentRow&) = default;
};

/// Python mode's pool of virtual users, as the run used it.
struct VUsersRow {
  std::uint32_t size = 0;      ///< users the pool started with
  std::uint64_t started = 0;   ///< users started in all (more than size when it grew)
  std::uint32_t cap = 0;       ///< most it could grow to
  bool fixed = false;          ///< vusers was set: never grown
  bool saturated = false;      ///< an iteration found every user busy and none could start
};

struct ResultsInput {
  std::string scenario;
  std::string target_url;
  /// The plan as run: profile (mode, rps, duration_secs, ramp_up_secs, steps) and
  /// thresholds are read from it; its tasks are not written.
  core::Plan plan;
  metrics::Snapshot final;                   ///< the last snapshot of the run
  /// The final cumulative stats behind `final`, when the source had them (a local run
  /// does; a stream of snapshots alone does not): the histograms and per-task success
  /// latency come from here. Absent: `histograms` is null.
  std::optional<metrics::RunStats> final_stats;
  std::vector<metrics::ThresholdResult> thresholds;  ///< from metrics::evaluate_thresholds
  std::optional<SetupStats> setup;           ///< on_start/on_stop calls, when any ran
  double started_at = 0;                     ///< unix seconds, when the load started
  double finished_at = 0;                    ///< unix seconds, when it ended
  std::vector<metrics::Snapshot> timeline;   ///< every snapshot of the run, in order
  /// Python mode: distinct "task: message" check (or task) failures with their counts.
  std::vector<std::pair<std::string, std::uint64_t>> check_failures;
  std::string mode = "static";               ///< "static" (C++ engine) or "python" (virtual users)
  std::vector<std::string> command_line;     ///< argv as typed, program name first
  std::vector<AgentRow> agents;              ///< empty for a run on this machine
  std::vector<StepResult> steps;             ///< step mode: from step_results()
  std::optional<VUsersRow> vusers;           ///< Python mode's pool; absent in static mode
};

/// The results document (schema kResultsSchemaVersion): one JSON object, 2-space
/// indented, ending in a newline; keys in the order docs/results.md lists them.
/// Units and rounding: rates are percent (0 when nothing to divide by) rounded to 4
/// decimals; milliseconds and seconds to 3; rps to 2. duration_secs is finished_at -
/// started_at when both are set, else final.elapsed_secs; load_secs is final.load_secs
/// (falling back to elapsed_secs, then duration_secs) and rps_actual is requests_total /
/// load_secs, 0 when it is not > 0. passed is true when every threshold passed (or none
/// is set). setup is {0, 0} when absent. knee is the knee_index() step, null when no
/// step passed or not in step mode. NaN and infinities are written as null; invalid
/// UTF-8 in names is replaced with U+FFFD. Does not throw.
std::string results_json(const ResultsInput& input);

/// Writes `content` to `path` so that readers see the old file or the new one, never
/// half of it: creates missing parent directories, writes a temporary file beside
/// `path`, flushes it to disk and renames it over `path`. On failure the temporary file
/// is removed and the Error (ErrorCode::Io) names the path and the errno text, e.g.
/// "cannot write out/r.json: Permission denied".
Status write_file_atomic(const std::string& path, const std::string& content);

}  // namespace lp::cli
