#pragma once
// `loadpilot compare CURRENT [BASELINE] [--threshold PCT]`: a run against a baseline
// (two results documents, docs/results.md), with the difference of rps, p50, p95, p99
// and error rate, and whether any got worse by more than PCT percent.
//
// Noise: a second run of the same system is never identical. Where both documents hold
// interval timelines, each figure's spread is the standard deviation of its per-interval
// values over the steady intervals of each run (the larger of the two runs'). A change
// beyond PCT whose size is within that spread is reported as "within noise", not as a
// regression: the run's own second-to-second variation is larger than the change.

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace lp::cli {

/// The figures `compare` reads from one results document.
struct CompareFigures {
  std::string path;
  std::string scenario, target_url, started;  ///< started: ISO time, or "" when unknown
  std::string profile;                        ///< "ramp 100 rps 1m30s", for the "different runs" note
  int schema_version = 0;
  double rps = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0, error_rate = 0;
  /// Standard deviation of each figure over the intervals wholly inside the steady
  /// phase (the first steady snapshot's interval is left out); nullopt with fewer
  /// than kMinIntervals of them (no timeline, or too short a run).
  std::optional<double> rps_spread, p50_spread, p95_spread, p99_spread, error_rate_spread;
  std::size_t steady_intervals = 0;
};

/// Steady intervals a run needs before its spread is used.
inline constexpr std::size_t kMinIntervals = 3;

/// Reads and checks a results document (schema 1 or 2). Errors (ErrorCode::Invalid)
/// name the file: it cannot be read, is not JSON, has no schema_version (not a results
/// file), a schema this binary does not read, or lacks a figure compare needs.
Result<CompareFigures> read_compare_figures(const std::string& path);

enum class Verdict { Same, Better, Worse, WithinNoise, Regression };

struct CompareRow {
  std::string metric;        ///< rps, p50_ms, p95_ms, p99_ms, error_rate
  double baseline = 0, current = 0;
  std::optional<double> change_pct;  ///< (current - baseline) / baseline · 100; nullopt when baseline is 0 and current is not
  std::optional<double> spread;      ///< noise band in the metric's unit
  bool higher_is_better = false;
  Verdict verdict = Verdict::Same;
};

struct Comparison {
  std::vector<CompareRow> rows;
  std::vector<std::string> notes;  ///< "the runs differ: ..." (scenario, target, profile)
  bool regressed = false;          ///< any row is a Regression
};

/// Judges `current` against `baseline`. A row is Same when the figures are equal (or
/// both 0), Better/Worse by direction, Regression when worse by more than `threshold_pct`
/// percent and by more than its spread (when known), WithinNoise when worse by more than
/// `threshold_pct` but not by more than the spread. From a baseline of 0 any increase of
/// a lower-is-better figure (0 errors, then some) counts as beyond every threshold.
Comparison compare_runs(const CompareFigures& current, const CompareFigures& baseline, double threshold_pct);

/// The table `loadpilot compare` prints. `color`: ANSI green for better, red for worse
/// and regressions (pass it only for a terminal).
std::string render_comparison(const Comparison& comparison, const CompareFigures& current,
                              const CompareFigures& baseline, double threshold_pct, bool color);

/// `loadpilot compare` flags.
struct CompareArgs {
  std::string current;
  std::string baseline;           ///< empty: kBaselinePath
  std::string threshold = "10";   ///< as typed: percent >= 0
};

/// Runs the command: the table on `out`, errors on `err`. Returns the exit code: 0 no
/// regression, 1 a regression beyond the threshold, 2 a file that cannot be read or is
/// not a results document of a schema this binary reads, or a bad --threshold.
int compare_command(const CompareArgs& args, std::FILE* out, std::FILE* err, bool color);

}  // namespace lp::cli
