#include "metrics/prometheus.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace lp::metrics {
namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

struct Quantile {
  std::string_view label;
  double LatencySummary::*field;
};
constexpr std::array<Quantile, 5> kQuantiles = {{
    {"0.5", &LatencySummary::p50_ms},
    {"0.9", &LatencySummary::p90_ms},
    {"0.95", &LatencySummary::p95_ms},
    {"0.99", &LatencySummary::p99_ms},
    {"0.999", &LatencySummary::p999_ms},
}};

// Same rounding as the JSON stream, so a scrape and a stream line agree digit for digit.
double round_to(double value, double scale) noexcept {
  if (!std::isfinite(value)) return value;
  return std::round(value * scale) / scale;
}

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

void family(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <typename Value>
void sample(std::string& out, std::string_view name, Labels labels, Value value) {
  out += name;
  if (labels.size() != 0) {
    out += '{';
    bool first = true;
    for (const auto& [key, label_value] : labels) {
      if (!first) out += ',';
      first = false;
      out.append(key).append("=\"");
      append_escaped(out, label_value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_value(out, value);
  out += '\n';
}

template <typename Value>
void sample(std::string& out, std::string_view name, Value value) {
  sample(out, name, Labels{}, value);
}

double ms(double value) noexcept { return round_to(value, 1000.0); }
double rps(double value) noexcept { return round_to(value, 100.0); }

}  // namespace

std::string to_prometheus(const Snapshot& s) {
  std::string out;
  out.reserve(2048 + s.tasks.size() * 1024);

  family(out, "loadpilot_rps_actual", "gauge",
         "Requests completed per second over the last interval.");
  sample(out, "loadpilot_rps_actual", rps(s.current_rps));

  family(out, "loadpilot_rps_target", "gauge",
         "Iterations per second the load profile asks for now.");
  sample(out, "loadpilot_rps_target", rps(s.target_rps));

  family(out, "loadpilot_requests_total", "counter", "HTTP requests completed or failed.");
  sample(out, "loadpilot_requests_total", s.requests_total);

  family(out, "loadpilot_errors_total", "counter", "HTTP requests that failed.");
  sample(out, "loadpilot_errors_total", s.errors_total);

  family(out, "loadpilot_errors_by_kind_total", "counter", "Failed requests by kind of error.");
  for (std::size_t i = 0; i < kErrorKindCount; ++i) {
    sample(out, "loadpilot_errors_by_kind_total",
           {{"kind", to_string(static_cast<ErrorKind>(i))}}, s.errors_by_kind[i]);
  }

  // Gauges, not a summary: the quantiles come precomputed over the whole run and the
  // snapshot carries no latency sample count, so a summary's _count would be invented.
  family(out, "loadpilot_latency_ms", "gauge",
         "Latency from the intended send time to the last response byte, by quantile.");
  for (const Quantile& q : kQuantiles) {
    sample(out, "loadpilot_latency_ms", {{"quantile", q.label}}, ms(s.latency.*q.field));
  }

  family(out, "loadpilot_latency_max_ms", "gauge", "Largest latency seen so far.");
  sample(out, "loadpilot_latency_max_ms", ms(s.latency.max_ms));

  family(out, "loadpilot_active_workers", "gauge", "Workers currently sending load.");
  sample(out, "loadpilot_active_workers", std::uint64_t{s.active_workers});

  family(out, "loadpilot_late_total", "counter",
         "Iterations sent 10 ms or more after their due time.");
  sample(out, "loadpilot_late_total", s.late);

  family(out, "loadpilot_dropped_total", "counter",
         "Iterations never sent because the backlog of due iterations was full.");
  sample(out, "loadpilot_dropped_total", s.dropped);

  family(out, "loadpilot_in_flight", "gauge", "Requests on the wire.");
  sample(out, "loadpilot_in_flight", s.in_flight);

  family(out, "loadpilot_connections", "gauge", "Open connections to the target.");
  sample(out, "loadpilot_connections", s.connections);

  family(out, "loadpilot_task_requests_total", "counter", "HTTP requests per task.");
  for (const TaskSnapshot& t : s.tasks) {
    sample(out, "loadpilot_task_requests_total", {{"task", t.name}}, t.requests);
  }

  family(out, "loadpilot_task_errors_total", "counter", "Failed HTTP requests per task.");
  for (const TaskSnapshot& t : s.tasks) {
    sample(out, "loadpilot_task_errors_total", {{"task", t.name}}, t.errors);
  }

  family(out, "loadpilot_task_latency_ms", "gauge", "Latency per task, by quantile.");
  for (const TaskSnapshot& t : s.tasks) {
    for (const Quantile& q : kQuantiles) {
      sample(out, "loadpilot_task_latency_ms", {{"task", t.name}, {"quantile", q.label}},
             ms(t.latency.*q.field));
    }
  }
  return out;
}

}  // namespace lp::metrics
