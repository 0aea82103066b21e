#include "cli/cli_main.hpp"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/build_info.hpp"
#include "cli/run_command.hpp"

namespace lp::cli {

namespace {

void add_run_options(CLI::App& run, RunArgs& args) {
  run.add_option("SCENARIO_FILE", args.scenario_file, "Python file with @scenario classes");
  run.add_option("--target", args.target_url, "Base URL the scenario's paths are relative to")
      ->capture_default_str();
  run.add_option("--scenario", args.scenario_name, "Which @scenario class to run when the file has several");
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
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and build, then exit");

  CLI::App* version = app.add_subcommand("version", "Print the version and build (git commit, build type, compiler)");
  RunArgs run_args;
  run_args.command_line.assign(argv, argv + argc);
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

  if (show_version || version->parsed()) {
    std::fputs(version_text().c_str(), stdout);
    return static_cast<int>(ExitCode::Ok);
  }
  if (!run->parsed()) {
    std::fprintf(stderr, "error: A subcommand is required\n");
    std::fprintf(stderr, "hint: see 'loadpilot --help' for the commands\n");
    return static_cast<int>(ExitCode::Usage);
  }
  return static_cast<int>(run_command(run_args));
}

}  // namespace lp::cli
