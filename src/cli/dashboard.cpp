#include "cli/dashboard.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/duration.hpp"

namespace lp::cli {
namespace {

constexpr std::size_t kMaxNameWidth = 30;

std::string progress_bar(double elapsed, double total, std::size_t width) {
  double fraction = total > 0 ? elapsed / total : 0.0;
  if (!std::isfinite(fraction) || fraction < 0) fraction = 0;
  fraction = std::min(fraction, 1.0);
  const auto filled = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(width)));
  std::string bar = "[";
  for (std::size_t i = 0; i < width; ++i) bar += i < filled ? "█" : "░";
  char pct[16];
  std::snprintf(pct, sizeof pct, "] %3.0f%%", std::floor(fraction * 100.0));
  return bar + pct;
}

std::string phase_of(const metrics::Snapshot& s) { return s.phase.empty() ? "-" : s.phase; }

std::string behind_line(const metrics::Snapshot& s) {
  return "generator behind: " + format_count(s.late) + " sent late (≥10 ms after due), " +
         format_count(s.dropped) + " dropped";
}

bool draining(const metrics::Snapshot& s) { return s.phase == "draining"; }
bool done(const metrics::Snapshot& s) { return s.phase == "done"; }

/// "draining 5 requests": what the drain is waiting for, and after a stop how to cut it short.
std::string drain_line(const metrics::Snapshot& s) {
  const std::string what = "draining " + format_count(s.in_flight) + (s.in_flight == 1 ? " request" : " requests");
  if (s.stopped) return "stopping: " + what + " (Ctrl+C again to cut them off)";
  return what + " still in flight (each keeps its own timeout)";
}

/// "1s", "1.5s": the interval the "last" figures cover, to a tenth of a second.
std::string interval_label(const metrics::Snapshot& s) {
  return "last " + core::format_duration(std::round(s.interval.secs * 10.0) / 10.0);
}

std::string totals(const metrics::Snapshot& s) {
  return "reqs " + std::to_string(s.requests_total) + " err " + std::to_string(s.errors_total) + " (" +
         format_percent(s.error_rate()) + ") p99 " + format_ms(s.latency.p99_ms) + " max " +
         format_ms(s.latency.max_ms);
}

}  // namespace

Dashboard::Dashboard(std::FILE* out, bool interactive, std::string scenario_name,
                     double total_secs, std::vector<std::string> task_names)
    : out_(out),
      interactive_(interactive),
      scenario_name_(std::move(scenario_name)),
      total_secs_(total_secs),
      task_names_(std::move(task_names)) {}

std::string Dashboard::plain_line(const metrics::Snapshot& s) const {
  std::string clock = format_clock(s.elapsed_secs);
  if (total_secs_ > 0) clock += "/" + format_clock(total_secs_);
  std::string line = "[" + clock + "] ";
  if (draining(s)) {
    line += drain_line(s);
  } else if (done(s)) {
    line += "done rps " + format_rate(s.current_rps) + " achieved";
  } else {
    const auto& l = s.interval.latency;
    line += phase_of(s) + " rps " + format_rate(s.current_rps) + "/" + format_rate(s.target_rps) + " p50 " +
            format_ms(l.p50_ms) + " p95 " + format_ms(l.p95_ms) + " p99 " + format_ms(l.p99_ms) + " (" +
            interval_label(s) + ")";
  }
  line += " · total " + totals(s);
  if (s.late != 0 || s.dropped != 0) {
    line += " late " + std::to_string(s.late) + " dropped " + std::to_string(s.dropped);
  }
  return line;
}

std::vector<std::string> Dashboard::frame(const metrics::Snapshot& s, std::size_t columns) const {
  std::vector<std::string> lines;
  std::string clock = format_clock(s.elapsed_secs);
  if (total_secs_ > 0) clock += " / " + format_clock(total_secs_);
  lines.push_back("loadpilot · " + scenario_name_ + "   " + clock + "   " + phase_of(s));
  if (total_secs_ > 0) lines.push_back(progress_bar(s.elapsed_secs, total_secs_, kBarWidth));
  if (done(s)) {
    lines.push_back("rps      " + format_rate(s.current_rps) + " achieved");
  } else {
    lines.push_back("rps      " + format_rate(s.current_rps) + " / " + format_rate(s.target_rps) + " target");
    const auto& l = s.interval.latency;
    lines.push_back(pad_right(interval_label(s), 9) + "p50 " + format_ms(l.p50_ms) + "   p95 " +
                    format_ms(l.p95_ms) + "   p99 " + format_ms(l.p99_ms) + "   (" +
                    format_count(s.interval.requests) + " requests, " + format_count(s.interval.errors) +
                    " errors)");
  }
  lines.push_back("total    requests " + format_count(s.requests_total) + "   errors " +
                  format_count(s.errors_total) + " (" + format_percent(s.error_rate()) + ")");
  lines.push_back("latency  p50 " + format_ms(s.latency.p50_ms) + "   p95 " + format_ms(s.latency.p95_ms) +
                  "   p99 " + format_ms(s.latency.p99_ms) + "   max " + format_ms(s.latency.max_ms));
  if (draining(s)) lines.push_back(drain_line(s));

  const std::size_t task_count = std::max(s.tasks.size(), task_names_.size());
  if (task_count != 0) {
    auto name_of = [&](std::size_t i) {
      if (i < s.tasks.size() && !s.tasks[i].name.empty()) return s.tasks[i].name;
      if (i < task_names_.size() && !task_names_[i].empty()) return task_names_[i];
      return "task_" + std::to_string(i);
    };
    const std::size_t shown = std::min(task_count, kMaxTaskRows);
    std::size_t name_width = 4;
    for (std::size_t i = 0; i < shown; ++i) {
      name_width = std::max(name_width, std::min(display_width(name_of(i)), kMaxNameWidth));
    }
    lines.emplace_back();
    lines.push_back(pad_right("task", name_width) + pad_left("requests", 11) +
                    pad_left("errors", 9) + pad_left("p50", 10) + pad_left("p99", 10));
    const metrics::TaskSnapshot empty;
    for (std::size_t i = 0; i < shown; ++i) {
      // A task the engine has not reported yet shows zeros rather than disappearing.
      const auto& t = i < s.tasks.size() ? s.tasks[i] : empty;
      lines.push_back(pad_right(fit(name_of(i), kMaxNameWidth), name_width) +
                      pad_left(format_count(t.requests), 11) + pad_left(format_count(t.errors), 9) +
                      pad_left(format_ms(t.latency.p50_ms), 10) +
                      pad_left(format_ms(t.latency.p99_ms), 10));
    }
    if (task_count > shown) {
      lines.push_back("… and " + std::to_string(task_count - shown) + " more tasks");
    }
  }
  if (s.late != 0 || s.dropped != 0) lines.push_back(behind_line(s));

  if (columns != 0) {
    for (auto& line : lines) line = fit(line, columns);
  }
  return lines;
}

void Dashboard::update(const metrics::Snapshot& snapshot) {
  if (!interactive_) {
    std::fprintf(out_, "%s\n", plain_line(snapshot).c_str());
    std::fflush(out_);
    return;
  }
  // One column spare: a line that fills the row exactly leaves some terminals in a
  // pending-wrap state, and the next cursor-up would then land one line short.
  std::size_t columns = terminal_columns(out_);
  if (columns > 1) --columns;
  auto lines = frame(snapshot, columns);
  erase_frame();
  draw(lines);
  last_frame_ = std::move(lines);
}

void Dashboard::print_above(std::string_view line) {
  if (!interactive_ || lines_drawn_ == 0) {
    std::fprintf(out_, "%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(out_);
    return;
  }
  erase_frame();
  std::fprintf(out_, "%.*s\n", static_cast<int>(line.size()), line.data());
  draw(last_frame_);
}

void Dashboard::finish() {
  // Every frame ends with a newline, so the cursor already sits below it; forgetting
  // the frame is what keeps a later update from drawing over the summary.
  lines_drawn_ = 0;
  last_frame_.clear();
  std::fflush(out_);
}

void Dashboard::erase_frame() {
  if (lines_drawn_ == 0) return;
  // Cursor up over the frame, to column 1, then clear to the end of the screen.
  std::fprintf(out_, "\x1b[%zuA\r\x1b[J", lines_drawn_);
}

void Dashboard::draw(const std::vector<std::string>& lines) {
  for (const auto& line : lines) std::fprintf(out_, "%s\n", line.c_str());
  lines_drawn_ = lines.size();
  std::fflush(out_);
}

}  // namespace lp::cli
