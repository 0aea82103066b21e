#include "cli/run_command.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <unistd.h>

#include "cli/build_info.hpp"
#include "cli/dashboard.hpp"
#include "cli/metrics_endpoint.hpp"
#include "cli/outputs.hpp"
#include "cli/overrides.hpp"
#include "cli/remote_run.hpp"
#include "cli/results.hpp"
#include "cli/steps.hpp"
#include "cli/scenario_picker.hpp"
#include "cli/summary.hpp"
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

std::atomic<bool> g_stop{false};
std::atomic<bool> g_stop_now{false};  // a second Ctrl+C: cut the in-flight requests off at once

extern "C" void on_stop_signal(int) {
  if (g_stop.exchange(true)) g_stop_now.store(true);
}

/// Restores the previous SIGINT/SIGTERM handlers when the run is over.
class StopSignals {
 public:
  StopSignals() {
    g_stop.store(false);
    g_stop_now.store(false);
    int_ = std::signal(SIGINT, on_stop_signal);
    term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGINT, int_);
    std::signal(SIGTERM, term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*int_)(int) = SIG_DFL;
  void (*term_)(int) = SIG_DFL;
};

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

void print_error(const Error& error) {
  std::fprintf(stderr, "error: %s\n", error.message.c_str());
  if (!error.hint.empty()) std::fprintf(stderr, "hint: %s\n", error.hint.c_str());
}

/// Every problem as a bullet under one heading, so a user fixes them in one go.
void print_problems(const std::string& heading, const std::vector<std::string>& problems) {
  std::fprintf(stderr, "error: %s\n", heading.c_str());
  for (const auto& p : problems) std::fprintf(stderr, "  - %s\n", p.c_str());
}

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

/// The most frequent check failures, after the summary (all of them go to the results).
void print_check_failures(const std::vector<std::pair<std::string, std::uint64_t>>& failures) {
  if (failures.empty()) return;
  constexpr std::size_t kShown = 10;
  std::printf("\n  check failures\n");
  for (std::size_t i = 0; i < failures.size() && i < kShown; ++i) {
    std::printf("  %8llu× %s\n", static_cast<unsigned long long>(failures[i].second), failures[i].first.c_str());
  }
  if (failures.size() > kShown) std::printf("  … and %zu more distinct messages\n", failures.size() - kShown);
}

/// What happened to the pool of virtual users (Python mode), after the summary.
void print_pool(const python::PoolReport& pool) {
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
  std::printf("\n%s\n", line.c_str());
  if (pool.stuck > 0) {
    std::printf("  %u virtual user%s held the thread after the stop and %s interrupted (on_stop skipped)\n",
                pool.stuck, pool.stuck == 1 ? "" : "s", pool.stuck == 1 ? "was" : "were");
  }
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

/// --vusers as typed: a whole number >= 1, or a problem to list.
std::optional<std::uint32_t> parse_vusers(const std::string& text, std::vector<std::string>& problems) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || n < 1 || n > UINT32_MAX) {
    problems.push_back("--vusers must be a whole number >= 1, got '" + text + "'");
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
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
  std::vector<std::string> task_names;
  for (const auto& t : plan.tasks) task_names.push_back(t.name);
  bool python_mode = python::needs_python_mode(scenario);

  metrics::ExpositionInfo info{plan.name, plan.target_url, python_mode ? "python" : "static",
                               core::to_string(plan.mode), build_info().version, 0};
  auto endpoint = MetricsEndpoint::start(args.metrics_port, args.metrics_port_chosen, std::move(info), stderr);
  if (!endpoint) {
    print_error(endpoint.error());  // before any traffic
    return ExitCode::Usage;
  }
  {
    metrics::Snapshot empty = metrics::make_snapshot(metrics::RunStats(task_names.size()), task_names);
    endpoint->publish(empty, metrics::RunStats(task_names.size()));
  }

  Dashboard dashboard(stdout, stdout_is_terminal(), plan.name, core::total_secs(plan), task_names);
  std::vector<metrics::Snapshot> timeline;
  StepTracker steps(plan);

  engine::RunOptions options;
  options.on_snapshot = [&](const metrics::Snapshot& s) {
    dashboard.update(s);
    timeline.push_back(s);
  };
  options.on_stats = [&](const metrics::Snapshot& s, const metrics::RunStats& stats) {
    steps.add(s, stats);
    endpoint->publish(s, stats);
  };
  options.stop = &g_stop;
  options.stop_now = &g_stop_now;

  double started_at = unix_now();
  std::optional<SetupStats> setup;
  std::optional<python::PoolReport> pool;
  std::vector<std::pair<std::string, std::uint64_t>> check_failures;
  Result<engine::RunResult> result = [&]() -> Result<engine::RunResult> {
    StopSignals signals;
    if (!python_mode) return engine::run_plan(plan, options);
    auto py = python::run_python_mode(scenario, plan, options);
    if (!py) return std::move(py).error();
    if (scenario.has_on_start || scenario.has_on_stop) setup = SetupStats{py->setup.requests, py->setup.errors};
    check_failures = std::move(py->check_failures);
    pool = py->pool;
    return std::move(py->run);
  }();
  double finished_at = unix_now();
  dashboard.finish();

  if (!result) {
    print_error(result.error());
    return ExitCode::Usage;
  }

  const metrics::Snapshot& final = result->final_snapshot;
  auto thresholds = metrics::evaluate_thresholds(plan.thresholds, final);
  print_summary(stdout, plan.name, final, finished_at - started_at, thresholds, setup ? &*setup : nullptr);
  if (pool) print_pool(*pool);
  print_check_failures(check_failures);
  std::fflush(stdout);

  ResultsInput input;
  input.scenario = plan.name;
  input.target_url = plan.target_url;
  input.plan = plan;
  input.plan.tasks.clear();
  input.final = final;
  input.final_stats = result->stats;
  input.thresholds = thresholds;
  input.setup = setup;
  input.started_at = started_at;
  input.finished_at = finished_at;
  input.timeline = std::move(timeline);
  input.check_failures = std::move(check_failures);
  input.mode = python_mode ? "python" : "static";
  input.command_line = args.command_line;
  input.steps = step_results(plan, steps.points(), final.stopped);
  if (pool) input.vusers = VUsersRow{pool->size, pool->started, pool->cap, pool->fixed, pool->saturated};

  OutputPaths paths;
  paths.results_json = args.results_json_path;
  paths.save_baseline = args.save_baseline;
  paths.report = args.report_path;
  paths.junit = args.junit_path;
  if (!args.report_ranges.empty()) paths.report_options.ranges_ms = parse_report_ranges(args.report_ranges).value();
  if (!write_outputs(input, paths, stdout, stderr)) return ExitCode::Usage;
  return metrics::all_passed(thresholds) ? ExitCode::Ok : ExitCode::ThresholdsFailed;
}

/// --coordinator-url: the plan runs on a coordinator service; its stream drives the same
/// dashboard, summary, outputs and exit codes as a run here (cli/remote_run.hpp).
ExitCode run_on_coordinator(const python::ScenarioInfo& scenario, const core::Plan& plan, const RunArgs& args) {
  if (python::needs_python_mode(scenario)) {
    std::fprintf(stderr,
                 "note: the coordinator's agents run no Python: on_start, on_stop and check_* of %s do not run "
                 "with --coordinator-url (its tasks go as captured)\n",
                 plan.name.c_str());
  }
  std::vector<std::string> task_names;
  for (const auto& t : plan.tasks) task_names.push_back(t.name);
  metrics::ExpositionInfo info{plan.name, plan.target_url, "static", core::to_string(plan.mode), build_info().version,
                               0};
  auto endpoint = MetricsEndpoint::start(args.metrics_port, args.metrics_port_chosen, std::move(info), stderr);
  if (!endpoint) {
    print_error(endpoint.error());  // before any traffic
    return ExitCode::Usage;
  }
  Dashboard dashboard(stdout, stdout_is_terminal(), plan.name, core::total_secs(plan), task_names);
  std::vector<metrics::Snapshot> timeline;
  StepTracker steps(plan);

  RemoteRunOptions options;
  options.coordinator_url = args.coordinator_url;
  if (const char* token = std::getenv(kApiTokenEnv)) options.api_token = token;
  options.stop = &g_stop;
  options.stop_now = &g_stop_now;
  options.on_snapshot = [&](const metrics::Snapshot& s, const metrics::RunStats* stats) {
    dashboard.update(s);
    timeline.push_back(s);
    if (stats != nullptr) {
      steps.add(s, *stats);
      endpoint->publish(s, *stats);
    }
  };

  const double started_at = unix_now();
  Result<RemoteRunResult> result = [&] {
    StopSignals signals;
    return run_remote(plan, options);
  }();
  const double finished_at = unix_now();
  dashboard.finish();
  if (!result) {
    print_error(result.error());
    return result.error().code == ErrorCode::Invalid ? ExitCode::Usage : ExitCode::CannotStart;
  }

  const metrics::Snapshot& final = result->final_snapshot;
  const metrics::RunStats stats = result->stats.value_or(metrics::RunStats(plan.tasks.size()));
  if (result->stats) steps.add(final, stats);
  auto thresholds = result->thresholds.value_or(metrics::evaluate_thresholds(plan.thresholds, final));
  print_summary(stdout, plan.name, final, finished_at - started_at, thresholds, nullptr);
  std::fflush(stdout);

  ResultsInput input;
  input.scenario = plan.name;
  input.target_url = plan.target_url;
  input.plan = plan;
  input.plan.tasks.clear();
  input.final = final;
  if (result->stats) input.final_stats = stats;
  input.thresholds = thresholds;
  input.started_at = started_at;
  input.finished_at = finished_at;
  input.timeline = std::move(timeline);
  input.mode = "static";
  input.command_line = args.command_line;
  for (const auto& a : final.agents) input.agents.push_back({a.id, a.state, a.requests, a.start_skew_ms.value_or(0)});
  input.steps = step_results(plan, steps.points(), final.stopped);

  OutputPaths paths;
  paths.results_json = args.results_json_path;
  paths.save_baseline = args.save_baseline;
  paths.report = args.report_path;
  paths.junit = args.junit_path;
  if (!args.report_ranges.empty()) paths.report_options.ranges_ms = parse_report_ranges(args.report_ranges).value();
  if (!write_outputs(input, paths, stdout, stderr)) return ExitCode::Usage;
  return metrics::all_passed(thresholds) ? ExitCode::Ok : ExitCode::ThresholdsFailed;
}

}  // namespace

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
  if (!args.vusers.empty()) vusers = parse_vusers(args.vusers, problems);

  python::BuildOptions options;
  options.target_url = args.target_url;
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

  if (args.coordinator_url.empty()) print_mode_note(*scenario, *plan, args.dry_run);
  if (args.dry_run) {
    std::printf("%s\n", core::plan_to_json(*plan, /*pretty=*/true).c_str());
    return ExitCode::Ok;
  }
  if (!args.coordinator_url.empty()) return run_on_coordinator(*scenario, *plan, args);
  return run_plan_here(*scenario, *plan, args);
}

}  // namespace lp::cli
