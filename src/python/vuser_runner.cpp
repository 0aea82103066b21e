#include "python/vuser_runner.hpp"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/profile.hpp"
#include "engine/http_client.hpp"
#include "engine/rate_schedule.hpp"
#include "engine/snapshot_builder.hpp"
#include "engine/task_picker.hpp"
#include "python/scenario_handle.hpp"

namespace py = pybind11;

namespace lp::python {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

/// Due iterations wait this long for a free virtual user before they are dropped (as in
/// the static engine: lateness shows in latency, and the backlog stays bounded).
constexpr double kMaxLagSecs = 1.0;
constexpr std::uint32_t kDefaultMaxVUsers = 1000;

std::int64_t to_ns(Clock::time_point t) { return duration_cast<nanoseconds>(t.time_since_epoch()).count(); }

/// The engine seen from Python: `_loadpilot_native.Transport`. Calls release the GIL.
class Transport {
 public:
  explicit Transport(engine::HttpClient& client) : client_(client) {}

  py::tuple request(const std::string& method, const std::string& url, const py::list& headers,
                    const py::bytes& body, double timeout_secs, std::uint32_t task, std::int64_t intended_ns,
                    bool status_is_error) {
    engine::CallRequest r = make(method, url, headers, body, timeout_secs, task, intended_ns, status_is_error);
    engine::CallResponse out;
    {
      py::gil_scoped_release nogil;
      out = client_.execute(r);
    }
    return to_python(out);
  }

  py::list batch(const py::list& calls, std::uint32_t task, std::int64_t intended_ns, bool status_is_error) {
    std::vector<engine::CallRequest> reqs;
    for (auto item : calls) {
      auto t = item.cast<py::tuple>();
      reqs.push_back(make(t[0].cast<std::string>(), t[1].cast<std::string>(), t[2].cast<py::list>(),
                          t[3].cast<py::bytes>(), t[4].cast<double>(), task, intended_ns, status_is_error));
    }
    std::vector<engine::CallResponse> outs;
    {
      py::gil_scoped_release nogil;
      outs = client_.execute_batch(reqs);
    }
    py::list result;
    for (const auto& o : outs) result.append(to_python(o));
    return result;
  }

 private:
  static engine::CallRequest make(const std::string& method, const std::string& url, const py::list& headers,
                                  const py::bytes& body, double timeout_secs, std::uint32_t task,
                                  std::int64_t intended_ns, bool status_is_error) {
    engine::CallRequest r;
    r.method = method;
    r.url = url;
    for (auto h : headers) {
      auto pair = h.cast<py::sequence>();
      r.headers.emplace_back(py::str(pair[0]).cast<std::string>(), py::str(pair[1]).cast<std::string>());
    }
    r.body = body.cast<std::string>();
    r.timeout_ms = timeout_secs > 0 ? static_cast<std::uint32_t>(timeout_secs * 1000) : 0;
    r.tag.task = task;
    r.tag.status_is_error = status_is_error;
    if (intended_ns > 0) r.tag.intended = Clock::time_point(nanoseconds(intended_ns));
    return r;
  }

  static py::tuple to_python(const engine::CallResponse& o) {
    py::list headers;
    for (const auto& [k, v] : o.headers) headers.append(py::make_tuple(k, v));
    py::object error = o.failure ? py::object(py::str(o.error)) : py::object(py::none());
    return py::make_tuple(o.status, headers, py::bytes(o.body), o.elapsed_ms, error);
  }

  engine::HttpClient& client_;
};

class VUserRunner {
 public:
  VUserRunner(const ScenarioInfo& scenario, const core::Plan& plan, const engine::RunOptions& options,
              engine::HttpClient& client)
      : scenario_(scenario),
        plan_(plan),
        options_(options),
        client_(client),
        transport_(client),
        profile_(plan),
        schedule_(profile_, options.share_index, options.share_count),
        picker_([&] {
          std::vector<double> w;
          for (const auto& t : plan.tasks) w.push_back(t.weight);
          return w;
        }()) {
    max_vusers_ = plan.settings.max_connections ? plan.settings.max_connections : kDefaultMaxVUsers;
    py::module_::import("_loadpilot_native");  // registers Transport with pybind11
    py::module_ runtime = py::module_::import("loadpilot._runtime");
    run_task_ = runtime.attr("run_task");
    run_hook_ = runtime.attr("run_hook");
    live_client_ = runtime.attr("LiveClient");
    py_transport_ = py::cast(&transport_, py::return_value_policy::reference);
    for (const auto& t : plan.tasks) {
      names_.push_back(t.name);
      bool checked = py::hasattr(scenario.handle->cls, ("check_" + t.name).c_str());
      status_is_error_.push_back(!checked);
    }
  }

  Result<PythonRunResult> run() {
    PythonRunResult result;
    {
      py::gil_scoped_release nogil;  // from here on, Python runs only on virtual-user threads
      // The first user's on_start runs before the clock starts: if it fails, the scenario
      // is broken (bad credentials, wrong target), and nothing should be measured.
      spawn();
      {
        std::unique_lock lock(idle_mu_);
        idle_cv_.wait(lock, [&] { return starting_ == 0 || stop_requested(); });
      }
      if (!first_failure_.empty() || stop_requested()) {
        stop_all();
        if (first_failure_.empty()) {
          return make_error(ErrorCode::Invalid, "stopped before the load started");
        }
        return make_error(ErrorCode::Invalid, "on_start failed against " + plan_.target_url + ":\n" + first_failure_,
                          "fix on_start (or the target) and run again; nothing was measured");
      }
      dispatch();
      drain();
      stop_all();
    }
    auto now = Clock::now();
    result.run.stats = client_.load_stats();
    result.run.stats.late = late_;
    result.run.stats.dropped = dropped_;
    result.run.stats.iterations = iterations_;
    result.run.final_snapshot = builder_->build(result.run.stats, now, 0, /*final=*/true);
    result.run.stopped_early = stopped_;
    if (options_.on_snapshot) options_.on_snapshot(result.run.final_snapshot);
    auto setup = client_.setup_stats();
    result.setup = SetupCounts{setup.requests, setup.errors};
    {
      std::lock_guard lock(failures_mu_);
      for (auto& [msg, n] : failures_) result.check_failures.emplace_back(msg, n);
    }
    std::sort(result.check_failures.begin(), result.check_failures.end(),
              [](auto& a, auto& b) { return a.second > b.second; });
    result.vusers = vusers_.size();
    return result;
  }

 private:
  struct VUser {
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    bool has_work = false;
    bool stop = false;
    std::size_t index = 0;  ///< order of start; user 0 runs before the clock starts
    std::uint32_t task = 0;
    Clock::time_point intended{};
  };

  bool stop_requested() const { return options_.stop && options_.stop->load(std::memory_order_acquire); }

  void dispatch() {
    start_ = Clock::now() + std::chrono::milliseconds(5);
    builder_.emplace(profile_, names_, start_);
    const auto profile_end = start_ + duration_cast<nanoseconds>(duration<double>(profile_.total_secs()));
    const auto interval = duration_cast<nanoseconds>(duration<double>(options_.interval_secs));
    auto next_tick = start_ + interval;

    std::unique_lock lock(idle_mu_);
    for (;;) {
      auto now = Clock::now();
      if (stop_requested()) {
        stopped_ = true;
        return;
      }
      if (now >= profile_end) {
        dropped_ += schedule_.drop_rest();
        return;
      }
      double t = duration<double>(now - start_).count();
      bool starved = false;
      while (!schedule_.exhausted() && schedule_.next_due() <= t) {
        if (idle_.empty()) {
          starved = true;
          // Start users as the backlog needs them; on_start runs on their own thread.
          std::uint64_t waiting = schedule_.backlog(t);
          if (starting_ < waiting && vusers_.size() < max_vusers_) {
            lock.unlock();
            spawn();
            lock.lock();
          }
          dropped_ += schedule_.drop_due_before(t - kMaxLagSecs);
          break;
        }
        VUser* v = idle_.back();
        idle_.pop_back();
        ++busy_;
        auto intended = start_ + duration_cast<nanoseconds>(duration<double>(schedule_.next_due()));
        if (now - intended >= metrics::kLateAfter) ++late_;
        ++iterations_;
        std::uint32_t task = static_cast<std::uint32_t>(picker_.next());
        schedule_.advance();
        {
          std::lock_guard vlock(v->mu);
          v->task = task;
          v->intended = intended;
          v->has_work = true;
        }
        v->cv.notify_one();
      }
      // Keep one user in reserve so the next due iteration does not wait for a login.
      if (idle_.empty() && starting_ == 0 && vusers_.size() < max_vusers_) {
        lock.unlock();
        spawn();
        lock.lock();
      }
      if (now >= next_tick) {
        lock.unlock();
        emit(now);
        lock.lock();
        next_tick += interval;
        if (next_tick < now) next_tick = now + interval;
      }
      auto until = std::min(next_tick, profile_end);
      if (!starved && !schedule_.exhausted()) {
        until = std::min(until, start_ + duration_cast<nanoseconds>(duration<double>(schedule_.next_due())));
      }
      // A user coming back idle wakes us; so does nothing else, hence the short cap.
      until = std::min(until, Clock::now() + std::chrono::milliseconds(50));
      idle_cv_.wait_until(lock, until);
    }
  }

  void emit(Clock::time_point now) {
    metrics::RunStats stats = client_.load_stats();
    stats.late = late_;
    stats.dropped = dropped_;
    stats.iterations = iterations_;
    std::uint32_t active;
    {
      std::lock_guard lock(idle_mu_);
      stats.in_flight = busy_;
      active = static_cast<std::uint32_t>(vusers_.size());
    }
    auto snap = builder_->build(stats, now, active, /*final=*/false);
    if (options_.on_snapshot) options_.on_snapshot(snap);
  }

  /// Waits for iterations still running; past the drain time their calls are failed
  /// (counted as timeouts) so the tasks return.
  void drain() {
    auto deadline = Clock::now() + duration_cast<nanoseconds>(duration<double>(options_.drain_secs));
    std::unique_lock lock(idle_mu_);
    if (!idle_cv_.wait_until(lock, deadline, [&] { return busy_ == 0; })) {
      client_.expire_in_flight();
      idle_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return busy_ == 0; });
    }
    // Users still logging in are waited for too, so each one gets its on_stop.
    idle_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return starting_ == 0; });
  }

  void stop_all() {
    std::vector<VUser*> all;
    {
      std::lock_guard lock(idle_mu_);
      for (auto& v : vusers_) all.push_back(v.get());
    }
    for (VUser* v : all) {
      {
        std::lock_guard vlock(v->mu);
        v->stop = true;
      }
      v->cv.notify_one();
    }
    for (VUser* v : all) v->thread.join();
  }

  void spawn() {
    std::lock_guard lock(idle_mu_);
    if (vusers_.size() >= max_vusers_) return;
    ++starting_;
    vusers_.push_back(std::make_unique<VUser>());
    VUser* v = vusers_.back().get();
    v->index = vusers_.size() - 1;
    v->thread = std::thread([this, v] { vuser_main(*v); });
  }

  void report_hook_error(const char* hook, const std::string& traceback) {
    std::lock_guard lock(failures_mu_);
    if (hook_errors_++ == 0) {
      std::fprintf(stderr, "\n%s raised (reported once; later failures are counted as setup errors):\n%s\n", hook,
                   traceback.c_str());
    }
  }

  void record_failure(std::uint32_t task, std::string message) {
    client_.record_check_failure(task);
    std::lock_guard lock(failures_mu_);
    ++failures_[names_[task] + ": " + message];
  }

  void vuser_main(VUser& v) {
    py::gil_scoped_acquire gil;
    py::object user, client;
    try {
      user = scenario_.handle->cls();
      client = live_client_(py_transport_, plan_.target_url);
      if (scenario_.has_on_start) {
        py::object err = run_hook_(user, "on_start", client);
        if (!err.is_none()) {
          if (v.index == 0) first_failure_ = err.cast<std::string>();
          else report_hook_error("on_start", err.cast<std::string>());
        }
      }
    } catch (const std::exception& e) {
      report_hook_error("creating the virtual user", e.what());
    }
    {
      std::lock_guard lock(idle_mu_);
      --starting_;
      idle_.push_back(&v);
    }
    idle_cv_.notify_one();

    for (;;) {
      std::uint32_t task;
      Clock::time_point intended;
      {
        py::gil_scoped_release nogil;
        std::unique_lock vlock(v.mu);
        v.cv.wait(vlock, [&] { return v.has_work || v.stop; });
        if (!v.has_work) break;
        v.has_work = false;
        task = v.task;
        intended = v.intended;
      }
      if (user && client) {
        try {
          client.attr("_begin")(task, to_ns(intended), bool(status_is_error_[task]));
          py::handle check = py::getattr(user, ("check_" + names_[task]).c_str(), py::none());
          py::object failure = run_task_(user, names_[task], client, check);
          if (!failure.is_none()) record_failure(task, failure.cast<std::string>());
        } catch (const std::exception& e) {  // a bug of ours, not the scenario's: count it, go on
          record_failure(task, e.what());
        }
      }
      {
        py::gil_scoped_release nogil;
        std::lock_guard lock(idle_mu_);
        --busy_;
        idle_.push_back(&v);
      }
      idle_cv_.notify_one();
    }

    if (user && client && scenario_.has_on_stop) {
      try {
        client.attr("_begin")(engine::CallTag::kSetup, 0, true);
        py::object err = run_hook_(user, "on_stop", client);
        if (!err.is_none()) report_hook_error("on_stop", err.cast<std::string>());
      } catch (const std::exception& e) {
        report_hook_error("on_stop", e.what());
      }
    }
  }

  const ScenarioInfo& scenario_;
  const core::Plan& plan_;
  engine::RunOptions options_;
  engine::HttpClient& client_;
  Transport transport_;
  core::Profile profile_;
  engine::RateSchedule schedule_;
  engine::TaskPicker picker_;
  std::vector<std::string> names_;
  std::vector<bool> status_is_error_;
  std::uint32_t max_vusers_;

  py::object run_task_, run_hook_, live_client_, py_transport_;

  Clock::time_point start_{};
  std::optional<engine::SnapshotBuilder> builder_;
  std::uint64_t late_ = 0, dropped_ = 0, iterations_ = 0;
  bool stopped_ = false;
  std::string first_failure_;  ///< the first user's on_start traceback, if it raised

  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<VUser>> vusers_;  ///< guarded by idle_mu_; users live until the end
  std::vector<VUser*> idle_;
  std::uint64_t busy_ = 0;
  std::uint64_t starting_ = 0;

  std::mutex failures_mu_;
  std::map<std::string, std::uint64_t> failures_;
  std::uint64_t hook_errors_ = 0;
};

}  // namespace

bool needs_python_mode(const ScenarioInfo& scenario) {
  if (scenario.has_on_start || scenario.has_on_stop || scenario.has_checks || scenario.has_async) return true;
  py::gil_scoped_acquire gil;
  return py::module_::import("loadpilot._capture").attr("BATCH_USED").cast<bool>();
}

Result<PythonRunResult> run_python_mode(const ScenarioInfo& scenario, const core::Plan& plan,
                                        const engine::RunOptions& options) {
  engine::ClientOptions copts;
  copts.max_connections = plan.settings.max_connections ? plan.settings.max_connections : kDefaultMaxVUsers;
  copts.timeout_ms = plan.settings.timeout_ms;
  copts.insecure_tls = plan.settings.insecure_tls;
  copts.task_count = plan.tasks.size();
  auto client = engine::HttpClient::create(copts);
  if (!client) return std::move(client).error();
  py::gil_scoped_acquire gil;
  try {
    VUserRunner runner(scenario, plan, options, **client);
    return runner.run();  // NOLINT: Result converts
  } catch (const std::exception& e) {  // pybind11 errors stay inside src/python
    return make_error(ErrorCode::Internal, std::string("Python mode could not start: ") + e.what(),
                      "this is a bug in LoadPilot; please report it with the scenario file");
  }
}

}  // namespace lp::python

PYBIND11_EMBEDDED_MODULE(_loadpilot_native, m) {
  py::class_<lp::python::Transport>(m, "Transport")
      .def("request", &lp::python::Transport::request)
      .def("batch", &lp::python::Transport::batch);
}
