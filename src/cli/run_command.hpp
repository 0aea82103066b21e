#pragma once
// `loadpilot run`: load a scenario file, build and validate its plan, then either print
// the plan (--dry-run) or run it here and report.

#include <cstdint>
#include <string>
#include <vector>

#include "cli/overrides.hpp"

namespace lp::cli {

/// Process exit codes of `loadpilot`.
enum class ExitCode : int {
  Ok = 0,
  ThresholdsFailed = 1,  ///< the run finished and at least one threshold was breached
  Usage = 2,             ///< bad flags, an invalid scenario or plan, a Python error
  /// The run could not start or was cut short (--coordinator-url: the service is busy,
  /// refused the token, cannot be reached, or its stream dropped).
  CannotStart = 3,
};

/// `loadpilot run` flags, as parsed by cli_main.cpp.
struct RunArgs {
  std::string scenario_file;                         ///< empty: none given
  std::string target_url = "http://localhost:8000";
  std::string scenario_name;                         ///< --scenario; empty: picked, or the first
  std::string vusers;                                ///< --vusers N as typed; empty: the scenario's
  bool dry_run = false;
  std::vector<std::string> threshold_overrides;      ///< --threshold KEY=VALUE, in order
  std::string results_json_path;                     ///< empty: not written
  bool save_baseline = false;
  std::string report_path;                           ///< --report; empty: not written
  std::string report_ranges;                         ///< --report-ranges as typed; empty: the default
  std::string junit_path;                            ///< --junit; empty: not written
  std::vector<std::string> command_line;             ///< argv as typed, for the results' metadata
  SettingFlags settings;                             ///< --rps, --duration, --ramp-up, --mode, --steps as typed
  std::uint16_t metrics_port = 9090;                 ///< --metrics-port; 0: no metrics
  bool metrics_port_chosen = false;                  ///< given on the command line: a busy port is an error
  /// --coordinator-url, else $LOADPILOT_COORDINATOR_URL: run on that coordinator service.
  std::string coordinator_url;
};

/// Runs the command. The plan JSON (dry run), dashboard and summary go to stdout; errors,
/// tracebacks and notes to stderr. Every validation problem is printed before returning
/// ExitCode::Usage; nothing is sent to the target before validation passed.
ExitCode run_command(const RunArgs& args);

}  // namespace lp::cli
