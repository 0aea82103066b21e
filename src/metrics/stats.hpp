#pragma once
// What one worker (thread, agent) has measured so far, cumulative since the start.
// Workers own theirs; the runner copies them once a second and merges.

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "metrics/histogram.hpp"

namespace lp::metrics {

/// An iteration sent this long after its due time counts as late: the generator (no
/// free connection or virtual user, or a starved machine) fell behind. Below it is
/// ordinary wake-up jitter, which the latency figures show anyway.
inline constexpr std::chrono::milliseconds kLateAfter{10};

enum class ErrorKind : std::uint8_t {
  Connect,   ///< could not open a connection (refused, unreachable, DNS)
  Timeout,   ///< no complete response within timeout_ms (connect included)
  Reset,     ///< connection reset or closed mid-response
  Tls,       ///< TLS handshake or record failure
  Http4xx,   ///< response status 400..499
  Http5xx,   ///< response status >= 500
  Protocol,  ///< the response was not valid HTTP/1.x
  Check,        ///< a Python check_<task> raised
  Interrupted,  ///< cut off by Ctrl+C / SIGTERM while in flight (never counted as timeout)
  kCount
};
inline constexpr std::size_t kErrorKindCount = static_cast<std::size_t>(ErrorKind::kCount);

/// JSON key of each kind: "connect", "timeout", "reset", "tls", "http_4xx", "http_5xx",
/// "protocol", "check", "interrupted".
std::string_view to_string(ErrorKind kind) noexcept;

struct TaskStats {
  std::uint64_t requests = 0;  ///< HTTP requests completed or failed (each call of a chain counts)
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  /// Check failures that had no request to count against (a Python task that raised
  /// before its first call). They join the error rate's denominator, so the rate is
  /// errors / (requests + errors_without_request) and never exceeds 100 %.
  std::uint64_t errors_without_request = 0;
  /// From the intended (due) time to the last response byte, for every response (any
  /// status) and every timeout (at its elapsed time): what a user would have waited.
  /// Failures before any response (refused, reset, TLS) have no sample.
  Histogram latency;
  Histogram service;  ///< from the first byte written to the last response byte; responses only
  Histogram success;  ///< `latency` of the successful responses alone

  /// A response counted as a success.
  void record_ok(std::uint64_t latency_us, std::uint64_t service_us) noexcept {
    ++requests;
    latency.record(latency_us);
    service.record(service_us);
    success.record(latency_us);
  }
  /// A response counted as an error (status >= 400: Http4xx or Http5xx).
  void record_http_error(ErrorKind kind, std::uint64_t latency_us, std::uint64_t service_us) noexcept {
    record_error(kind);
    latency.record(latency_us);
    service.record(service_us);
  }
  /// A request that got no response, `elapsed_us` after its due time. Only a timeout
  /// has a latency sample (the user waited that long); a connect, reset, TLS or
  /// protocol failure or an interrupted request has none.
  void record_failure(ErrorKind kind, std::uint64_t elapsed_us) noexcept {
    record_error(kind);
    if (kind == ErrorKind::Timeout) latency.record(elapsed_us);
  }
  /// A failed request, counted as a request and an error, with no latency sample.
  void record_error(ErrorKind kind) noexcept {
    ++requests;
    ++errors;
    ++errors_by_kind[static_cast<std::size_t>(kind)];
  }
  /// A check_<task> (or the task body) raised: an error of kind `check` against one of
  /// the task's requests. When every request is already counted as an error (the task
  /// raised before any call), it also counts in errors_without_request.
  void record_check_failure() noexcept {
    ++errors;
    ++errors_by_kind[static_cast<std::size_t>(ErrorKind::Check)];
    if (errors > requests + errors_without_request) ++errors_without_request;
  }
  void merge(const TaskStats& other) noexcept;
  /// Removes `earlier` (a copy taken before): what happened in between. Exact for the
  /// counters; see Histogram::subtract for min and max.
  void subtract(const TaskStats& earlier) noexcept;
};

struct RunStats {
  std::vector<TaskStats> tasks;  ///< indexed like Plan::tasks
  std::uint64_t iterations = 0;  ///< task iterations sent
  std::uint64_t late = 0;        ///< sent ≥ kLateAfter (10 ms) after their due time
  std::uint64_t dropped = 0;     ///< due but never sent (see engine::Pacer)
  std::uint64_t retries = 0;     ///< requests sent again on a fresh connection (see Worker::on_failure)
  std::uint64_t in_flight = 0;   ///< requests on the wire at the time of the copy
  std::uint64_t connections = 0; ///< open connections at the time of the copy
  /// Send lag, µs: from each iteration's due time to the moment its first request was
  /// handed to the socket (the write, or the connect of a new connection), for every
  /// iteration sent at or after its due time: how exactly the generator keeps its
  /// schedule. Engine threads only (Python mode and agents' wire stats leave it empty).
  Histogram send_lag;
  /// How early, µs, for each iteration sent ahead of its due time (by at most
  /// engine::Worker::kSendAhead, 100 µs, sharing an earlier one's wake-up). This count
  /// plus send_lag's is every iteration the engine threads sent.
  Histogram send_early;

  explicit RunStats(std::size_t task_count = 0) : tasks(task_count) {}
  void merge(const RunStats& other);
  /// Removes the counters of `earlier`, a cumulative copy taken before, task by task:
  /// what happened in between. The gauges (in_flight, connections) keep this copy's.
  void subtract(const RunStats& earlier);
  TaskStats total() const;  ///< every task merged
};

}  // namespace lp::metrics
