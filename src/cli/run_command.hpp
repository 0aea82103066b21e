#pragma once
// `loadpilot run`: load a scenario file, build and validate its plan, then either print
// the plan (--dry-run) or run it — here, or on agents (--agents / --external-agents,
// through the cluster library in-process) — and report.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/overrides.hpp"
#include "cli/run_display.hpp"
#include "core/result.hpp"

namespace lp::cli {

/// Process exit codes of `loadpilot`.
enum class ExitCode : int {
  Ok = 0,
  ThresholdsFailed = 1,  ///< the run finished and at least one threshold was breached
  Usage = 2,             ///< bad flags, an invalid scenario or plan, a Python error
  /// The run could not start or was cut short: on agents (they did not come, NATS refused
  /// the connection or the token, the broker's port is taken, an agent cannot run the plan);
  /// with --coordinator-url (the service is busy, refused the token, cannot be reached, or
  /// its stream dropped).
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
  // Distributed mode (docs/distributed.md), each as typed: checked with the scenario.
  std::string agents;                                ///< --agents N: N loadpilot-agent here; empty: none
  std::string external_agents;                       ///< --external-agents N: N agents started elsewhere
  std::string broker_addr;                           ///< --broker-addr ADDR:PORT; empty: 0.0.0.0:4222 (external), 127.0.0.1:0 (local)
  std::string nats_url;                              ///< --nats-url URL: that server instead of the embedded broker
  std::string nats_token;                            ///< --nats-token, else $NATS_TOKEN; empty: none (local agents: random)
  std::string wait_for_agents;                       ///< --wait-for-agents D; empty: 30s (local), 5m (external)
  /// --coordinator-url, else $LOADPILOT_COORDINATOR_URL: run on that coordinator service.
  std::string coordinator_url;
};

/// Runs the command. The plan JSON (dry run), dashboard and summary go to stdout; errors,
/// tracebacks and notes to stderr. Every validation problem is printed before returning
/// ExitCode::Usage; nothing is sent to the target before validation passed.
ExitCode run_command(const RunArgs& args);

// Shared by the ways `run` runs a plan (here: run_command.cpp; on agents: run_on_agents.cpp).

/// The outputs and metrics port the flags ask for; `mode` is "static" or "python".
RunDisplayOptions display_options(const RunArgs& args, const char* mode);
/// A count flag as typed (--vusers, --agents): a whole number from 1 to `max`, or
/// nullopt with the problem added to `problems`.
std::optional<std::uint32_t> parse_count(const char* flag, const std::string& text, std::uint32_t max,
                                         std::vector<std::string>& problems);
/// "error: MESSAGE" and "hint: HINT" on stderr.
void print_error(const Error& error);
/// Every problem as a bullet under one heading on stderr, so a user fixes them in one go.
void print_problems(const std::string& heading, const std::vector<std::string>& problems);
/// Now, in unix seconds.
double unix_now();

}  // namespace lp::cli
