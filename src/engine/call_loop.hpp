#pragma once
// HTTP calls made one by one (Python mode): submit() a call, poll() for the ones that
// completed. Single-threaded on purpose: the thread that owns the loop (the Python
// hub) drives it, so a call costs no thread hand-off, lock or wake-up — only the
// send/recv of the engine's connection state machine, shared with the static engine.
// Calls are measured like the static engine's requests and recorded per task.

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
  std::uint32_t max_connections = 1024;  ///< per host; more calls wait for a free one
  std::uint32_t timeout_ms = 30'000;     ///< default per call
  bool insecure_tls = false;
  std::size_t task_count = 0;            ///< stats slots; calls name a task index below it
};

/// Where a call's figures go: a load task, or setup (on_start / on_stop), kept apart.
struct CallTag {
  static constexpr std::uint32_t kSetup = UINT32_MAX;
  std::uint32_t task = kSetup;
  /// Latency is measured from here (the iteration's due time for its first call);
  /// default: when the call is submitted.
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
  std::string error;             ///< human text for a failure ("could not connect to ...")
};

struct Completion {
  std::uint64_t id = 0;  ///< as returned by submit()
  CallResponse response;
};

class CallLoop {
 public:
  using Clock = std::chrono::steady_clock;

  static Result<std::unique_ptr<CallLoop>> create(const ClientOptions& options);
  ~CallLoop();  ///< closes every connection; calls still in flight are abandoned

  /// Starts a call; its completion comes out of a later poll(). A URL that does not
  /// parse or a host that does not resolve completes (as a connect failure) at once.
  std::uint64_t submit(CallRequest request);
  /// Runs the loop until at least one call completed or `until` passed; returns what
  /// completed, in completion order. Never throws.
  std::vector<Completion> poll(Clock::time_point until);
  /// Fails every call in flight or waiting, counted as `as`: Timeout when the drain at
  /// the end ran out, Interrupted when a stop's grace did; they come out of the next
  /// poll(). Later calls work as usual.
  void expire_in_flight(metrics::ErrorKind as = metrics::ErrorKind::Timeout);
  /// Calls submitted and not yet returned by poll().
  std::size_t pending() const;

  /// Convenience for tests and one-off calls: submit and poll until this call is done
  /// (other completions are kept for later polls).
  CallResponse execute(CallRequest request);

  /// Cumulative figures of load calls (per task) and of setup calls.
  const metrics::RunStats& load_stats() const;
  const metrics::TaskStats& setup_stats() const;
  /// A check_<task> raised: one error of kind `check` for the task.
  void record_check_failure(std::uint32_t task);

  class Impl;

 private:
  explicit CallLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::engine
