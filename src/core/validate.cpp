#include "core/validate.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include "core/duration.hpp"

namespace lp::core {

namespace {

// Each step is a segment of the profile, held in memory and walked for due times.
constexpr std::uint32_t kMaxSteps = 1000;

// Iteration k is due at Profile::time_of(k), k a double: exact only up to 2^53.
constexpr double kMaxIterations = 9007199254740992.0;

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool is_http_url(std::string_view url) {
  auto rest = url.starts_with("http://") ? url.substr(7)
              : url.starts_with("https://") ? url.substr(8)
                                            : std::string_view{};
  return !rest.empty() && rest.front() != '/' && rest.front() != ':';
}

void check_url(std::string_view url, const std::string& where, std::vector<std::string>& out) {
  if (url.empty()) {
    out.push_back(where + ": url is empty (use a path such as \"/api/items\")");
  } else if (url.front() != '/' && !is_http_url(url)) {
    out.push_back(where + ": url must be a path starting with / or an http(s):// URL, got '" +
                  std::string(url) + "'");
  }
}

void check_method(std::string_view method, const std::string& where, std::vector<std::string>& out) {
  if (!is_supported_method(method)) {
    out.push_back(where + ": unknown method '" + std::string(method) +
                  "' (use GET, POST, PUT, PATCH or DELETE)");
  }
}

void check_limit(const std::optional<double>& v, const char* key, std::vector<std::string>& out) {
  if (v && !(*v >= 0 && std::isfinite(*v))) {
    out.push_back(std::string("threshold ") + key + " must be >= 0, got " + num(*v));
  }
}

}  // namespace

bool is_supported_method(std::string_view m) {
  return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

std::vector<std::string> validate(const Plan& plan) {
  std::vector<std::string> out;
  if (plan.name.empty()) out.push_back("name must not be empty");
  if (!(plan.rps > 0) || !std::isfinite(plan.rps)) out.push_back("rps must be > 0, got " + num(plan.rps));
  if (!(plan.duration_secs > 0) || !std::isfinite(plan.duration_secs)) {
    out.push_back("duration must be > 0, got " + num(plan.duration_secs) + "s");
  }
  if (!(plan.ramp_up_secs >= 0) || !std::isfinite(plan.ramp_up_secs)) {
    out.push_back("ramp_up must be >= 0, got " + num(plan.ramp_up_secs) + "s");
  } else if (plan.mode == Mode::Ramp && plan.duration_secs > 0 &&
             plan.ramp_up_secs > plan.duration_secs) {
    out.push_back("ramp_up (" + format_duration(plan.ramp_up_secs) + ") exceeds duration (" +
                  format_duration(plan.duration_secs) + ")");
  }
  const bool timing_valid = plan.rps > 0 && std::isfinite(plan.rps) && plan.duration_secs > 0 &&
                            std::isfinite(plan.duration_secs) && plan.ramp_up_secs >= 0 &&
                            std::isfinite(plan.ramp_up_secs);
  // rps x the whole run bounds the number of iterations from above, whatever the mode.
  if (timing_valid && plan.rps * total_secs(plan) > kMaxIterations) {
    out.push_back("rps " + num(plan.rps) + " for " + format_duration(total_secs(plan)) +
                  " is more than 2^53 iterations: lower rps or the duration");
  }
  if (plan.mode == Mode::Step && plan.steps < 1) {
    out.push_back("steps must be >= 1, got " + std::to_string(plan.steps));
  } else if (plan.mode == Mode::Step && plan.steps > kMaxSteps) {
    out.push_back("steps must be <= " + std::to_string(kMaxSteps) + ", got " + std::to_string(plan.steps));
  }
  if (!is_http_url(plan.target_url)) {
    out.push_back("target_url must start with http:// or https://, got '" + plan.target_url + "'");
  }

  if (plan.tasks.empty()) out.push_back("no tasks: add at least one @task method to the scenario");
  std::set<std::string> names;
  for (std::size_t i = 0; i < plan.tasks.size(); ++i) {
    const Task& t = plan.tasks[i];
    std::string where = t.name.empty() ? "task #" + std::to_string(i + 1) : "task '" + t.name + "'";
    if (t.name.empty()) out.push_back(where + ": name is empty");
    else if (!names.insert(t.name).second) out.push_back(where + ": name is used twice");
    if (!(t.weight > 0) || !std::isfinite(t.weight)) out.push_back(where + ": weight must be > 0, got " + num(t.weight));
    if (t.requests.empty()) {
      check_method(t.method, where, out);
      check_url(t.url, where, out);
    }
    for (std::size_t j = 0; j < t.requests.size(); ++j) {
      std::string call = where + " call " + std::to_string(j + 1);
      check_method(t.requests[j].method, call, out);
      check_url(t.requests[j].url, call, out);
    }
  }

  for (std::size_t i = 0; i < plan.vuser_configs.size(); ++i) {
    const auto& vu = plan.vuser_configs[i];
    std::string where = "vuser_configs[" + std::to_string(i) + "]";
    for (const auto& [task, headers] : vu.task_headers) {
      if (!names.count(task)) out.push_back(where + ": task_headers names unknown task '" + task + "'");
    }
    for (const auto& [task, url] : vu.task_urls) {
      if (!names.count(task)) out.push_back(where + ": task_urls names unknown task '" + task + "'");
      check_url(url, where + " task_urls['" + task + "']", out);
    }
  }

  const auto& th = plan.thresholds;
  check_limit(th.p50_ms, "p50_ms", out);
  check_limit(th.p95_ms, "p95_ms", out);
  check_limit(th.p99_ms, "p99_ms", out);
  check_limit(th.max_ms, "max_ms", out);
  if (th.error_rate && !(*th.error_rate >= 0 && *th.error_rate <= 100)) {
    out.push_back("threshold error_rate is a percent from 0 to 100, got " + num(*th.error_rate));
  }

  const auto& s = plan.settings;
  if (s.timeout_ms == 0) out.push_back("timeout_ms must be > 0");
  if (s.threads > 256) out.push_back("threads must be <= 256, got " + std::to_string(s.threads));
  if (s.max_connections > 1'000'000) {
    out.push_back("max_connections must be <= 1000000, got " + std::to_string(s.max_connections));
  }
  return out;
}

}  // namespace lp::core
