#pragma once
// The plan: everything the engine needs to run a test, and nothing about Python.
// It is what `loadpilot-coordinator` reads on stdin, what POST /run takes, and what
// the CLI builds from a scenario file. JSON lives in plan_json.hpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lp::core {

/// Header name/value pairs in the order they are sent.
using Headers = std::vector<std::pair<std::string, std::string>>;

enum class Mode : std::uint8_t { Ramp, Constant, Step, Spike };

/// One HTTP call of a chained task (a task body that makes several calls).
struct Request {
  std::string method = "GET";
  std::string url;          ///< path relative to target_url ("/api/x?q=1") or absolute URL
  Headers headers;
  std::string body;         ///< sent as-is; Content-Length is added when non-empty

  friend bool operator==(const Request&, const Request&) = default;
};

struct Task {
  std::string name;
  double weight = 1.0;      ///< relative share of iterations; > 0
  std::string method = "GET";
  std::string url;          ///< as Request::url
  Headers headers;
  std::string body_template;
  /// When non-empty, one iteration of the task is this chain of calls, made in order
  /// on one connection; method/url/headers/body_template then describe the first call.
  std::vector<Request> requests;

  friend bool operator==(const Task&, const Task&) = default;
};

/// One pre-authenticated virtual user: what its on_start left behind, per task.
/// For a task it has `task_calls` for, those calls are the iteration (method, URL,
/// headers, body, in order: what the task body made for this user, e.g.
/// `/api/v1/projects/42` with its own token); otherwise the task's own calls. Then its
/// `task_urls` entry replaces the first call's URL and its `task_headers` are merged
/// over every call's (same name wins).
struct VUserConfig {
  std::map<std::string, Headers> task_headers;
  std::map<std::string, std::string> task_urls;
  std::map<std::string, std::vector<Request>> task_calls;  ///< non-empty lists only

  friend bool operator==(const VUserConfig&, const VUserConfig&) = default;
};

/// Pass/fail limits of a run; any may be unset. Evaluated by metrics::evaluate_thresholds.
struct Thresholds {
  std::optional<double> p50_ms, p95_ms, p99_ms, max_ms;  ///< of `latency` (every response and timeout)
  std::optional<double> error_rate;    ///< percent, 0..100
  std::optional<double> dropped_rate;  ///< percent of due iterations never sent, 0..100; unset: 1 %
  /// True when no limit is set by the user (dropped_rate still gets its default).
  bool empty() const {
    return !p50_ms && !p95_ms && !p99_ms && !max_ms && !error_rate && !dropped_rate;
  }
  /// The limit named `key` ("p99_ms", "error_rate", ...); null for an unknown key.
  std::optional<double>* find(std::string_view key);
  /// One message per limit out of range (latencies must be >= 0 ms, rates 0..100 %).
  std::vector<std::string> problems() const;

  friend bool operator==(const Thresholds&, const Thresholds&) = default;
};

/// The threshold keys, as listed in messages.
inline constexpr const char* kThresholdKeys =
    "p50_ms, p95_ms, p99_ms, max_ms, error_rate or dropped_rate";

/// Engine knobs. Zero means "choose for me".
struct EngineSettings {
  std::uint32_t timeout_ms = 30'000;   ///< per request, connect included
  std::uint32_t max_connections = 0;   ///< over all threads; 0 = auto
  std::uint32_t threads = 0;           ///< event-loop threads; 0 = number of cores
  bool insecure_tls = false;           ///< accept self-signed / mismatched certificates

  friend bool operator==(const EngineSettings&, const EngineSettings&) = default;
};

struct Plan {
  std::string name = "loadpilot";
  double rps = 10.0;                 ///< iterations per second at full rate; > 0
  double duration_secs = 60.0;
  double ramp_up_secs = 10.0;        ///< used by mode ramp only
  Mode mode = Mode::Ramp;
  std::uint32_t steps = 5;           ///< used by mode step only
  std::string target_url = "http://localhost:8000";
  std::vector<Task> tasks;
  std::vector<VUserConfig> vuser_configs;
  /// Virtual users of Python mode (and of distributed mode's pre-auth pool), fixed;
  /// 0 = chosen from rps and grown on demand (python/vuser_pool.hpp). Static mode
  /// ignores it.
  std::uint32_t vusers = 0;
  Thresholds thresholds;
  EngineSettings settings;

  friend bool operator==(const Plan&, const Plan&) = default;
};

const char* to_string(Mode mode);
std::optional<Mode> parse_mode(std::string_view text);

/// Total wall time of the load (ramp adds ramp_up to duration).
double total_secs(const Plan& plan);

}  // namespace lp::core
