#include "cli/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli/terminal.hpp"
#include "core/duration.hpp"

namespace lp::cli {
namespace {

constexpr std::size_t kNumberWidth = 9;

void line(std::FILE* out, const std::string& text) { std::fprintf(out, "%s\n", text.c_str()); }

std::string latency_row(const std::string& label, std::size_t label_width,
                        const metrics::LatencySummary& l) {
  std::string row = "  " + pad_right(label, label_width);
  for (double v : {l.min_ms, l.mean_ms, l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms,
                   l.max_ms}) {
    row += pad_left(format_ms(v), kNumberWidth);
  }
  return row;
}

// Limits are what the user typed (500, 0.5), so %g shows them as written.
std::string number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool is_rate(const metrics::ThresholdResult& r) { return r.key == "error_rate" || r.key == "dropped_rate"; }

std::string threshold_value(const metrics::ThresholdResult& r, double v) {
  if (!r.reason.empty()) return "-";
  return is_rate(r) ? format_percent(v) : format_ms(v);
}

std::string threshold_limit(const metrics::ThresholdResult& r) {
  return number(r.limit) + (is_rate(r) ? "%" : "ms") + (r.defaulted ? " (default)" : "");
}

void print_latency(std::FILE* out, const metrics::Snapshot& s) {
  const std::size_t w = 9;
  std::string header = "  " + pad_right("latency", w);
  for (const char* h : {"min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"}) {
    header += pad_left(h, kNumberWidth);
  }
  line(out, header);
  line(out, latency_row("all", w, s.latency));
  line(out, latency_row("success", w, s.success));
  line(out, latency_row("service", w, s.service));
  line(out, "  (all: every response and timeout, from when it was due; success: the successful ones;");
  line(out, "   service: responses, from when the request was sent. Thresholds use all.)");
}

void print_errors_by_kind(std::FILE* out, const metrics::Snapshot& s) {
  bool any = false;
  for (auto n : s.errors_by_kind) any = any || n != 0;
  if (!any) return;
  line(out, "");
  line(out, "  errors by kind");
  for (std::size_t i = 0; i < metrics::kErrorKindCount; ++i) {
    const auto n = s.errors_by_kind[i];
    if (n == 0) continue;
    const std::string kind(metrics::to_string(static_cast<metrics::ErrorKind>(i)));
    line(out, "    " + pad_right(kind, 10) + pad_left(format_count(n), 12) + "  (" +
                  format_percent(metrics::percent(n, s.requests_total)) + " of requests)");
  }
}

void print_tasks(std::FILE* out, const metrics::Snapshot& s) {
  if (s.tasks.empty()) return;
  std::size_t name_width = 4;
  for (const auto& t : s.tasks) name_width = std::max(name_width, display_width(t.name));
  name_width = std::min<std::size_t>(name_width, 40);
  line(out, "");
  line(out, "  " + pad_right("task", name_width) + pad_left("requests", 12) +
                pad_left("errors", 10) + pad_left("err %", 9) + pad_left("p50", kNumberWidth) +
                pad_left("p95", kNumberWidth) + pad_left("p99", kNumberWidth) +
                pad_left("max", kNumberWidth));
  for (const auto& t : s.tasks) {
    line(out, "  " + pad_right(fit(t.name, name_width), name_width) +
                  pad_left(format_count(t.requests), 12) + pad_left(format_count(t.errors), 10) +
                  pad_left(format_percent(t.error_rate()), 9) +
                  pad_left(format_ms(t.latency.p50_ms), kNumberWidth) +
                  pad_left(format_ms(t.latency.p95_ms), kNumberWidth) +
                  pad_left(format_ms(t.latency.p99_ms), kNumberWidth) +
                  pad_left(format_ms(t.latency.max_ms), kNumberWidth));
  }
}

std::string skew_text(const std::optional<double>& ms) {
  if (!ms) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3fms", *ms);  // the goal is ~1 ms: µs matter
  return buf;
}

/// A distributed run's agents: who fired what, how each ended, when each began.
void print_agents(std::FILE* out, const metrics::Snapshot& s) {
  if (s.agents.empty()) return;
  std::size_t id_width = 5;
  for (const auto& a : s.agents) id_width = std::max(id_width, display_width(a.id));
  id_width = std::min<std::size_t>(id_width, 40);
  line(out, "");
  line(out, "  " + pad_right("agent", id_width) + "  " + pad_right("state", 10) + pad_left("requests", 12) +
                pad_left("start skew", 13));
  for (const auto& a : s.agents) {
    line(out, "  " + pad_right(fit(a.id, id_width), id_width) + "  " + pad_right(a.state, 10) +
                  pad_left(format_count(a.requests), 12) + pad_left(skew_text(a.start_skew_ms), 13));
  }
  line(out, "  start skew " + skew_text(s.start_skew_ms) + " (the latest agent's start minus the earliest's, on this "
            "machine's clock)");
}

void print_thresholds(std::FILE* out, const std::vector<metrics::ThresholdResult>& results) {
  line(out, "");
  if (results.empty()) {
    line(out, "No thresholds set");
    return;
  }
  line(out, "  thresholds");
  for (const auto& r : results) {
    line(out, std::string("    ") + (r.passed ? "✓ " : "✗ ") + pad_right(r.key, 13) + "actual " +
                  pad_left(threshold_value(r, r.actual), 10) + "   limit " +
                  threshold_limit(r) + (r.reason.empty() ? "" : "   (" + r.reason + ")"));
  }
  line(out, "");
  const std::size_t failed = metrics::failed_count(results);
  if (failed == 0) {
    line(out, "All thresholds passed");
  } else {
    line(out, std::to_string(failed) + " of " + std::to_string(results.size()) +
                  " thresholds failed");
  }
}

}  // namespace

void print_summary(std::FILE* out, const std::string& scenario, const metrics::Snapshot& final,
                   double duration_secs, const std::vector<metrics::ThresholdResult>& thresholds,
                   const SetupStats* setup) {
  const double secs = duration_secs > 0 ? duration_secs : final.elapsed_secs;
  const double load = final.load_secs > 0 ? final.load_secs : secs;
  const double achieved = load > 0 ? static_cast<double>(final.requests_total) / load : 0.0;

  line(out, "");
  line(out, "Summary · " + scenario + " · ran " + core::format_duration(secs));
  line(out, "");
  line(out, "  " + pad_right("requests", 10) + pad_left(format_count(final.requests_total), 12) +
                "   " + format_rate(achieved) + " rps achieved");
  line(out, "  " + pad_right("errors", 10) + pad_left(format_count(final.errors_total), 12) +
                "   " + format_percent(final.error_rate()) + " error rate");
  if (final.errors_without_request != 0) {
    line(out, "  (" + format_count(final.errors_without_request) +
                  " of the errors are tasks that failed before making any request; they count"
                  " in the error rate's denominator too)");
  }
  if (final.stopped) {
    const auto interrupted = final.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Interrupted)];
    line(out, "  stopped early after " + core::format_duration(final.load_secs) + " of load; " +
                  format_count(interrupted) + " requests in flight were cut off (interrupted)");
  }
  if (final.late != 0 || final.dropped != 0) {
    line(out, "  generator behind: " + format_count(final.late) + " sent late (≥10 ms after due), " +
                  format_count(final.dropped) + " dropped");
  }
  if (setup != nullptr) {
    line(out, "  setup (on_start/on_stop): " + format_count(setup->requests) + " requests, " +
                  format_count(setup->errors) + " errors (not counted in the load)");
  }
  line(out, "");
  print_latency(out, final);
  print_errors_by_kind(out, final);
  print_tasks(out, final);
  print_agents(out, final);
  print_thresholds(out, thresholds);
  std::fflush(out);
}

}  // namespace lp::cli
