#pragma once
// `loadpilot-coordinator --serve`: the coordinator as a long-running service (the
// Kubernetes pod of the Helm chart). It keeps one connection to NATS, sees the agents
// that announce themselves there, and runs one plan at a time on them:
//
//   POST /run     plan JSON in (the stdin schema, pre-auth pool included); ndjson
//                 snapshot lines out, one a second, flushed each (service/run_stream.hpp);
//                 409 while a test runs, 400 for a bad plan (every problem), 413 over
//                 max_body_bytes, 401 without the API token, 503 when the agents do not
//                 come. A client that goes away stops its run.
//   POST /stop    stops the run in progress (a second one cuts the grace short): what
//                 `loadpilot run --coordinator-url` sends on Ctrl+C
//   GET /healthz  "ok" (liveness)
//   GET /readyz   200 once the wanted agents are connected (or a run is going), else 503
//   :9090/metrics the Prometheus exposition of the current or last run, plus the agent
//                 gauges, between and during runs
//
// docs/distributed.md ("Coordinator HTTP API") is the user-facing description.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cluster/coordinator.hpp"
#include "core/result.hpp"

namespace lp::service {

/// Bodies above this are refused with 413 before they are read whole: a plan with a
/// pre-auth pool of thousands of users is a few MiB.
inline constexpr std::size_t kDefaultMaxBodyBytes = 16u << 20;

struct ServiceOptions {
  std::string listen_host = "0.0.0.0";  ///< the API (`--listen`)
  std::uint16_t listen_port = 8080;     ///< 0: a free port (see CoordinatorService::port())
  std::string metrics_host = "0.0.0.0"; ///< Prometheus (`--metrics-listen`)
  std::uint16_t metrics_port = 9090;    ///< 0: a free port
  /// Agents a run needs (`--serve-agents`): /readyz waits for them and a run uses that
  /// many. 0: every agent connected when the plan comes (at least one).
  std::uint32_t agents = 0;
  /// How long POST /run waits for missing agents before answering 503 (`--wait-for-agents`).
  std::chrono::milliseconds wait_for_agents{std::chrono::seconds(30)};
  /// `LOADPILOT_API_TOKEN`: POST /run and /stop need `Authorization: Bearer <token>`.
  /// Empty: an open API (start() logs a warning).
  std::string api_token;
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  /// NATS (`--nats-url`, `--nats-token`) or the embedded broker, the grace after a stop,
  /// on_status. `agents`, `on_snapshot`, `on_stats`, `stop` and `stop_now` are the
  /// service's own and are overwritten.
  cluster::CoordinatorOptions coordinator;
  /// Log lines (one per event); default: stderr, prefixed "loadpilot-coordinator: ".
  std::function<void(std::string_view)> log;
};

class CoordinatorService {
 public:
  /// Binds both ports and connects to NATS (or starts the embedded broker). A NATS server
  /// that does not answer yet is retried every 2 s in the background (readyz says so);
  /// errors that retrying cannot fix are returned: a port in use, a refused token, a bad
  /// NATS URL.
  static Result<std::unique_ptr<CoordinatorService>> start(ServiceOptions options);

  /// Calls shutdown() if it was not.
  ~CoordinatorService();
  CoordinatorService(const CoordinatorService&) = delete;
  CoordinatorService& operator=(const CoordinatorService&) = delete;

  std::uint16_t port() const noexcept;          ///< the API's port
  std::uint16_t metrics_port() const noexcept;  ///< Prometheus's port

  /// Stops the run in progress as POST /stop does (its client still gets the final
  /// line), waits for it to end — `*cut_off` set meanwhile cuts the grace short — and
  /// stops serving. New runs are refused (503) from the start of the call.
  void shutdown(const std::atomic<bool>* cut_off = nullptr);

 private:
  struct Impl;
  explicit CoordinatorService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::service
