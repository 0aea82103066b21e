#include "python/vuser_runner.hpp"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/profile.hpp"
#include "engine/call_loop.hpp"
#include "engine/pacer.hpp"
#include "engine/snapshot_builder.hpp"
#include "engine/task_picker.hpp"
#include "python/call_bridge.hpp"
#include "python/scenario_handle.hpp"
#include "python/vuser_pool.hpp"

namespace py = pybind11;

namespace lp::python {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

/// The hub comes back at least this often, so a stop request is seen promptly.
constexpr auto kMaxWait = std::chrono::milliseconds(50);
/// After a stop, scenario code that keeps the hub's thread this long without the hub
/// taking a turn (a busy loop, a blocking call) is interrupted (see Watchdog).
constexpr auto kStuckAfter = std::chrono::seconds(1);
/// ... and if it still holds the thread this long (it swallows the interrupt, or blocks
/// in C code holding the GIL), the process exits without a summary.
constexpr auto kGiveUpAfter = std::chrono::seconds(10);

std::int64_t to_ns(Clock::time_point t) { return duration_cast<nanoseconds>(t.time_since_epoch()).count(); }

/// The engine as the Python hub sees it (`_loadpilot_native.Engine`): calls, the
/// open-model schedule, and the metrics stream. Single-threaded: only the hub calls it.
class Engine {
 public:
  Engine(const core::Plan& plan, const engine::RunOptions& options, engine::CallLoop& loop)
      : plan_(plan),
        options_(options),
        loop_(loop),
        profile_(plan),
        pacer_(profile_, options.share_index, options.share_count),
        picker_([&] {
          std::vector<double> w;
          for (const auto& t : plan.tasks) w.push_back(t.weight);
          return w;
        }()),
        pool_(plan) {
    for (const auto& t : plan.tasks) names_.push_back(t.name);
    last_turn_ns_.store(to_ns(Clock::now()));
  }

  /// Sends one call. `lateness_ns` is added to its latency: the lateness of the
  /// iteration's start, for its first call (0 for the others), so the task's own time
  /// before the call is not charged to the server.
  std::uint64_t submit(const std::string& method, const std::string& url, const py::list& headers,
                       const py::bytes& body, double timeout_secs, std::uint32_t task, std::int64_t lateness_ns,
                       bool status_is_error) {
    return loop_.submit(make_call(method, url, headers, body, timeout_secs, task, lateness_ns, status_is_error));
  }

  /// Users to start before the clock, the first included (VUserPool::before_clock).
  std::uint32_t before_clock() const { return pool_.before_clock(); }

  void start_clock() {
    start_ = Clock::now();
    builder_.emplace(profile_, names_, start_);
    interval_ = duration_cast<nanoseconds>(duration<double>(options_.interval_secs));
    next_tick_ = start_ + interval_;
    if (stopped_) {
      // Stopped before the clock: nothing was ever due, so nothing is dropped (the
      // pacer is never started), and a hub that takes no turn from now on is stuck.
      stuck_check_after_ns_.store(to_ns(start_), std::memory_order_relaxed);
      return;
    }
    pacer_.start_at(start_);
    // Set here, not in step(): a hub held by scenario code takes no more turns. Past the
    // profile's end and the grace of users only asleep, a hub that takes no turn is stuck.
    stuck_check_after_ns_.store(to_ns(pacer_.end() + grace()), std::memory_order_relaxed);
  }

  /// One turn of the hub: which iterations to start now (at most `idle`), how many
  /// users to start, the calls that completed, and whether the schedule is over (or,
  /// before the clock started, whether the run was stopped).
  /// `wake_ns` (steady clock, 0 = none): a parked user's wake-up time; the wait for the
  /// network ends by then.
  py::tuple step(std::size_t idle, std::size_t users, std::size_t starting, std::int64_t wake_ns) {
    auto now = Clock::now();
    last_turn_ns_.store(to_ns(now), std::memory_order_relaxed);
    std::vector<std::pair<std::uint32_t, std::int64_t>> starts;
    std::size_t spawn = 0;
    std::size_t grow = 0;  // users for due iterations that found every user busy
    bool starved = false;
    std::uint64_t unserved = 0;
    if (!builder_ && options_.stop && options_.stop->load(std::memory_order_acquire)) {
      stopped_ = true;  // before the clock: the hub stops starting users
    }
    if (builder_) {
      // Once per run, whenever it comes: before the clock (then the run is empty), while
      // sending, or during the drain at the profile's end (which it cuts to the grace).
      if (!stop_seen_ && options_.stop && options_.stop->load(std::memory_order_acquire)) {
        stop_seen_ = true;
        pacer_.stop(now);  // already late and never started: dropped
        finished_ = stopped_ = true;
        builder_->stopped_at(now);
        // In-flight calls get the grace, then count as interrupted.
        drain_deadline_ = nap_deadline_ = std::min(drain_deadline_, now + grace());
        stuck_check_after_ns_.store(to_ns(now), std::memory_order_relaxed);
      } else if (!finished_ && now >= pacer_.end()) {
        pacer_.close(now);
        finished_ = true;
        // Calls in flight keep their own timeout, bounded by the plan's timeout_ms;
        // users only asleep (think time) get the short grace.
        drain_deadline_ = now + std::chrono::milliseconds(plan_.settings.timeout_ms);
        nap_deadline_ = now + grace();
      } else if (!finished_) {
        while (pacer_.due(now)) {
          if (starts.size() == idle) {
            starved = true;
            pacer_.shed(now);
            unserved = pacer_.due(now) ? pacer_.backlog(now) : 0;  // every user busy: the pool may start more
            break;
          }
          starts.emplace_back(static_cast<std::uint32_t>(picker_.next()), to_ns(pacer_.take(now)));
        }
        const double t = duration<double>(now - start_).count();
        spawn = pool_.to_start(t, users, starting, 0);  // staggered pool users now due
        if (starved) grow = pool_.to_start(t, users, starting, unserved) - spawn;
        if (starved && grow == 0 && users + spawn >= pool_.cap()) saturated_ = true;
      }
      // Snapshots go on through the drain (phase "draining"), one as soon as it starts.
      if (finished_ && !drain_seen_) {
        drain_seen_ = true;
        if (loop_.pending() > 0) {
          emit(now, users);
          next_tick_ = now + interval_;
        }
      } else if (now >= next_tick_) {
        emit(now, users);
        next_tick_ += interval_;
        if (next_tick_ < now) next_tick_ = now + interval_;
      }
    }

    // Wait for the network only when there is nothing to hand out right now (nor users
    // to start: a grow decision only looks at what is ready).
    Clock::time_point until = now + kMaxWait;
    if (!starts.empty() || spawn > 0 || grow > 0) {
      until = now;
    } else if (builder_ && !finished_) {
      until = std::min(until, next_tick_);
      if (!starved) until = std::min(until, pacer_.next_due());
      if (next_member_at_ >= 0) {
        until = std::min(until, start_ + duration_cast<nanoseconds>(duration<double>(next_member_at_)));
      }
    }
    if (wake_ns > 0) until = std::min(until, Clock::time_point(nanoseconds(wake_ns)));
    std::vector<engine::Completion> done;
    {
      py::gil_scoped_release nogil;
      done = loop_.poll(until);
    }
    last_turn_ns_.store(to_ns(Clock::now()), std::memory_order_relaxed);
    // Grow only when every user is waiting on the network. When responses are already
    // in, their users are about to be free: the hub (Python time), not the pool, is what
    // keeps them busy, and more users would add only switching and cache misses.
    if (grow > 0 && done.empty()) spawn += grow;
    if (builder_) {
      peak_users_ = std::max<std::uint64_t>(peak_users_, users + spawn);
      next_member_at_ = users + spawn < pool_.size() ? pool_.start_time(static_cast<std::uint32_t>(users + spawn)) : -1;
    }
    py::list completions;
    for (auto& c : done) completions.append(py::make_tuple(c.id, to_python(c.response)));
    return py::make_tuple(starts, spawn, completions, finished_ || (!builder_ && stopped_));
  }

  bool drain_expired() const {
    if (options_.stop_now && options_.stop_now->load(std::memory_order_acquire)) return true;
    const auto now = Clock::now();
    return now >= drain_deadline_ || (loop_.pending() == 0 && now >= nap_deadline_);
  }
  /// The drain is over: after a stop, calls still in flight are interrupted; at the
  /// profile's end they have waited timeout_ms and time out.
  void expire_in_flight() {
    loop_.expire_in_flight(stopped_ ? metrics::ErrorKind::Interrupted : metrics::ErrorKind::Timeout);
  }

  void record_check_failure(std::uint32_t task, const std::string& message) {
    loop_.record_check_failure(task);
    if (task < names_.size()) ++failures_[names_[task] + ": " + message];
  }

  PythonRunResult finish(std::size_t users, std::uint32_t stuck) {
    if (!builder_) start_clock();  // stopped before the clock: an empty run, still reported
    PythonRunResult result;
    result.run.stats = stats();
    result.run.final_snapshot =
        builder_->build(result.run.stats, Clock::now(), 0, engine::SnapshotBuilder::Stage::Done);
    result.run.stopped_early = stopped_;
    if (options_.on_snapshot) options_.on_snapshot(result.run.final_snapshot);
    if (options_.on_stats) options_.on_stats(result.run.final_snapshot, result.run.stats);
    const auto& setup = loop_.setup_stats();
    result.setup = SetupCounts{setup.requests, setup.errors};
    for (auto& [msg, n] : failures_) result.check_failures.emplace_back(msg, n);
    std::sort(result.check_failures.begin(), result.check_failures.end(),
              [](auto& a, auto& b) { return a.second > b.second; });
    result.pool.size = pool_.size();
    result.pool.started = std::max<std::uint64_t>(peak_users_, users);
    result.pool.cap = pool_.cap();
    result.pool.fixed = pool_.fixed();
    result.pool.saturated = saturated_;
    result.pool.stuck = stuck;
    return result;
  }

  /// For the watchdog (any thread): when the hub last took a turn, and from when on a
  /// hub that takes no turn is stuck (the stop, or the end of the drain).
  std::int64_t last_turn_ns() const { return last_turn_ns_.load(std::memory_order_relaxed); }
  std::int64_t stuck_check_after_ns() const { return stuck_check_after_ns_.load(std::memory_order_relaxed); }

 private:
  nanoseconds grace() const { return duration_cast<nanoseconds>(duration<double>(options_.grace_secs)); }

  metrics::RunStats stats() const {
    metrics::RunStats s = loop_.load_stats();
    s.late = pacer_.late();
    s.dropped = pacer_.dropped();
    s.iterations = pacer_.sent();
    s.in_flight = loop_.pending();
    return s;
  }

  void emit(Clock::time_point now, std::size_t users) {
    auto stage = finished_ ? engine::SnapshotBuilder::Stage::Draining : engine::SnapshotBuilder::Stage::Sending;
    const metrics::RunStats cumulative = stats();
    auto snap = builder_->build(cumulative, now, static_cast<std::uint32_t>(users), stage);
    if (options_.on_snapshot) options_.on_snapshot(snap);
    if (options_.on_stats) options_.on_stats(snap, cumulative);
  }

  const core::Plan& plan_;
  engine::RunOptions options_;
  engine::CallLoop& loop_;
  core::Profile profile_;
  engine::Pacer pacer_;
  engine::TaskPicker picker_;
  std::vector<std::string> names_;
  VUserPool pool_;
  std::uint64_t peak_users_ = 0;
  bool saturated_ = false;        ///< an iteration found every user busy and no more allowed
  double next_member_at_ = -1;    ///< when the next staggered pool user starts; < 0: all started
  std::atomic<std::int64_t> last_turn_ns_{0};
  std::atomic<std::int64_t> stuck_check_after_ns_{INT64_MAX};

  std::optional<engine::SnapshotBuilder> builder_;  ///< set when the clock starts
  Clock::time_point start_{}, next_tick_{};
  Clock::time_point drain_deadline_ = Clock::time_point::max(), nap_deadline_ = Clock::time_point::max();
  nanoseconds interval_{};
  bool finished_ = false, stopped_ = false, drain_seen_ = false;
  bool stop_seen_ = false;  ///< the stop request was acted on (deadlines cut to the grace)
  std::map<std::string, std::uint64_t> failures_;
};

/// Makes a stop reach scenario code that keeps the hub's thread. Once the run is
/// stopping (a stop request, or the drain after the profile's end is over), a hub that
/// has not taken a turn for kStuckAfter is held by scenario code: a busy loop, a
/// blocking call, a wait on something that is not cooperative. The watchdog then sends
/// `signum` to the hub's thread. Python's handler for it (loadpilot._coop, installed
/// without SA_RESTART) makes a blocking system call return with EINTR and raises
/// Interrupted in the virtual user, whose iteration ends there; the hub goes on to
/// on_stop and the summary. Interrupts repeat every kStuckAfter; past kGiveUpAfter the
/// process exits (code 2) rather than hang.
class Watchdog {
 public:
  Watchdog(const Engine& engine, const std::atomic<bool>* stop, int signum)
      : engine_(engine), stop_(stop), signum_(signum), hub_(::pthread_self()), thread_([this] { watch(); }) {}

  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void watch() {
    const auto stuck_after = duration_cast<nanoseconds>(kStuckAfter).count();
    std::int64_t stuck_since = 0, last_kick = 0;
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return done_; })) {
      std::int64_t now = to_ns(Clock::now());
      bool stopping = (stop_ && stop_->load(std::memory_order_acquire)) || now >= engine_.stuck_check_after_ns();
      if (!stopping || now - engine_.last_turn_ns() < stuck_after) {
        stuck_since = 0;
        continue;
      }
      if (stuck_since == 0) stuck_since = now;
      if (now - stuck_since >= duration_cast<nanoseconds>(kGiveUpAfter).count()) {
        std::fprintf(stderr,
                     "\nerror: scenario code still held the thread %lld s after it was first interrupted (it "
                     "catches KeyboardInterrupt, or blocks in C code that holds the GIL); exiting without a "
                     "summary\n",
                     static_cast<long long>(duration_cast<std::chrono::seconds>(kGiveUpAfter).count()));
        std::fflush(stderr);
        std::_Exit(2);
      }
      if (now - last_kick >= stuck_after) {
        ::pthread_kill(hub_, signum_);
        last_kick = now;
      }
    }
  }

  const Engine& engine_;
  const std::atomic<bool>* stop_;
  int signum_;
  pthread_t hub_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;  ///< last: starts once the members above are set
};

/// Python's handler for the watchdog's signal, for the length of a run. The signal is
/// a real-time one, which nothing else in the process uses, so the CLI keeps SIGINT and
/// SIGTERM to itself.
class InterruptSignal {
 public:
  InterruptSignal() : coop_(py::module_::import("loadpilot._coop")) {
    previous_ = coop_.attr("arm_interrupt")(signum());
  }
  ~InterruptSignal() {
    try {
      coop_.attr("disarm_interrupt")(signum(), previous_);
    } catch (const py::error_already_set&) {
      // The run is over either way; a handler left in place only raises in a hub's users.
    }
  }
  InterruptSignal(const InterruptSignal&) = delete;
  InterruptSignal& operator=(const InterruptSignal&) = delete;

  static int signum() { return SIGRTMIN; }

 private:
  py::module_ coop_;
  py::object previous_;
};

}  // namespace

bool needs_python_mode(const ScenarioInfo& scenario) {
  if (scenario.has_on_start || scenario.has_on_stop || scenario.has_checks || scenario.has_async) return true;
  py::gil_scoped_acquire gil;
  return py::module_::import("loadpilot._capture").attr("NEEDS_PYTHON_MODE").cast<bool>();
}

Result<PythonRunResult> run_python_mode(const ScenarioInfo& scenario, const core::Plan& plan,
                                        const engine::RunOptions& options) {
  engine::ClientOptions copts;
  // A user makes one call at a time (a batch more): as many connections as users.
  copts.max_connections = plan.settings.max_connections ? plan.settings.max_connections : VUserPool(plan).cap();
  copts.timeout_ms = plan.settings.timeout_ms;
  copts.insecure_tls = plan.settings.insecure_tls;
  copts.task_count = plan.tasks.size();
  auto loop = engine::CallLoop::create(copts);
  if (!loop) return std::move(loop).error();

  py::gil_scoped_acquire gil;
  try {
    py::module_::import("_loadpilot_native");  // registers Engine with pybind11
    Engine engine(plan, options, **loop);
    py::list tasks, checked;
    for (const auto& t : plan.tasks) {
      tasks.append(t.name);
      checked.append(py::hasattr(scenario.handle->cls, ("check_" + t.name).c_str()));
    }
    py::object hub = py::module_::import("loadpilot._runtime")
                         .attr("Hub")(py::cast(&engine, py::return_value_policy::reference), scenario.handle->cls,
                                      plan.target_url, tasks, checked, scenario.has_on_start, scenario.has_on_stop);
    py::object failure;
    {
      InterruptSignal interrupts;
      Watchdog watchdog(engine, options.stop, InterruptSignal::signum());
      failure = hub.attr("run")();
    }
    std::size_t users = py::len(hub.attr("users"));
    if (!failure.is_none()) {
      return make_error(ErrorCode::Invalid, "on_start failed against " + plan.target_url + ":\n" + failure.cast<std::string>(),
                        "fix on_start (or the target) and run again; nothing was measured");
    }
    return engine.finish(users, hub.attr("stuck").cast<std::uint32_t>());
  } catch (const std::exception& e) {  // pybind11 errors stay inside src/python
    return make_error(ErrorCode::Internal, std::string("Python mode failed: ") + e.what(),
                      "this is a bug in LoadPilot; please report it with the scenario file");
  }
}

}  // namespace lp::python

PYBIND11_EMBEDDED_MODULE(_loadpilot_native, m) {
  py::class_<lp::python::Engine>(m, "Engine")
      .def("submit", &lp::python::Engine::submit)
      .def("before_clock", &lp::python::Engine::before_clock)
      .def("start_clock", &lp::python::Engine::start_clock)
      .def("step", &lp::python::Engine::step)
      .def("drain_expired", &lp::python::Engine::drain_expired)
      .def("expire_in_flight", &lp::python::Engine::expire_in_flight)
      .def("record_check_failure", &lp::python::Engine::record_check_failure);
}
