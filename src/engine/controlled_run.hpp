#pragma once
// A run that can be steered while it goes: the engine as an agent of a distributed run
// needs it. It fires the slots it holds (see worker.hpp: slot j of S owns the run's
// iterations k ≡ j mod S), and can adopt another slot from an exact index, hand one
// over (release: the first index it will not fire), obey a lease (fire nothing due at
// or after it), stop, and say how far it got at any time. run_plan (runner.hpp) is a
// thin loop over one of these holding the whole run.
//
// Every method is thread-safe; the worker threads are the ControlledRun's own.

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "engine/clock.hpp"
#include "engine/compiled_plan.hpp"
#include "engine/worker.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

struct ControlOptions {
  std::uint32_t slot_count = 1;                   ///< S
  std::vector<SlotStart> slots = {SlotStart{}};   ///< held from the start
  /// When iteration 0 is due (steady clock); the default is a few ms from now, so every
  /// thread is parked in its loop before it.
  std::optional<Clock::time_point> start;
  /// The lease, in seconds after `start`: nothing due at or after it is fired unless
  /// set_lease() extends it. Infinity: no lease.
  double lease_secs = std::numeric_limits<double>::infinity();
  /// After stop(), requests in flight get this long; then they count as `interrupted`.
  double grace_secs = 2.0;
};

/// How far the run got, merged over its threads.
struct RunProgress {
  metrics::RunStats stats;
  std::vector<LaneProgress> slots;  ///< per slot held (or given up): its first index not fired yet
  std::uint32_t active_workers = 0;
  /// When the schedule actually began: the earliest first send of any thread, minus
  /// that iteration's offset. nullopt before the first send.
  std::optional<Clock::time_point> began;
  bool lease_expired = false;  ///< the lease ran out and no newer one came
  bool finished = false;       ///< every thread is done (drained)
};

class ControlledRun {
 public:
  /// Compiles `plan` (resolving hosts) and starts its threads. Fails when the run
  /// cannot start, e.g. a host that does not resolve.
  static Result<std::unique_ptr<ControlledRun>> start(const core::Plan& plan, ControlOptions options);
  static std::unique_ptr<ControlledRun> start(std::shared_ptr<const CompiledPlan> plan, ControlOptions options);

  /// Stops at once (no grace) if still running, and joins the threads.
  ~ControlledRun();
  ControlledRun(const ControlledRun&) = delete;
  ControlledRun& operator=(const ControlledRun&) = delete;

  /// Fires slot `slot` from global index `from_index` on (rounded up to the slot's own
  /// indices). Iterations of it already due more than Pacer::kMaxLag ago are dropped
  /// and counted at once; the younger backlog is sent as connections allow.
  void adopt(std::uint32_t slot, std::uint64_t from_index);
  /// Stops firing `slot`: returns N, the first index of the slot this run will not
  /// fire; every iteration of the slot below N is fired (each at its due time) or
  /// counted dropped, none at or above. Returns once every thread has committed to it.
  /// nullopt when the run holds no lane of the slot (or a thread did not answer within
  /// `timeout`, in which case nothing changed).
  std::optional<std::uint64_t> release(std::uint32_t slot,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The lease, in seconds after the start (see ControlOptions::lease_secs). Never
  /// moves back.
  void set_lease(double until_secs);
  /// Stops sending; in-flight requests get the grace (`now`: none), then count as
  /// `interrupted`. Due iterations never sent are dropped.
  void stop(bool now = false);

  /// A fresh copy of the figures (every thread publishes, bounded wait of 200 ms).
  RunProgress progress();
  bool finished() const;
  /// Waits until every thread is done.
  void join();

  Clock::time_point start_time() const noexcept { return start_; }
  /// The profile's end: start + total_secs.
  Clock::time_point end_time() const noexcept { return end_; }
  const CompiledPlan& plan() const noexcept { return *plan_; }
  std::uint32_t slot_count() const noexcept { return slot_count_; }

 private:
  ControlledRun(std::shared_ptr<const CompiledPlan> plan, ControlOptions options);

  std::shared_ptr<const CompiledPlan> plan_;
  std::uint32_t slot_count_ = 1;
  Clock::time_point start_{};
  Clock::time_point end_{};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::mutex progress_mu_;  ///< one gather at a time (epochs)
  std::uint64_t epoch_ = 0;
  std::mutex release_mu_;   ///< one release at a time
  std::mutex join_mu_;
  bool joined_ = false;
};

}  // namespace lp::engine
