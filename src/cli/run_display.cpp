#include "cli/run_display.hpp"

#include <cstdio>
#include <limits>

#include "cli/build_info.hpp"
#include "cli/terminal.hpp"

namespace lp::cli {

namespace {

std::vector<std::string> task_names(const core::Plan& plan) {
  std::vector<std::string> names;
  for (const auto& t : plan.tasks) names.push_back(t.name);
  return names;
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

}  // namespace

Result<std::unique_ptr<RunDisplay>> RunDisplay::start(const core::Plan& plan, RunDisplayOptions options) {
  metrics::ExpositionInfo info{plan.name, plan.target_url, options.mode, core::to_string(plan.mode),
                               build_info().version};
  auto endpoint = MetricsEndpoint::start(options.metrics_port, options.metrics_port_chosen, std::move(info), stderr);
  if (!endpoint) return std::move(endpoint).error();
  const std::size_t tasks = plan.tasks.size();
  endpoint->publish(metrics::make_snapshot(metrics::RunStats(tasks), task_names(plan)), metrics::RunStats(tasks));
  return std::unique_ptr<RunDisplay>(new RunDisplay(plan, std::move(options), std::move(*endpoint)));
}

RunDisplay::RunDisplay(const core::Plan& plan, RunDisplayOptions options, MetricsEndpoint endpoint)
    : plan_(plan),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      interactive_(stdout_is_terminal()),
      dashboard_(stdout, interactive_, plan.name, core::total_secs(plan), task_names(plan)),
      steps_(plan) {
  plan_.vuser_configs.clear();
}

void RunDisplay::show(const metrics::Snapshot& snapshot) {
  dashboard_.update(snapshot);
  timeline_.push_back(snapshot);
}

void RunDisplay::keep(const metrics::Snapshot& snapshot, const metrics::RunStats& cumulative) {
  steps_.add(snapshot, cumulative);
  endpoint_.publish(snapshot, cumulative);
}

void RunDisplay::say(std::string_view line) {
  if (interactive_) {
    dashboard_.print_above(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

void RunDisplay::stop_live() { dashboard_.finish(); }

bool RunDisplay::finish(RunEnd end) {
  const metrics::Snapshot& final = end.final;
  print_summary(stdout, plan_.name, final, end.finished_at - end.started_at, end.thresholds,
                end.setup ? &*end.setup : nullptr);
  for (const auto& line : end.notes) std::printf("\n%s\n", line.c_str());
  print_check_failures(end.check_failures);
  std::fflush(stdout);

  ResultsInput input;
  input.scenario = plan_.name;
  input.target_url = plan_.target_url;
  input.plan = plan_;
  input.plan.tasks.clear();
  input.final = final;
  input.final_stats = std::move(end.stats);
  input.thresholds = end.thresholds;
  input.setup = end.setup;
  input.started_at = end.started_at;
  input.finished_at = end.finished_at;
  input.timeline = std::move(timeline_);
  input.check_failures = std::move(end.check_failures);
  input.mode = options_.mode;
  input.command_line = options_.command_line;
  input.steps = step_results(plan_, steps_.points(), final.stopped);
  input.vusers = end.vusers;
  for (const auto& a : final.agents) {
    // An agent that never began has no skew: null in the results, not 0.
    input.agents.push_back({a.id, a.state, a.requests, a.start_skew_ms.value_or(std::numeric_limits<double>::quiet_NaN())});
  }
  return write_outputs(input, options_.paths, stdout, stderr);
}

}  // namespace lp::cli
