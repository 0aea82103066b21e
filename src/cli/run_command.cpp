#include "cli/run_command.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <unistd.h>

#include "cli/overrides.hpp"
#include "cli/remote_run.hpp"
#include "cli/report.hpp"
#include "cli/run_display.hpp"
#include "cli/run_on_agents.hpp"
#include "cli/scenario_picker.hpp"
#include "cli/stop_signals.hpp"
#include "cli/terminal.hpp"
#include "cli/thresholds.hpp"
#include "core/plan_json.hpp"
#include "core/validate.hpp"
#include "engine/runner.hpp"
#include "metrics/thresholds.hpp"
#include "python/scenario.hpp"
#include "python/vuser_pool.hpp"
#include "python/vuser_runner.hpp"

namespace lp::cli {

namespace {

std::vector<std::string> split_lines(const std::string& text, const char* separator) {
  std::vector<std::string> out;
  std::string sep(separator);
  std::size_t start = 0;
  while (true) {
    auto end = text.find(sep, start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + sep.size();
  }
  return out;
}

/// build_plan's validation failures are one problem per line and carry no hint; an
/// on_start traceback (or a bug) is printed whole instead.
bool is_problem_list(const Error& error) {
  return error.code == ErrorCode::Invalid && error.hint.empty();
}

/// What happened to the pool of virtual users (Python mode), for after the summary.
std::vector<std::string> pool_notes(const python::PoolReport& pool) {
  std::string line = "  virtual users: ";
  if (pool.started > pool.size) {
    line += "grew the pool from " + std::to_string(pool.size) + " to " + std::to_string(pool.started) +
            " virtual users: every user was busy";
    if (pool.saturated) line += " (" + std::to_string(pool.cap) + " is the most it grows to)";
  } else if (pool.fixed && pool.saturated) {
    line += std::to_string(pool.size) +
            " (vusers, fixed), all busy at times: due iterations waited for a free one (see late / dropped); "
            "raise vusers, or leave it unset to let the pool grow";
  } else {
    line += std::to_string(pool.started);
  }
  std::vector<std::string> out{line};
  if (pool.stuck > 0) {
    out.push_back("  " + std::to_string(pool.stuck) + " virtual user" + (pool.stuck == 1 ? "" : "s") +
                  " held the thread after the stop and " + (pool.stuck == 1 ? "was" : "were") +
                  " interrupted (on_stop skipped)");
  }
  return out;
}

/// How the scenario will run: a vusers that static mode ignores, and with `dry_run`
/// the pool of virtual users Python mode will start.
void print_mode_note(const python::ScenarioInfo& scenario, const core::Plan& plan, bool dry_run) {
  if (!python::needs_python_mode(scenario)) {
    if (plan.vusers != 0) {
      std::fprintf(stderr, "note: vusers (%u) has no effect: %s runs in static mode, from the captured plan\n",
                   plan.vusers, plan.name.c_str());
    }
    return;
  }
  if (!dry_run) return;  // the summary says what the pool did
  python::VUserPool pool(plan);
  if (pool.fixed()) {
    std::fprintf(stderr, "note: %s runs in Python mode with %u virtual users (vusers)\n", plan.name.c_str(),
                 pool.size());
  } else {
    std::fprintf(stderr,
                 "note: %s runs in Python mode with %u virtual users to start (for %g rps), grown on demand up to %u "
                 "when every user is busy; set vusers for a fixed pool\n",
                 plan.name.c_str(), pool.size(), plan.rps, pool.cap());
  }
}

/// Several @scenario classes and no --scenario: the picker on a terminal, else the
/// first with a note naming the others.
Result<python::ScenarioInfo> choose_scenario(python::ScenarioInfo scenario, const std::string& file) {
  if (scenario.choices.size() < 2) return scenario;
  std::string shown = std::filesystem::path(file).filename().string();
  if (::isatty(STDIN_FILENO) && stdout_is_terminal()) {
    auto picked = pick_scenario_class(scenario.choices, shown, stdin, stdout);
    if (!picked) return std::move(picked).error();
    if (*picked == scenario.name) return scenario;
    return python::select_scenario(scenario, *picked);
  }
  std::string others;
  for (const auto& name : scenario.choices) others += (others.empty() ? "" : ", ") + name;
  std::fprintf(stderr, "note: running %s (first of %zu in %s: %s); pick another with --scenario NAME\n",
               scenario.name.c_str(), scenario.choices.size(), shown.c_str(), others.c_str());
  return scenario;
}

ExitCode run_plan_here(const python::ScenarioInfo& scenario, const core::Plan& plan, const RunArgs& args) {
  const bool python_mode = python::needs_python_mode(scenario);
  auto display = RunDisplay::start(plan, display_options(args, python_mode ? "python" : "static"));
  if (!display) {
    print_error(display.error());  // before any traffic
    return ExitCode::Usage;
  }
  engine::RunOptions options;
  options.on_snapshot = [&](const metrics::Snapshot& s) { (*display)->show(s); };
  options.on_stats = [&](const metrics::Snapshot& s, const metrics::RunStats& stats) { (*display)->keep(s, stats); };
  options.stop = &stop_requested();
  options.stop_now = &stop_now_requested();

  RunEnd end;
  end.started_at = unix_now();
  std::optional<python::PoolReport> pool;
  Result<engine::RunResult> result = [&]() -> Result<engine::RunResult> {
    StopSignals signals;
    if (!python_mode) return engine::run_plan(plan, options);
    auto py = python::run_python_mode(scenario, plan, options);
    if (!py) return std::move(py).error();
    if (scenario.has_on_start || scenario.has_on_stop) end.setup = SetupStats{py->setup.requests, py->setup.errors};
    end.check_failures = std::move(py->check_failures);
    pool = py->pool;
    return std::move(py->run);
  }();
  end.finished_at = unix_now();
  (*display)->stop_live();

  if (!result) {
    print_error(result.error());
    return ExitCode::Usage;
  }
  if (result->final_snapshot.stopped && result->final_snapshot.iterations == 0) {
    // Stopped before a single iteration went out (Ctrl+C during on_start, say): a run
    // that never happened must not read as a pass. As a run on agents does.
    std::string setup;
    if (end.setup) setup = " (on_start/on_stop made " + std::to_string(end.setup->requests) + " setup requests)";
    std::fprintf(stderr, "stopped before the load started: no iteration was sent%s\n", setup.c_str());
    return ExitCode::CannotStart;
  }
  end.final = result->final_snapshot;
  end.stats = std::move(result->stats);
  end.thresholds = metrics::evaluate_thresholds(plan.thresholds, end.final);
  if (pool) {
    end.notes = pool_notes(*pool);
    end.vusers = VUsersRow{pool->size, pool->started, pool->cap, pool->fixed, pool->saturated};
  }
  const bool passed = metrics::all_passed(end.thresholds);
  if (!(*display)->finish(std::move(end))) return ExitCode::Usage;
  return passed ? ExitCode::Ok : ExitCode::ThresholdsFailed;
}

/// --coordinator-url: the plan runs on a coordinator service; its stream drives the same
/// dashboard, summary, outputs and exit codes as a run here (cli/remote_run.hpp). A
/// scenario with on_start/on_stop gets the pre-auth pool as with --agents: on_start here,
/// the users' calls in the plan, on_stop after the run (on every way out).
ExitCode run_on_coordinator(const python::ScenarioInfo& scenario, core::Plan plan, const RunArgs& args) {
  StopSignals signals;
  const std::uint32_t pool_users = preauth_pool_size(scenario, plan);
  print_distributed_notes(scenario, plan);

  // Declared in this order so that the pool (on_stop) goes before the display.
  std::unique_ptr<RunDisplay> display;
  python::PreAuthPool pool;
  if (!args.dry_run) {
    auto started = RunDisplay::start(plan, display_options(args, "static"));
    if (!started) {
      print_error(started.error());  // before any traffic
      return ExitCode::Usage;
    }
    display = std::move(*started);
  }
  if (auto out = fill_preauth_pool(scenario, plan, pool_users, pool)) return *out;
  if (args.dry_run) {
    std::printf("%s\n", core::plan_to_json(plan, /*pretty=*/true).c_str());
    std::fflush(stdout);
    pool.stop();  // on_stop after --dry-run too, as with --agents
    return ExitCode::Ok;
  }

  RemoteRunOptions options;
  options.coordinator_url = args.coordinator_url;
  if (const char* token = std::getenv(kApiTokenEnv)) options.api_token = token;
  options.stop = &stop_requested();
  options.stop_now = &stop_now_requested();
  options.on_snapshot = [&display](const metrics::Snapshot& s, const metrics::RunStats* stats) {
    display->show(s);
    if (stats != nullptr) display->keep(s, *stats);
  };
  options.on_note = [&display](std::string_view line) { display->say("note: " + std::string(line)); };

  RunEnd end;
  end.started_at = unix_now();
  Result<RemoteRunResult> result = run_remote(plan, options);
  end.finished_at = unix_now();
  display->stop_live();
  if (!result) {
    print_error(result.error());
    return result.error().code == ErrorCode::Invalid ? ExitCode::Usage : ExitCode::CannotStart;
  }
  if (pool_users > 0) {
    const python::SetupCounts setup = pool.stop();
    end.setup = SetupStats{setup.requests, setup.errors};
  }
  end.final = std::move(result->final_snapshot);
  end.stats = result->stats.value_or(metrics::RunStats(plan.tasks.size()));
  end.thresholds = result->thresholds.value_or(metrics::evaluate_thresholds(plan.thresholds, end.final));
  const bool passed = metrics::all_passed(end.thresholds);
  if (!display->finish(std::move(end))) return ExitCode::Usage;
  return passed ? ExitCode::Ok : ExitCode::ThresholdsFailed;
}

}  // namespace

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

void print_error(const Error& error) {
  std::fprintf(stderr, "error: %s\n", error.message.c_str());
  if (!error.hint.empty()) std::fprintf(stderr, "hint: %s\n", error.hint.c_str());
}

void print_problems(const std::string& heading, const std::vector<std::string>& problems) {
  std::fprintf(stderr, "error: %s\n", heading.c_str());
  for (const auto& p : problems) std::fprintf(stderr, "  - %s\n", p.c_str());
}

std::optional<std::uint32_t> parse_count(const char* flag, const std::string& text, std::uint32_t max,
                                         std::vector<std::string>& problems) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || n < 1 || n > max) {
    problems.push_back(std::string(flag) + " must be a whole number >= 1" +
                       (max < UINT32_MAX ? " and <= " + std::to_string(max) : std::string()) + ", got '" + text + "'");
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
}

RunDisplayOptions display_options(const RunArgs& args, const char* mode) {
  RunDisplayOptions o;
  o.metrics_port = args.metrics_port;
  o.metrics_port_chosen = args.metrics_port_chosen;
  o.mode = mode;
  o.command_line = args.command_line;
  o.paths.results_json = args.results_json_path;
  o.paths.save_baseline = args.save_baseline;
  o.paths.report = args.report_path;
  o.paths.junit = args.junit_path;
  if (!args.report_ranges.empty()) o.paths.report_options.ranges_ms = parse_report_ranges(args.report_ranges).value();
  return o;
}

ExitCode run_command(const RunArgs& args) {
  std::string file = args.scenario_file;
  if (file.empty()) {
    bool interactive = ::isatty(STDIN_FILENO) && stdout_is_terminal();
    auto picked = pick_scenario_file(find_scenario_files("."), stdin, stdout, interactive);
    if (!picked) {
      print_error(picked.error());
      return ExitCode::Usage;
    }
    file = picked->string();
  }
  auto scenario = python::load_scenario(file, args.scenario_name);
  if (scenario && args.scenario_name.empty()) scenario = choose_scenario(std::move(*scenario), file);
  if (!scenario) {
    print_error(scenario.error());
    return ExitCode::Usage;
  }

  // Threshold flags are checked up front so their problems are listed with the
  // scenario's; they are applied once the scenario's own thresholds are known.
  std::vector<std::string> problems;
  if (auto check = apply_threshold_overrides({}, args.threshold_overrides); !check) {
    problems = split_lines(check.error().message, "; ");
  }
  if (!args.report_ranges.empty()) {
    if (auto ranges = parse_report_ranges(args.report_ranges); !ranges) problems.push_back(ranges.error().message);
  }
  const SettingOverrides overrides = parse_setting_flags(args.settings, problems);
  std::optional<std::uint32_t> vusers;
  if (!args.vusers.empty()) vusers = parse_count("--vusers", args.vusers, UINT32_MAX, problems);
  const std::optional<Distribution> distribution = parse_distribution(args, problems);
  const bool remote = !args.coordinator_url.empty();
  if (remote) {
    if (auto problem = coordinator_url_problem(args.coordinator_url)) problems.push_back(*problem);
    if (!args.agents.empty() || !args.external_agents.empty()) {
      problems.push_back("--coordinator-url runs the plan on the service's agents: it cannot be combined with "
                         "--agents or --external-agents (unset LOADPILOT_COORDINATOR_URL for a run on your own)");
    }
  }

  python::BuildOptions options;
  options.target_url = args.target_url;
  options.distributed = remote || !args.agents.empty() || !args.external_agents.empty();
  auto plan = python::build_plan(*scenario, options);
  if (!plan && !is_problem_list(plan.error())) {
    print_error(plan.error());  // an on_start traceback, or a bug
    return ExitCode::Usage;
  }
  if (!plan) {
    auto listed = split_lines(plan.error().message, "\n");
    problems.insert(problems.begin(), listed.begin(), listed.end());
  }
  std::vector<std::string> overridden;
  if (plan && !overrides.empty()) {
    // The scenario's plan passed validation; what fails now is the overrides'.
    overridden = describe_overrides(overrides, *plan);
    apply_overrides(overrides, *plan);
    for (auto& problem : core::validate(*plan)) problems.push_back(std::move(problem));
  }
  if (!problems.empty()) {
    print_problems("scenario " + scenario->name + " (" + file + ") is not valid:", problems);
    return ExitCode::Usage;
  }
  plan->thresholds = apply_threshold_overrides(plan->thresholds, args.threshold_overrides).value();
  if (vusers) plan->vusers = *vusers;
  if (!overridden.empty()) {
    std::string line;
    for (const auto& o : overridden) line += (line.empty() ? "" : ", ") + o;
    std::fprintf(stderr, "note: from the command line: %s\n", line.c_str());
  }

  if (distribution) return run_on_agents(*scenario, std::move(*plan), *distribution, args);
  if (remote) return run_on_coordinator(*scenario, std::move(*plan), args);
  print_mode_note(*scenario, *plan, args.dry_run);
  if (args.dry_run) {
    std::printf("%s\n", core::plan_to_json(*plan, /*pretty=*/true).c_str());
    return ExitCode::Ok;
  }
  return run_plan_here(*scenario, *plan, args);
}

}  // namespace lp::cli
