#include "cli/cli_main.hpp"

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/build_info.hpp"
#include "cli/compare.hpp"
#include "cli/init_command.hpp"
#include "cli/metrics_endpoint.hpp"
#include "cli/remote_run.hpp"
#include "cli/results.hpp"
#include "cli/run_command.hpp"
#include "cli/terminal.hpp"

namespace lp::cli {

namespace {

// Every flag's help ends with its default, so `--help` alone says what a run does
// without it.
void add_run_options(CLI::App& run, RunArgs& args, std::string& metrics_port) {
  run.add_option("SCENARIO_FILE", args.scenario_file,
                 "Python file with @scenario classes (default: pick one from . and ./scenarios)");
  run.add_option("--target", args.target_url, "Base URL the scenario's paths are relative to (default: http://localhost:8000)")
      ->type_name("URL");
  run.add_option("--scenario", args.scenario_name,
                 "Which @scenario class to run when the file has several (default: ask on a terminal, else the first)")
      ->type_name("NAME");
  // Taken as text: a bad value is listed with the scenario's other problems.
  run.add_option("--vusers", args.vusers,
                 "Virtual users in Python mode, fixed (default: min(max(5, rps/100), 100), grown on demand)")
      ->type_name("N");
  run.add_flag("--dry-run", args.dry_run, "Validate and print the plan JSON; send nothing (default: off)");
  // One KEY=VALUE per flag (repeat the flag): otherwise a file name after it is eaten.
  run.add_option("--threshold", args.threshold_overrides,
                 "KEY=VALUE limit over the scenario's: p50_ms, p95_ms, p99_ms, max_ms, error_rate, dropped_rate; "
                 "repeatable (default: the scenario's; dropped_rate 1)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  run.add_option("--rps", args.settings.rps, "Iterations per second at full rate (default: the scenario's rps)")
      ->type_name("R");
  run.add_option("--duration", args.settings.duration, "Length of the load, e.g. 90, 30s, 2m30s (default: the scenario's)")
      ->type_name("D");
  run.add_option("--ramp-up", args.settings.ramp_up, "Ramp mode's climb from 0 to rps (default: the scenario's)")
      ->type_name("D");
  run.add_option("--mode", args.settings.mode, "Load profile: ramp, constant, step or spike (default: the scenario's)")
      ->type_name("M");
  run.add_option("--steps", args.settings.steps, "Step mode's number of steps (default: the scenario's)")->type_name("N");
  run.add_option("--results-json", args.results_json_path, "Write the results document to PATH (default: not written)")
      ->type_name("PATH");
  run.add_flag("--save-baseline", args.save_baseline,
               "Also write the results to .loadpilot/baseline.json, for compare (default: off)");
  run.add_option("--report", args.report_path, "Write a self-contained HTML report to PATH (default: not written)")
      ->type_name("PATH");
  run.add_option("--report-ranges", args.report_ranges,
                 "The report's response-time range limits in ms (default: 100,500,1000)")
      ->type_name("MS,MS,...");
  run.add_option("--junit", args.junit_path, "Write the thresholds as JUnit XML test cases to PATH (default: not written)")
      ->type_name("PATH");
  run.add_option("--metrics-port", metrics_port,
                 "Serve Prometheus metrics on this port while the test runs; 0: off (default: 9090)")
      ->type_name("PORT");
  // Distributed mode (docs/distributed.md). Counts taken as text: listed with the other problems.
  run.add_option("--agents", args.agents,
                 "Run on N loadpilot-agent processes started here, over an embedded NATS broker on 127.0.0.1 "
                 "(default: off, the engine runs in this process)")
      ->type_name("N");
  run.add_option("--external-agents", args.external_agents,
                 "Run on N agents started elsewhere: loadpilot-agent --coordinator THIS-HOST:4222 --agent-id ID "
                 "(default: off)")
      ->type_name("N");
  run.add_option("--broker-addr", args.broker_addr,
                 "Where the embedded NATS broker listens (default: 0.0.0.0:4222 with --external-agents, "
                 "127.0.0.1 on a free port with --agents)")
      ->type_name("ADDR:PORT");
  run.add_option("--nats-url", args.nats_url,
                 "Use this NATS server instead of the embedded broker, e.g. nats://host:4222 (default: the "
                 "embedded broker)")
      ->type_name("URL");
  run.add_option("--nats-token", args.nats_token,
                 "NATS auth token, for the broker and the agents (default: $NATS_TOKEN; none, or a random one "
                 "for --agents on the embedded broker)")
      ->type_name("T")
      ->envname("NATS_TOKEN");
  run.add_option("--wait-for-agents", args.wait_for_agents,
                 "How long to wait for the agents to register (default: 30s with --agents, 5m with "
                 "--external-agents)")
      ->type_name("D");
  run.add_option("--coordinator-url", args.coordinator_url,
                 "Run on a coordinator service (loadpilot-coordinator --serve), e.g. http://localhost:8080; "
                 "its API token from $LOADPILOT_API_TOKEN (default: $LOADPILOT_COORDINATOR_URL, else off)")
      ->type_name("URL")
      ->envname(kCoordinatorUrlEnv);
}

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"LoadPilot: load tests written as Python classes, fired by a C++ engine", "loadpilot"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and build, then exit");

  CLI::App* version = app.add_subcommand("version", "Print the version and build (git commit, build type, compiler)");
  RunArgs run_args;
  run_args.command_line.assign(argv, argv + argc);
  run_args.metrics_port = kDefaultMetricsPort;
  CLI::App* run = app.add_subcommand("run", "Run a scenario file against a target");
  std::string metrics_port;
  add_run_options(*run, run_args, metrics_port);

  CompareArgs compare_args;
  CLI::App* compare = app.add_subcommand("compare", "Compare a run's results with a baseline; exit 1 on a regression");
  compare->add_option("CURRENT", compare_args.current, "Results of the run to judge (from run --results-json)")->required();
  compare->add_option("BASELINE", compare_args.baseline,
                      std::string("Results to compare with (default: ") + kBaselinePath + ")");
  compare->add_option("--threshold", compare_args.threshold,
                      "Percent a figure may get worse before it counts as a regression (default: 10)")
      ->type_name("PCT");

  std::string init_dir = ".";
  CLI::App* init = app.add_subcommand(
      "init", "Scaffold a project: an example scenario, Prometheus + Grafana files, .env.example");
  init->add_option("DIRECTORY", init_dir, "Where to write the files; existing files are never overwritten (default: .)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::fprintf(stderr, "hint: see 'loadpilot --help' or 'loadpilot COMMAND --help'\n");
    return static_cast<int>(ExitCode::Usage);
  }

  if (show_version || version->parsed()) {
    std::fputs(version_text().c_str(), stdout);
    return static_cast<int>(ExitCode::Ok);
  }
  if (compare->parsed()) {
    const bool color = stdout_is_terminal() && std::getenv("NO_COLOR") == nullptr;
    return compare_command(compare_args, stdout, stderr, color);
  }
  if (init->parsed()) return init_command(init_dir, stdout, stderr);
  if (run->parsed() && run->get_option("--metrics-port")->count() > 0) {
    char* end = nullptr;
    const unsigned long port = std::strtoul(metrics_port.c_str(), &end, 10);
    if (metrics_port.empty() || *end != '\0' || metrics_port[0] == '-' || port > 65535) {
      std::fprintf(stderr, "error: --metrics-port must be a port number from 0 to 65535, got '%s'\n", metrics_port.c_str());
      std::fprintf(stderr, "hint: e.g. --metrics-port 9091, or --metrics-port 0 for no metrics\n");
      return static_cast<int>(ExitCode::Usage);
    }
    run_args.metrics_port = static_cast<std::uint16_t>(port);
    run_args.metrics_port_chosen = true;
  }
  if (!run->parsed()) {
    std::fprintf(stderr, "error: A subcommand is required\n");
    std::fprintf(stderr, "hint: see 'loadpilot --help' for the commands\n");
    return static_cast<int>(ExitCode::Usage);
  }
  return static_cast<int>(run_command(run_args));
}

}  // namespace lp::cli
