#pragma once
// One event-loop thread: its share of the schedule, its own connections and its own
// stats. Nothing it touches per request is shared with another thread; the runner
// only asks it, once an interval, to publish a copy of its stats.
//
// The loop is run(): turn() at the current time, then poll() for socket events until
// wake_at(). Tests drive the same three steps by hand with a FakeClock (TimeSource), so
// drops, lateness, the drain and a stop are checked without sleeping.
//
// What it fires: its lanes. The run's iteration sequence is cut into `slot_count` slots
// by residue (slot j owns k ≡ j mod S); thread t of T fires, of each slot j it holds,
// the k ≡ j + S·t (mod S·T) — a lane. A local run is one slot; an agent starts with its
// slot and may adopt others (from an exact index) or hand one over (release). Control
// commands arrive from other threads through a small locked queue that the loop looks
// at only when a flag says something is there.

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/clock.hpp"
#include "engine/compiled_plan.hpp"
#include "engine/pacer.hpp"
#include "engine/task_picker.hpp"
#include "http/connection.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

/// A slot held from a given index on.
struct SlotStart {
  std::uint32_t slot = 0;
  std::uint64_t from_index = 0;  ///< first global index of the slot to fire (≡ slot mod slot_count or not)
};

/// Where a lane of a slot has got to (see metrics::SlotProgress).
struct LaneProgress {
  std::uint32_t slot = 0;
  std::uint64_t next_index = 0;  ///< first index not fired nor dropped; once closed, the first never fired
  bool closed = false;           ///< gives up the rest: lease expired, handed over, or the run is over
};

struct WorkerConfig {
  std::uint32_t slot_count = 1;    ///< S: slots the run's sequence is cut into
  std::uint32_t thread_index = 0;  ///< t: this worker among its run's threads
  std::uint32_t thread_count = 1;  ///< T
  std::vector<SlotStart> slots = {SlotStart{}};  ///< held from the start
  /// Seconds after the start until which iterations may be fired (the agent's lease);
  /// infinity: no lease (a local run).
  double lease_secs = std::numeric_limits<double>::infinity();
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
  /// When the next turn is due: the next iteration's due time, the profile's end, a
  /// timeout scan or the end of the grace; at most 250 ms away.
  Clock::time_point wake_at(Clock::time_point now) const noexcept;
  /// Waits up to `wait` (real time) for socket events and handles them. While sending
  /// at a steady rate (plain HTTP, real clock, next send at most kMaxDeferral away,
  /// every request fully written) the wait is not cut short by responses: they are
  /// read when it ends, timed by the kernel's receive stamp. Otherwise any event ends
  /// it, and responses are timed by their kernel stamp or, without one (TLS, a
  /// FakeClock), by one TimeSource read per batch of events.
  void poll(std::chrono::nanoseconds wait) noexcept;

  /// Longest wait during which responses are left unread: a send due within it will
  /// wake the loop anyway. Beyond it (low rates) a response wakes the loop at once, so
  /// its connection is free again without delay.
  static constexpr std::chrono::microseconds kMaxDeferral{2000};
  /// Kernel receive stamps (and so deferral) only up to this rate per thread. They cost
  /// ~5 % per request (recvmsg and its control message) and pay for themselves only
  /// where the loop sleeps between sends; above it the loop is awake nearly all the
  /// time (flat out, 150k+ requests/s a thread), reads each response as it comes and
  /// times it by the batch's clock read, as without stamps.
  static constexpr double kMaxStampedRate = 50'000;
  /// A turn that sends also sends every iteration due within this long after it: at
  /// 10,000 rps one wake-up sends two, at 20,000 three, with the second and third up to
  /// this early. A wake-up is most of what a request costs at a fixed rate (the timer,
  /// the switch, and waking the server); nothing waits for a window, so the lateness is
  /// only the wake-up's own. An early request's latency is measured from its send (it
  /// cannot be answered before), never from its later due time; RunStats::send_early
  /// counts it. 100 µs: the send bound of a fixed-rate tool (issue 6), both ways.
  static constexpr std::chrono::microseconds kSendAhead{100};
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

  /// Thread-safe, applied at the loop's next turn: fire slot `slot` from `from_index`
  /// on. Iterations of it already due more than Pacer::kMaxLag ago are dropped at once
  /// (counted); the rest of the backlog is sent as connections allow.
  void adopt(std::uint32_t slot, std::uint64_t from_index);
  /// Thread-safe, applied at the next turn: the lease (seconds after the start). A
  /// lease never moves back; once one has expired, lanes it closed stay closed.
  void set_lease(double until_secs);
  /// Thread-safe, blocking (bounded by `timeout`): stops firing `slot` and returns the
  /// first index of it not yet taken (the largest over its lanes); the lanes stay held
  /// until cap(). nullopt when this worker holds no lane of the slot or did not answer.
  std::optional<std::uint64_t> freeze(std::uint32_t slot, std::chrono::milliseconds timeout);
  /// freeze() in two steps, for a loop driven by hand: the request (applied at the next
  /// turn) returns a ticket, and the answer is there once that turn ran.
  struct FreezeAnswer {
    bool answered = false;
    std::optional<std::uint64_t> next_index;  ///< nullopt: no lane of the slot here
  };
  std::uint64_t request_freeze(std::uint32_t slot);
  FreezeAnswer freeze_answer(std::uint64_t ticket) const;
  /// Thread-safe: after freeze(), fire `slot` only below `end_index` (each at its due
  /// time) and resume.
  void cap(std::uint32_t slot, std::uint64_t end_index);
  /// Thread-safe: the lanes' progress at the last published copy.
  std::vector<LaneProgress> published_lanes() const;
  /// Thread-safe: when the worker sent its first iteration, minus that iteration's
  /// offset from the start: the moment its schedule actually began. nullopt before.
  std::optional<Clock::time_point> began_at() const;
  /// Thread-safe: the lease expired (at the last publish).
  bool lease_expired() const noexcept { return lease_expired_.load(std::memory_order_acquire); }
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
    Clock::time_point intended; ///< due time of the call, or its send if sent ahead (latency is measured from it)
  };

  struct Lane {
    std::uint32_t slot = 0;
    Pacer pacer;
    bool frozen = false;      ///< held by freeze() until cap()
    bool superseded = false;  ///< finished, and the slot was adopted again since: not reported
  };

  struct Command {
    enum class Kind : std::uint8_t { Adopt, Lease, Freeze, Cap };
    Kind kind = Kind::Lease;
    std::uint32_t slot = 0;
    std::uint64_t index = 0;
    double secs = 0;
    std::uint64_t ticket = 0;  ///< Freeze: answered in freeze_answer_
  };

  void on_response(http::Connection& conn, const http::ResponseParser& response) noexcept override;
  void on_failure(http::Connection& conn, http::Failure failure, bool retryable) noexcept override;

  void post(const Command& command);
  void apply_commands(Clock::time_point now);
  void add_lane(std::uint32_t slot, std::uint64_t from_index, Clock::time_point now);
  void expire_lease(Clock::time_point now) noexcept;
  void close_lanes(Clock::time_point now) noexcept;
  Lane* next_due_lane(Clock::time_point now) noexcept;
  Clock::time_point next_send() const noexcept;  ///< earliest due time of a lane not frozen
  void apply_stop(Clock::time_point now) noexcept;
  void dispatch(Clock::time_point now) noexcept;
  http::Connection* acquire(std::uint32_t endpoint) noexcept;
  void release(http::Connection& conn) noexcept;
  void launch(http::Connection& conn, Iteration it, Clock::time_point now) noexcept;
  void record_failure(const Iteration& it, http::Failure failure) noexcept;
  void expire_overdue(Clock::time_point now) noexcept;
  bool defers_responses(std::chrono::nanoseconds wait) noexcept;
  bool all_written() noexcept;
  Clock::time_point arrival_of(const http::Connection& conn) const noexcept;
  void cut_off() noexcept;
  void sync_counters() noexcept;
  void publish();
  void publish_lanes();  ///< under published_mu_
  void handle_wakeup();

  const CompiledPlan& plan_;
  WorkerConfig config_;
  TimeSource time_;
  std::vector<Lane> lanes_;  ///< one per slot held (usually one); never shrinks during a run
  Clock::time_point start_{};
  bool started_ = false;
  Clock::time_point end_ = Clock::time_point::max();        ///< the profile's end
  Clock::time_point lease_end_ = Clock::time_point::max();  ///< start + lease
  double lease_secs_;
  bool lease_over_ = false;                                 ///< the lease expired: lanes closed
  bool first_turn_done_ = false;
  std::optional<Clock::time_point> began_;                  ///< see began_at()
  TaskPicker picker_;
  std::chrono::nanoseconds timeout_;

  int epoll_fd_ = -1;
  int idle_fd_ = -1;  ///< an epoll set with wake_fd_ alone: a wait that responses do not end
  int wake_fd_ = -1;
  /// Responses are timed by the kernel's receive stamp (real clock, plain HTTP, a rate
  /// per thread up to kMaxStampedRate).
  bool kernel_stamps_ = false;
  /// Responses may be left unread until the next send (kernel stamps, and no chained
  /// call whose send would wait for the read).
  bool may_defer_ = false;
  std::size_t unwritten_ = 0;        ///< requests maybe not fully written (recounted when > 0)
  std::int64_t real_minus_steady_ns_ = 0;  ///< CLOCK_REALTIME - steady clock, at the last event batch
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
  std::vector<LaneProgress> published_lanes_;
  std::optional<Clock::time_point> published_began_;
  std::atomic<bool> lease_expired_{false};

  std::atomic<bool> has_commands_{false};
  mutable std::mutex commands_mu_;
  std::condition_variable commands_cv_;
  std::vector<Command> commands_;
  std::uint64_t next_ticket_ = 0;                   ///< under commands_mu_
  std::uint64_t freeze_answered_ = 0;               ///< ticket of the last Freeze applied
  std::optional<std::uint64_t> freeze_answer_;      ///< its next index
};

}  // namespace lp::engine
