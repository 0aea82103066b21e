#include "cli/summary.hpp"

#include <algorithm>
#include <cmath>

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

std::string threshold_value(const ThresholdResult& r, double v) {
  if (r.key == "error_rate") return format_percent(v);
  return format_ms(v);
}

std::string threshold_limit(const ThresholdResult& r) {
  return number(r.limit) + (r.key == "error_rate" ? "%" : "ms");
}

void print_latency(std::FILE* out, const metrics::Snapshot& s) {
  const std::size_t w = 9;
  std::string header = "  " + pad_right("latency", w);
  for (const char* h : {"min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"}) {
    header += pad_left(h, kNumberWidth);
  }
  line(out, header);
  line(out, latency_row("total", w, s.latency));
  line(out, latency_row("service", w, s.service));
  line(out, "  (total is measured from when each request was due; service from when it was sent)");
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
                  format_percent(percent_of(n, s.requests_total)) + " of requests)");
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
                  pad_left(format_percent(percent_of(t.errors, t.requests)), 9) +
                  pad_left(format_ms(t.latency.p50_ms), kNumberWidth) +
                  pad_left(format_ms(t.latency.p95_ms), kNumberWidth) +
                  pad_left(format_ms(t.latency.p99_ms), kNumberWidth) +
                  pad_left(format_ms(t.latency.max_ms), kNumberWidth));
  }
}

void print_thresholds(std::FILE* out, const std::vector<ThresholdResult>& results) {
  line(out, "");
  if (results.empty()) {
    line(out, "No thresholds set");
    return;
  }
  line(out, "  thresholds");
  for (const auto& r : results) {
    line(out, std::string("    ") + (r.passed ? "✓ " : "✗ ") + pad_right(r.key, 11) + "actual " +
                  pad_left(threshold_value(r, r.actual), 10) + "   limit " +
                  threshold_limit(r));
  }
  line(out, "");
  const std::size_t failed = failed_count(results);
  if (failed == 0) {
    line(out, "All thresholds passed");
  } else {
    line(out, std::to_string(failed) + " of " + std::to_string(results.size()) +
                  " thresholds failed");
  }
}

}  // namespace

void print_summary(std::FILE* out, const std::string& scenario, const metrics::Snapshot& final,
                   double duration_secs, const std::vector<ThresholdResult>& thresholds,
                   const SetupStats* setup) {
  const double secs = duration_secs > 0 ? duration_secs : final.elapsed_secs;
  const double achieved =
      secs > 0 ? static_cast<double>(final.requests_total) / secs : 0.0;

  line(out, "");
  line(out, "Summary · " + scenario + " · ran " + core::format_duration(secs));
  line(out, "");
  line(out, "  " + pad_right("requests", 10) + pad_left(format_count(final.requests_total), 12) +
                "   " + format_rate(achieved) + " rps achieved");
  line(out, "  " + pad_right("errors", 10) + pad_left(format_count(final.errors_total), 12) +
                "   " + format_percent(percent_of(final.errors_total, final.requests_total)) +
                " error rate");
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
  print_thresholds(out, thresholds);
  std::fflush(out);
}

}  // namespace lp::cli
