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
                  "' (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)");
  }
}

void check_headers(const Headers& headers, const std::string& where, std::vector<std::string>& out) {
  for (const auto& [name, value] : headers) {
    if (auto problem = header_problem(name, value); !problem.empty()) out.push_back(where + ": " + problem);
  }
}

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The text as it can be printed on one line: CR, LF and other control bytes escaped.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool is_supported_method(std::string_view m) {
  return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "HEAD" || m == "OPTIONS";
}

std::string header_problem(std::string_view name, std::string_view value) {
  if (name.empty()) return "a header has an empty name";
  for (char c : name) {
    if (!is_tchar(c)) {
      return "header name '" + printable(name) +
             "' is not a token (use letters, digits and !#$%&'*+-.^_`|~; no spaces, colons or line breaks)";
    }
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    // The value is not quoted: it is often a credential.
    return "header '" + std::string(name) + "' has a CR, LF or NUL in its value (a header value is one line: remove the line break)";
  }
  return {};
}

std::vector<std::string> validate(const Plan& plan) {
  std::vector<std::string> out;
  if (plan.name.empty()) out.push_back("name must not be empty");
  // A value no run can have (inf, nan) gets its own words: "> 0, got infs" says nothing.
  if (!std::isfinite(plan.rps)) out.push_back("rps must be a finite number > 0, got " + num(plan.rps));
  else if (!(plan.rps > 0)) out.push_back("rps must be > 0, got " + num(plan.rps));
  if (!std::isfinite(plan.duration_secs)) {
    out.push_back("duration must be a finite number of seconds, got " + num(plan.duration_secs));
  } else if (!(plan.duration_secs > 0)) {
    out.push_back("duration must be > 0, got " + num(plan.duration_secs) + "s");
  }
  if (!std::isfinite(plan.ramp_up_secs)) {
    out.push_back("ramp_up must be a finite number of seconds, got " + num(plan.ramp_up_secs));
  } else if (!(plan.ramp_up_secs >= 0)) {
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
      check_headers(t.headers, where, out);
    }
    for (std::size_t j = 0; j < t.requests.size(); ++j) {
      std::string call = where + " call " + std::to_string(j + 1);
      check_method(t.requests[j].method, call, out);
      check_url(t.requests[j].url, call, out);
      check_headers(t.requests[j].headers, call, out);
    }
  }

  for (std::size_t i = 0; i < plan.vuser_configs.size(); ++i) {
    const auto& vu = plan.vuser_configs[i];
    std::string where = "vuser_configs[" + std::to_string(i) + "]";
    for (const auto& [task, headers] : vu.task_headers) {
      if (!names.count(task)) out.push_back(where + ": task_headers names unknown task '" + task + "'");
      check_headers(headers, where + " task '" + task + "'", out);
    }
    for (const auto& [task, url] : vu.task_urls) {
      if (!names.count(task)) out.push_back(where + ": task_urls names unknown task '" + task + "'");
      check_url(url, where + " task_urls['" + task + "']", out);
    }
    for (const auto& [task, calls] : vu.task_calls) {
      if (!names.count(task)) out.push_back(where + ": task_calls names unknown task '" + task + "'");
      if (calls.empty()) out.push_back(where + ": task_calls['" + task + "'] has no call");
      for (std::size_t j = 0; j < calls.size(); ++j) {
        std::string call = where + " task '" + task + "' call " + std::to_string(j + 1);
        check_method(calls[j].method, call, out);
        check_url(calls[j].url, call, out);
        check_headers(calls[j].headers, call, out);
      }
    }
  }

  for (auto& p : plan.thresholds.problems()) out.push_back(std::move(p));

  const auto& s = plan.settings;
  if (s.timeout_ms == 0) out.push_back("timeout_ms must be > 0");
  if (s.threads > 256) out.push_back("threads must be <= 256, got " + std::to_string(s.threads));
  if (s.max_connections > 1'000'000) {
    out.push_back("max_connections must be <= 1000000, got " + std::to_string(s.max_connections));
  }
  return out;
}

}  // namespace lp::core
