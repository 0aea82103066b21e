#pragma once
// One event-loop thread: its share of the schedule, its own connections and its own
// stats. Nothing it touches per request is shared with another thread; the runner
// only asks it, once an interval, to publish a copy of its stats.

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/compiled_plan.hpp"
#include "engine/rate_schedule.hpp"
#include "engine/task_picker.hpp"
#include "http/connection.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

using Clock = std::chrono::steady_clock;

struct WorkerConfig {
  std::uint64_t residue = 0;  ///< this worker's share of the global iteration sequence
  std::uint64_t stride = 1;
  std::uint32_t max_connections = 64;  ///< per endpoint, opened on demand
  std::chrono::nanoseconds drain{std::chrono::seconds(2)};
};

class Worker final : public http::ConnectionObserver {
 public:
  static constexpr std::size_t kRecvBufferSize = 64 * 1024;
  /// Due iterations wait for a free connection at most this long; older ones are
  /// dropped (and counted). Their latency, from the due time, shows the wait.
  static constexpr double kMaxLagSecs = 1.0;

  Worker(const CompiledPlan& plan, WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// The loop: fires the schedule from `start` until it is exhausted and the last
  /// responses are in (or `drain` has passed), or until request_stop().
  void run(Clock::time_point start);

  /// Thread-safe: stop sending; in-flight requests get `drain` to finish.
  void request_stop() noexcept;
  /// Thread-safe: ask for a copy of the stats tagged `epoch`; see published().
  void request_publish(std::uint64_t epoch) noexcept;
  /// Thread-safe: the epoch of the last published copy.
  std::uint64_t published_epoch() const noexcept { return published_epoch_.load(std::memory_order_acquire); }
  /// Thread-safe: merges the last published copy into `into`.
  void merge_published(metrics::RunStats& into) const;
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

 private:
  struct Iteration {
    const Variant* variant = nullptr;
    std::uint32_t task = 0;
    std::uint32_t call = 0;     ///< index into variant->calls
    bool retried = false;       ///< a retryable failure gets one fresh connection
    Clock::time_point intended; ///< due time of the call (latency is measured from it)
  };

  void on_response(http::Connection& conn, const http::ResponseParser& response) noexcept override;
  void on_failure(http::Connection& conn, http::Failure failure, bool retryable) noexcept override;

  void dispatch(Clock::time_point now) noexcept;
  http::Connection* acquire(std::uint32_t endpoint) noexcept;
  void release(http::Connection& conn) noexcept;
  void launch(http::Connection& conn, Iteration it, Clock::time_point now) noexcept;
  void expire_overdue(Clock::time_point now) noexcept;
  void expire_all() noexcept;
  void publish();
  void handle_wakeup();

  const CompiledPlan& plan_;
  WorkerConfig config_;
  RateSchedule schedule_;
  TaskPicker picker_;
  Clock::time_point start_{};
  std::chrono::nanoseconds timeout_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unique_ptr<char[]> recv_buf_;
  std::vector<std::unique_ptr<http::Connection>> conns_;  ///< slot → connection; only grows
  std::vector<Iteration> iters_;                          ///< slot → iteration in flight
  std::vector<std::vector<http::Connection*>> free_;      ///< per endpoint: not busy
  std::vector<std::uint32_t> open_per_endpoint_;
  std::size_t next_task_ = SIZE_MAX;                      ///< picked but not yet sent
  std::size_t in_flight_ = 0;                             ///< requests written, not yet answered
  bool in_dispatch_ = false;
  bool starved_ = false;                                  ///< due work waits for a connection
  bool stopping_ = false;
  Clock::time_point next_timeout_scan_{};

  metrics::RunStats stats_;

  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint64_t> publish_requested_{0};
  std::atomic<std::uint64_t> published_epoch_{0};
  std::atomic<bool> finished_{false};
  mutable std::mutex published_mu_;
  metrics::RunStats published_;
};

}  // namespace lp::engine
