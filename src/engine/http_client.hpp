#pragma once
// HTTP calls made one at a time from other threads (Python virtual users), served by
// an event-loop thread of the engine: the caller blocks in execute() (with the GIL
// released by the binding) while the loop does the I/O. Calls are measured like the
// static engine's requests and recorded per task on the loop thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

struct ClientOptions {
  std::uint32_t max_connections = 1024;  ///< per host
  std::uint32_t timeout_ms = 30'000;     ///< default per call
  bool insecure_tls = false;
  std::size_t task_count = 0;            ///< stats slots; calls name a task index below it
};

/// Where a call's figures go: a load task, or setup (on_start / on_stop), kept apart.
struct CallTag {
  static constexpr std::uint32_t kSetup = UINT32_MAX;
  std::uint32_t task = kSetup;
  /// Latency is measured from here (the iteration's due time for its first call);
  /// default: when execute() is called.
  std::optional<std::chrono::steady_clock::time_point> intended;
  /// Status >= 400 counts as an error (false when a check_<task> decides instead).
  bool status_is_error = true;
};

struct CallRequest {
  std::string method = "GET";
  std::string url;            ///< absolute http(s) URL
  core::Headers headers;
  std::string body;
  std::uint32_t timeout_ms = 0;  ///< 0: ClientOptions::timeout_ms
  CallTag tag;
};

struct CallResponse {
  int status = 0;                ///< 0 when the call failed before a response
  core::Headers headers;
  std::string body;
  double elapsed_ms = 0;         ///< from the first byte written to the last byte read
  std::optional<metrics::ErrorKind> failure;  ///< transport failure, if any
  std::string error;             ///< human text for a failure ("connection refused to ...")
};

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> create(const ClientOptions& options);
  ~HttpClient();  ///< fails calls still in flight, joins the loop thread

  /// Blocks until the response or a failure. Thread-safe. Never throws.
  CallResponse execute(const CallRequest& request);
  /// All requests at once (concurrently on separate connections); results in order.
  std::vector<CallResponse> execute_batch(const std::vector<CallRequest>& requests);

  /// Cumulative figures of load calls (per task) and of setup calls. Thread-safe.
  metrics::RunStats load_stats() const;
  metrics::TaskStats setup_stats() const;
  /// A check_<task> raised: one error of kind `check` for the task. Thread-safe.
  void record_check_failure(std::uint32_t task);
  /// Fails every call in flight or waiting with a timeout (the drain after a stop ran
  /// out). Later calls work as usual, so on_stop can still make its calls. Thread-safe.
  void expire_in_flight();

  class Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::engine
