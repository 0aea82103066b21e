#pragma once
// What a run shows and leaves behind, whoever ran it (the engine here, Python mode,
// agents): the live side — the dashboard, the Prometheus endpoint, the timeline and
// step points the results are built from — and the end: the summary with its
// thresholds table, then --results-json, --save-baseline, --report and --junit. One
// class, so every way of running looks and writes the same.
//
//   auto display = RunDisplay::start(plan, options);     // the metrics port, before any traffic
//   run_options.on_snapshot = [&](auto& s) { display->show(s); };
//   run_options.on_stats = [&](auto& s, auto& stats) { display->keep(s, stats); };
//   ... run ...
//   display->stop_live();
//   bool written = display->finish(end);

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/dashboard.hpp"
#include "cli/metrics_endpoint.hpp"
#include "cli/outputs.hpp"
#include "cli/results.hpp"
#include "cli/steps.hpp"
#include "cli/summary.hpp"
#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cli {

struct RunDisplayOptions {
  std::uint16_t metrics_port = kDefaultMetricsPort;  ///< 0: no Prometheus endpoint
  bool metrics_port_chosen = false;                  ///< a busy port is then an error, not a warning
  std::string mode = "static";                       ///< "static" or "python": results, Prometheus info
  OutputPaths paths;
  std::vector<std::string> command_line;             ///< argv as typed, for the results
};

/// The end of a run, as its runner knows it.
struct RunEnd {
  metrics::Snapshot final;  ///< phase "done"; a distributed run's carries its agents
  metrics::RunStats stats;  ///< the cumulative stats behind `final`
  std::vector<metrics::ThresholdResult> thresholds;
  std::optional<SetupStats> setup;  ///< on_start / on_stop calls, when any ran
  std::vector<std::pair<std::string, std::uint64_t>> check_failures;  ///< Python mode
  std::optional<VUsersRow> vusers;                                    ///< Python mode's pool
  std::vector<std::string> notes;  ///< lines printed after the summary (the pool's story)
  double started_at = 0, finished_at = 0;  ///< unix seconds
};

class RunDisplay {
 public:
  /// Starts the metrics endpoint and the dashboard for `plan`. Errors: the metrics port
  /// the user chose cannot be bound (checked before any traffic).
  static Result<std::unique_ptr<RunDisplay>> start(const core::Plan& plan, RunDisplayOptions options);

  /// One snapshot: the dashboard, and the timeline the results keep.
  void show(const metrics::Snapshot& snapshot);
  /// The cumulative stats behind a snapshot: step-mode figures and Prometheus.
  void keep(const metrics::Snapshot& snapshot, const metrics::RunStats& cumulative);
  /// A progress line during the run: above the dashboard on a terminal (so the redraw
  /// stays whole), otherwise on stderr.
  void say(std::string_view line);
  /// The dashboard's last frame stays; what is printed next goes below it.
  void stop_live();

  /// Prints the summary (and the agents table of a distributed run), the check
  /// failures and `end.notes` to stdout, then writes every output asked for. Returns
  /// false when one could not be written (each failure is on stderr).
  bool finish(RunEnd end);

 private:
  RunDisplay(const core::Plan& plan, RunDisplayOptions options, MetricsEndpoint endpoint);

  core::Plan plan_;  ///< without its tasks' calls: only the profile and thresholds are read
  RunDisplayOptions options_;
  MetricsEndpoint endpoint_;
  bool interactive_;
  Dashboard dashboard_;
  StepTracker steps_;
  std::vector<metrics::Snapshot> timeline_;
};

}  // namespace lp::cli
