#pragma once
// One event-loop thread: its share of the schedule, its own connections and its own
// stats. Nothing it touches per request is shared with another thread; the runner
// only asks it, once an interval, to publish a copy of its stats.
//
// The loop is run(): turn() at the current time, then poll() for socket events until
// wake_at(). Tests drive the same three steps by hand with a FakeClock (TimeSource), so
// drops, lateness, the drain and a stop are checked without sleeping.

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/clock.hpp"
#include "engine/compiled_plan.hpp"
#include "engine/pacer.hpp"
#include "engine/task_picker.hpp"
#include "http/connection.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

struct WorkerConfig {
  std::uint64_t residue = 0;  ///< this worker's share of the global iteration sequence
  std::uint64_t stride = 1;
  std::uint32_t max_connections = 64;  ///< per endpoint, opened on demand
  /// After a stop, requests in flight get this long to finish; then they are cut off
  /// and counted as `interrupted`.
  std::chrono::nanoseconds grace{std::chrono::seconds(2)};
};

class Worker final : public http::ConnectionObserver {
 public:
  static constexpr std::size_t kRecvBufferSize = 64 * 1024;

  enum class Phase : std::uint8_t {
    Sending,       ///< firing the schedule, until the profile's end
    Draining,      ///< the profile is over; requests in flight keep their own timeout
    Interrupting,  ///< stopped: requests in flight get `grace`, then count as interrupted
    Done,          ///< nothing left in flight; the loop is over
  };

  /// `time` is where the loop reads the clock (a FakeClock in tests).
  Worker(const CompiledPlan& plan, WorkerConfig config, TimeSource time = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// The loop: begin(start), then turn() and poll() until Phase::Done, then end().
  void run(Clock::time_point start);

  /// The loop's steps, for driving it by hand. All on the loop's thread.
  /// Starts the schedule: iteration k is due at start + profile.time_of(k).
  void begin(Clock::time_point start);
  /// One turn at `now`: applies a stop, sends the iterations due (Pacer), moves to
  /// Draining at the profile's end, fails requests past their timeout, cuts off those
  /// still in flight when a stop's grace is over, publishes stats when asked.
  Phase turn(Clock::time_point now) noexcept;
  /// When the next turn is due: the next iteration, the profile's end, a timeout scan
  /// or the end of the grace; at most 250 ms away.
  Clock::time_point wake_at(Clock::time_point now) const noexcept;
  /// Waits up to `wait` (real time) for socket events and handles them; responses that
  /// arrive are timed with one TimeSource read per batch of events.
  void poll(std::chrono::nanoseconds wait) noexcept;
  /// Closes every connection, publishes the final stats and marks the worker finished.
  void end();

  Phase phase() const noexcept { return phase_; }
  /// The stats so far (the loop's thread only; other threads use merge_published).
  const metrics::RunStats& stats() noexcept;
  /// Requests written and not yet answered.
  std::size_t in_flight() const noexcept { return in_flight_; }

  /// Thread-safe: stop sending; in-flight requests get `grace` to finish (`now`: none).
  /// Calling it again with now = true cuts the grace short.
  void request_stop(bool now = false) noexcept;
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

  void apply_stop(Clock::time_point now) noexcept;
  void dispatch(Clock::time_point now) noexcept;
  http::Connection* acquire(std::uint32_t endpoint) noexcept;
  void release(http::Connection& conn) noexcept;
  void launch(http::Connection& conn, Iteration it, Clock::time_point now) noexcept;
  void record_failure(const Iteration& it, http::Failure failure) noexcept;
  void expire_overdue(Clock::time_point now) noexcept;
  void cut_off() noexcept;
  void sync_counters() noexcept;
  void publish();
  void handle_wakeup();

  const CompiledPlan& plan_;
  WorkerConfig config_;
  TimeSource time_;
  Pacer pacer_;
  TaskPicker picker_;
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
  Phase phase_ = Phase::Sending;
  Clock::time_point now_{};                               ///< time of the turn or event batch being handled
  Clock::time_point grace_end_ = Clock::time_point::max();
  bool in_dispatch_ = false;
  bool starved_ = false;                                  ///< due work waits for a connection
  bool stopping_ = false;                                 ///< stopped: no retries, no new calls
  bool cutting_off_ = false;                              ///< failures now are `interrupted`
  std::uint64_t chain_dropped_ = 0;                       ///< chains cut short: no connection for the next call
  Clock::time_point next_timeout_scan_{};

  metrics::RunStats stats_;

  std::atomic<int> stop_level_{0};  ///< 0 running, 1 stop with grace, 2 stop now
  std::atomic<std::uint64_t> publish_requested_{0};
  std::atomic<std::uint64_t> published_epoch_{0};
  std::atomic<bool> finished_{false};
  mutable std::mutex published_mu_;
  metrics::RunStats published_;
};

}  // namespace lp::engine
