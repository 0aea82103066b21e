#pragma once
// `loadpilot run --coordinator-url URL` (or LOADPILOT_COORDINATOR_URL): the plan goes to
// a coordinator service (`loadpilot-coordinator --serve`, e.g. the Helm chart's pod) by
// POST /run, and its ndjson stream comes back line by line, with the cumulative stats
// behind each line (`?stats=1`), so the CLI renders the same dashboard, summary, results,
// report and JUnit as a local run. docs/distributed.md ("Coordinator HTTP API").
//
// Bounded everywhere: 10 s to connect, `answer_timeout` for the answer (the service may
// be waiting for its agents), `silence_timeout` between lines once the stream runs (a
// line comes every second), `stop_timeout` from a Ctrl+C to the last line. A stream that
// ends or goes silent before its last line is an error, never a hang.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cli {

/// The environment variables the flags fall back to.
inline constexpr const char* kCoordinatorUrlEnv = "LOADPILOT_COORDINATOR_URL";
inline constexpr const char* kApiTokenEnv = "LOADPILOT_API_TOKEN";

struct RemoteRunOptions {
  std::string coordinator_url;  ///< http://host:port or https://host:port, optionally with a path prefix
  std::string api_token;        ///< sent as `Authorization: Bearer`; empty: none
  /// Set (Ctrl+C) to stop the remote run: POST /stop, then the stream goes on to the
  /// final line ("stopped": true), as a local run's does.
  const std::atomic<bool>* stop = nullptr;
  /// Set after `stop` (a second Ctrl+C): POST /stop again, which cuts the grace short.
  const std::atomic<bool>* stop_now = nullptr;
  /// Each line before the last, on the calling thread; `stats` null when the line had none.
  std::function<void(const metrics::Snapshot&, const metrics::RunStats* stats)> on_snapshot;
  /// What the client does on its own (stopping the remote run); default: stderr.
  std::function<void(std::string_view)> on_note;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds answer_timeout{std::chrono::seconds(90)};
  std::chrono::milliseconds silence_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(30)};
};

struct RemoteRunResult {
  std::string run_id;                        ///< the service's id of the run (X-LoadPilot-Run)
  metrics::Snapshot final_snapshot;          ///< phase "done"
  std::optional<metrics::RunStats> stats;    ///< behind the final snapshot, when sent
  /// The coordinator's verdict on the exact final figures; nullopt when it sent none.
  std::optional<std::vector<metrics::ThresholdResult>> thresholds;
};

/// Why `url` cannot be a --coordinator-url, as a problem line; nullopt when it can
/// (checked with the scenario's problems, before any on_start runs).
std::optional<std::string> coordinator_url_problem(const std::string& url);

/// POSTs `plan` and reads the stream to its last line. Errors, one line each (plus
/// every validation problem for a 400), with a hint:
///   ErrorCode::Invalid      the URL is not http(s)://; the service refused the plan
///                           (400: every problem, one per line after the first; 413)
///   ErrorCode::Unavailable  the service cannot be reached; 401 (set LOADPILOT_API_TOKEN);
///                           409 (a test is already running there); 503 (its agents did
///                           not come); the run failed on the service (its error line);
///                           the stream ended or went silent before its last line
Result<RemoteRunResult> run_remote(const core::Plan& plan, const RemoteRunOptions& options);

}  // namespace lp::cli
