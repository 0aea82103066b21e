#include "metrics/prometheus.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace lp::metrics {
namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

constexpr std::array<std::string_view, 5> kPhases = {"ramp_up", "steady", "ramp_down", "draining", "done"};

struct Percentile {
  std::string_view label;
  double LatencySummary::*field;
};
constexpr std::array<Percentile, 3> kPercentiles = {{
    {"50", &LatencySummary::p50_ms},
    {"95", &LatencySummary::p95_ms},
    {"99", &LatencySummary::p99_ms},
}};

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    out.append(buf.data(), ec == std::errc{} ? end : buf.data());
  }
}

void append_value(std::string& out, std::uint64_t value) {
  std::array<char, 24> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), ec == std::errc{} ? end : buf.data());
}

/// Whole microseconds as exact decimal seconds: 16 → "0.000016", 1048576 → "1.048576".
std::string seconds_of_us(std::uint64_t us) {
  std::string out = std::to_string(us / 1'000'000);
  std::string frac = std::to_string(us % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (!frac.empty()) out += "." + frac;
  return out;
}

// The exposition format allows exactly these three escapes in label values.
void append_escaped(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void labels(std::string& out, Labels list) {
  if (list.size() == 0) return;
  out += '{';
  bool first = true;
  for (const auto& [key, value] : list) {
    if (!first) out += ',';
    first = false;
    out.append(key).append("=\"");
    append_escaped(out, value);
    out += '"';
  }
  out += '}';
}

template <typename Value>
void sample(std::string& out, std::string_view name, Labels list, Value value) {
  out += name;
  labels(out, list);
  out += ' ';
  append_value(out, value);
  out += '\n';
}

template <typename Value>
void sample(std::string& out, std::string_view name, Value value) {
  sample(out, name, Labels{}, value);
}

std::string task_name(const Snapshot& s, std::size_t i) {
  return i < s.tasks.size() ? s.tasks[i].name : "task_" + std::to_string(i);
}

/// The _bucket, _sum and _count lines of one task's latency histogram.
void histogram_lines(std::string& out, std::string_view task, const Histogram& h) {
  static const std::vector<std::string> le = [] {
    std::vector<std::string> v;
    for (std::uint64_t b : duration_bucket_bounds_us()) v.push_back(seconds_of_us(b));
    return v;
  }();
  const auto& bounds = duration_bucket_bounds_us();
  const auto buckets = h.sparse();
  std::size_t next = 0;
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const std::size_t limit = Histogram::bucket_of(bounds[i]);  // samples in buckets before it are < the bound
    while (next < buckets.size() && buckets[next].first < limit) below += buckets[next++].second;
    sample(out, "loadpilot_request_duration_seconds_bucket", {{"task", task}, {"le", le[i]}}, below);
  }
  sample(out, "loadpilot_request_duration_seconds_bucket", {{"task", task}, {"le", "+Inf"}}, h.count());
  sample(out, "loadpilot_request_duration_seconds_sum", {{"task", task}}, static_cast<double>(h.sum_us()) / 1e6);
  sample(out, "loadpilot_request_duration_seconds_count", {{"task", task}}, h.count());
}

}  // namespace

const std::vector<std::uint64_t>& duration_bucket_bounds_us() {
  static const std::vector<std::uint64_t> bounds = [] {
    std::vector<std::uint64_t> v;
    for (unsigned e = 4; e <= 25; ++e) {
      const std::uint64_t octave = std::uint64_t{1} << e;
      for (std::uint64_t quarter = 0; quarter < 4; ++quarter) v.push_back(octave + quarter * (octave >> 2));
    }
    v.push_back(std::uint64_t{1} << 26);
    return v;
  }();
  return bounds;
}

std::string to_prometheus(const Snapshot& s, const RunStats& stats, const ExpositionInfo& info) {
  std::string out;
  out.reserve(4096 + stats.tasks.size() * 8192);

  family(out, "loadpilot_info", "gauge", "The run being measured (always 1).");
  sample(out, "loadpilot_info",
         {{"scenario", info.scenario}, {"target", info.target_url}, {"mode", info.mode},
          {"profile", info.profile}, {"version", info.version}},
         std::uint64_t{1});

  family(out, "loadpilot_phase", "gauge", "1 for the run's current phase, 0 for the others.");
  for (const std::string_view phase : kPhases) {
    sample(out, "loadpilot_phase", {{"phase", phase}}, std::uint64_t{s.phase == phase ? 1u : 0u});
  }

  family(out, "loadpilot_elapsed_seconds", "gauge", "Time since the load started.");
  sample(out, "loadpilot_elapsed_seconds", s.elapsed_secs);

  family(out, "loadpilot_rps_current", "gauge", "Requests completed per second over the last interval.");
  sample(out, "loadpilot_rps_current", s.interval.rps);

  family(out, "loadpilot_rps_target", "gauge", "Iterations per second the load profile asks for now.");
  sample(out, "loadpilot_rps_target", s.target_rps);

  family(out, "loadpilot_requests_total", "counter", "HTTP requests completed or failed, per task.");
  for (std::size_t i = 0; i < stats.tasks.size(); ++i) {
    sample(out, "loadpilot_requests_total", {{"task", task_name(s, i)}}, stats.tasks[i].requests);
  }

  family(out, "loadpilot_errors_total", "counter", "Failed HTTP requests, per task and kind of error.");
  for (std::size_t i = 0; i < stats.tasks.size(); ++i) {
    const std::string name = task_name(s, i);
    for (std::size_t k = 0; k < kErrorKindCount; ++k) {
      sample(out, "loadpilot_errors_total", {{"task", name}, {"kind", to_string(static_cast<ErrorKind>(k))}},
             stats.tasks[i].errors_by_kind[k]);
    }
  }

  family(out, "loadpilot_iterations_total", "counter", "Task iterations sent.");
  sample(out, "loadpilot_iterations_total", stats.iterations);

  family(out, "loadpilot_late_total", "counter", "Iterations sent 10 ms or more after their due time.");
  sample(out, "loadpilot_late_total", stats.late);

  family(out, "loadpilot_dropped_total", "counter", "Iterations due and never sent.");
  sample(out, "loadpilot_dropped_total", stats.dropped);

  family(out, "loadpilot_in_flight", "gauge", "Requests on the wire.");
  sample(out, "loadpilot_in_flight", s.in_flight);

  family(out, "loadpilot_connections", "gauge", "Open connections to the target.");
  sample(out, "loadpilot_connections", s.connections);

  family(out, "loadpilot_active_workers", "gauge", "Event-loop threads (or virtual-user hubs) still sending.");
  sample(out, "loadpilot_active_workers", std::uint64_t{s.active_workers});

  // From the snapshot's agents, so every run on agents (the CLI's, the service's) says it.
  const auto live = std::count_if(s.agents.begin(), s.agents.end(), [](const AgentSnapshot& a) { return a.live(); });
  family(out, "loadpilot_active_agents", "gauge", "Agents sending load (0 for a run on this machine).");
  sample(out, "loadpilot_active_agents", static_cast<std::uint64_t>(live));

  family(out, "loadpilot_request_duration_seconds", "histogram",
         "Latency from each request's due time to its last response byte (every response and timeout), per task.");
  for (std::size_t i = 0; i < stats.tasks.size(); ++i) histogram_lines(out, task_name(s, i), stats.tasks[i].latency);

  family(out, "loadpilot_latency_seconds", "gauge", "Latency percentiles of the last interval (every task).");
  for (const Percentile& p : kPercentiles) {
    sample(out, "loadpilot_latency_seconds", {{"percentile", p.label}}, s.interval.latency.*p.field / 1000.0);
  }
  return out;
}

}  // namespace lp::metrics
