#include "cli/cli_main.hpp"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/run_command.hpp"

namespace lp::cli {

namespace {

void add_run_options(CLI::App& run, RunArgs& args) {
  run.add_option("SCENARIO_FILE", args.scenario_file, "Python file with @scenario classes");
  run.add_option("--target", args.target_url, "Base URL the scenario's paths are relative to")
      ->capture_default_str();
  run.add_option("--scenario", args.scenario_name, "Which @scenario class to run when the file has several");
  // Taken as text: a bad value is listed with the scenario's other problems.
  run.add_option("--vusers", args.vusers,
                 "Virtual users in Python mode, fixed (default: min(max(5, rps/100), 100), grown on demand)")
      ->type_name("N");
  run.add_flag("--dry-run", args.dry_run, "Validate and print the plan JSON; send nothing");
  // One KEY=VALUE per flag (repeat the flag): otherwise a file name after it is eaten.
  run.add_option("--threshold", args.threshold_overrides,
                 "KEY=VALUE limit over the scenario's (p50_ms, p95_ms, p99_ms, max_ms, error_rate); repeatable")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  run.add_option("--results-json", args.results_json_path, "Write the final metrics as JSON to PATH")
      ->type_name("PATH");
  run.add_flag("--save-baseline", args.save_baseline, "Also write the results to .loadpilot/baseline.json");
}

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"LoadPilot: load tests written as Python classes, fired by a C++ engine", "loadpilot"};
  app.require_subcommand(1);

  CLI::App* version = app.add_subcommand("version", "Print the version");
  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "Run a scenario file against a target");
  add_run_options(*run, run_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::fprintf(stderr, "hint: see 'loadpilot --help' or 'loadpilot run --help'\n");
    return static_cast<int>(ExitCode::Usage);
  }

  if (version->parsed()) {
    std::printf("loadpilot %s\n", LOADPILOT_VERSION);
    return static_cast<int>(ExitCode::Ok);
  }
  return static_cast<int>(run_command(run_args));
}

}  // namespace lp::cli
