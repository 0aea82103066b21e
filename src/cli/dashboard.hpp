#pragma once
// The live view while a test runs, fed one metrics::Snapshot per interval. The same
// output in every mode (local, --agents, external agents, --coordinator-url): it only
// ever sees snapshots.

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/terminal.hpp"
#include "metrics/snapshot.hpp"

namespace lp::cli {

class Dashboard {
 public:
  /// Draws on `out`, which the caller owns and keeps open until finish(). `interactive`
  /// selects the in-place redraw (pass stdout_is_terminal()); otherwise one plain line
  /// per snapshot, for CI logs. `total_secs` is the planned wall time of the load
  /// (core::total_secs), shown as "elapsed / total" and as the progress bar; when it is
  /// 0 both the total and the bar are left out. `task_names` name the per-task rows
  /// when a snapshot's task has no name (or the snapshot has fewer tasks).
  Dashboard(std::FILE* out, bool interactive, std::string scenario_name, double total_secs,
            std::vector<std::string> task_names);

  /// Shows `snapshot`: the current interval (rps, p50/p95/p99 of the last second) beside
  /// the cumulative totals; during the drain, how many requests it waits for ("draining
  /// 5 requests ..."; after a stop, "stopping: ..." and how to cut it short); in the final
  /// snapshot, the achieved rate. Interactive: moves the cursor up over the previous
  /// frame, clears it and draws the new one; nothing else may write to `out`'s terminal
  /// in between (use print_above). Lines are cut to the terminal width so the redraw
  /// never miscounts wrapped lines. Non-interactive: appends one line, e.g.
  /// `[00:05/00:30] steady rps 99.8/100 p50 1.3ms p95 3.6ms p99 7.5ms (last 1s) · total
  /// reqs 512 err 0 (0.00%) p99 5.0ms max 9.1ms`, plus ` late N dropped M` when either is
  /// non-zero. Flushes `out` each time.
  void update(const metrics::Snapshot& snapshot);

  /// Prints `line` (no trailing newline needed) above the dashboard and redraws the last
  /// frame below it; plain append when non-interactive or nothing was drawn yet.
  void print_above(std::string_view line);

  /// Leaves the cursor on the line below the last frame, so the summary prints after
  /// it rather than over it. Idempotent; a later update() starts a new frame.
  void finish();

  /// The lines of the interactive frame for `snapshot`, without escapes or newlines,
  /// each cut to `columns` (0 = no limit). What update() draws; exposed for tests.
  std::vector<std::string> frame(const metrics::Snapshot& snapshot, std::size_t columns) const;

  /// The non-interactive line for `snapshot`, without the newline.
  std::string plain_line(const metrics::Snapshot& snapshot) const;

  /// Per-task rows shown at most; the rest are folded into one "… and N more" line.
  static constexpr std::size_t kMaxTaskRows = 20;
  /// Width of the progress bar in cells.
  static constexpr std::size_t kBarWidth = 40;

 private:
  void draw(const std::vector<std::string>& lines);
  void erase_frame();

  std::FILE* out_;
  bool interactive_;
  std::string scenario_name_;
  double total_secs_;
  std::vector<std::string> task_names_;
  std::size_t lines_drawn_ = 0;            // height of the frame on screen, for the cursor-up
  std::vector<std::string> last_frame_;    // redrawn after print_above
};

}  // namespace lp::cli
