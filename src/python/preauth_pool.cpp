#include "python/preauth_pool.hpp"

#include <pybind11/embed.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/call_loop.hpp"
#include "python/call_bridge.hpp"
#include "python/scenario_handle.hpp"

namespace py = pybind11;

namespace lp::python {

namespace {

using Clock = std::chrono::steady_clock;

/// The hub comes back at least this often, so a stop is seen promptly.
constexpr auto kMaxWait = std::chrono::milliseconds(50);

/// The engine as the pool's hub sees it (`_loadpilot_setup.SetupEngine`): calls only,
/// no schedule — the hub's step() hands out no iterations, it completes calls. Every
/// call is setup (CallTag::kSetup). Single-threaded: only the hub calls it.
class SetupEngine {
 public:
  SetupEngine(engine::ClientOptions options, std::unique_ptr<engine::CallLoop> loop, const PreAuthOptions& stop)
      : options_(options), loop_(std::move(loop)), stop_(stop.stop), stop_now_(stop.stop_now) {}

  std::uint64_t submit(const std::string& method, const std::string& url, const py::list& headers,
                       const py::bytes& body, double timeout_secs, std::uint32_t task, std::int64_t lateness_ns,
                       bool status_is_error) {
    return loop_->submit(make_call(method, url, headers, body, timeout_secs, task, lateness_ns, status_is_error));
  }

  /// The hub's turn: (no iterations, no users to start, the calls that completed, stop?).
  /// `wake_ns` (steady clock, 0 = none): a parked user's wake-up; the wait ends by then.
  py::tuple step(std::size_t /*idle*/, std::size_t /*users*/, std::size_t /*starting*/, std::int64_t wake_ns) {
    if (!cut_ && stop_now_ != nullptr && stop_now_->load(std::memory_order_acquire)) {
      cut_ = true;  // a second Ctrl+C: calls still in flight end now
      loop_->expire_in_flight(metrics::ErrorKind::Interrupted);
    }
    auto until = Clock::now() + kMaxWait;
    if (wake_ns > 0) until = std::min(until, Clock::time_point(std::chrono::nanoseconds(wake_ns)));
    std::vector<engine::Completion> done;
    {
      py::gil_scoped_release nogil;
      done = loop_->poll(until);
    }
    py::list completions;
    for (auto& c : done) completions.append(py::make_tuple(c.id, to_python(c.response)));
    const bool stopped = stop_ != nullptr && stop_->load(std::memory_order_acquire);
    return py::make_tuple(py::list(), 0, completions, stopped);
  }

  /// A new loop for on_stop: the pool's connections idled through the run and the
  /// target may have closed them, and a POST on a connection closed under it is never
  /// resent (it may have reached the server). With calls still pending (a stop during
  /// on_start) the loop stays: those users finish on_start on it first.
  Status renew_loop() {
    if (loop_->pending() > 0) return Ok{};
    auto fresh = engine::CallLoop::create(options_);
    if (!fresh) return std::move(fresh).error();
    add_setup();
    loop_ = std::move(*fresh);
    counted_ = {};
    return Ok{};
  }

  SetupCounts setup() {
    add_setup();
    return done_;
  }

 private:
  /// Folds what the current loop counted since the last fold into done_.
  void add_setup() {
    const auto& s = loop_->setup_stats();
    done_.requests += s.requests - counted_.requests;
    done_.errors += s.errors - counted_.errors;
    counted_ = {s.requests, s.errors};
  }

  engine::ClientOptions options_;
  std::unique_ptr<engine::CallLoop> loop_;
  const std::atomic<bool>* stop_;
  const std::atomic<bool>* stop_now_;
  bool cut_ = false;
  SetupCounts done_;     ///< setup calls of the loops so far
  SetupCounts counted_;  ///< of the current loop, already in done_
};

}  // namespace

struct PreAuthPool::Impl {
  std::uint32_t size = 0;
  bool stopped_early = false;
  bool stopped = false;
  std::unique_ptr<SetupEngine> engine;
  py::object pool;  ///< loadpilot._preauth.Pool
  std::vector<std::string> tasks;

  ~Impl() {
    if (!pool) return;
    py::gil_scoped_acquire gil;
    pool = py::object();
  }
};

PreAuthPool::PreAuthPool() = default;
PreAuthPool::PreAuthPool(PreAuthPool&&) noexcept = default;
PreAuthPool& PreAuthPool::operator=(PreAuthPool&& other) noexcept {
  if (this != &other) {
    if (impl_) stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

PreAuthPool::~PreAuthPool() {
  if (impl_) stop();
}

bool PreAuthPool::stopped_early() const { return impl_ && impl_->stopped_early; }
std::uint32_t PreAuthPool::size() const { return impl_ ? impl_->size : 0; }

Result<PreAuthPool> PreAuthPool::start(const ScenarioInfo& scenario, const core::Plan& plan,
                                       const PreAuthOptions& options) {
  if (!scenario.handle) return make_error(ErrorCode::Internal, "the pre-auth pool needs a loaded scenario");
  engine::ClientOptions copts;
  // A user makes one call at a time (a batch more); the loop queues beyond this.
  copts.max_connections = plan.settings.max_connections ? plan.settings.max_connections : std::max(1u, options.size);
  copts.timeout_ms = plan.settings.timeout_ms;
  copts.insecure_tls = plan.settings.insecure_tls;
  copts.task_count = plan.tasks.size();
  auto loop = engine::CallLoop::create(copts);
  if (!loop) return std::move(loop).error();

  auto impl = std::make_unique<Impl>();
  impl->size = std::max(1u, options.size);
  impl->engine = std::make_unique<SetupEngine>(copts, std::move(*loop), options);
  for (const auto& t : plan.tasks) impl->tasks.push_back(t.name);

  py::gil_scoped_acquire gil;
  try {
    py::module_::import("_loadpilot_setup");  // registers SetupEngine with pybind11
    py::list tasks;
    for (const auto& t : impl->tasks) tasks.append(t);
    impl->pool = py::module_::import("loadpilot._preauth")
                     .attr("Pool")(py::cast(impl->engine.get(), py::return_value_policy::reference),
                                   scenario.handle->cls, plan.target_url, tasks, scenario.has_on_start,
                                   scenario.has_on_stop);
    py::tuple started = impl->pool.attr("start")(impl->size);
    impl->stopped_early = started[1].cast<bool>();
    if (!started[0].is_none()) {
      std::string traceback = started[0].cast<std::string>();
      impl->pool.attr("stop")();  // ends the first user's greenlet; its on_stop is skipped
      impl->stopped = true;
      return make_error(ErrorCode::Invalid, "on_start failed against " + plan.target_url + ":\n" + traceback,
                        "fix on_start (or the target) and run again; no agent was given the plan");
    }
  } catch (const std::exception& e) {  // pybind11 errors stay inside src/python
    return make_error(ErrorCode::Internal, std::string("the pre-auth pool failed: ") + e.what(),
                      "this is a bug in LoadPilot; please report it with the scenario file");
  }
  PreAuthPool out;
  out.impl_ = std::move(impl);
  return out;
}

Result<PoolCapture> PreAuthPool::capture() {
  if (!impl_ || impl_->stopped) return make_error(ErrorCode::Internal, "capture() needs a started pool");
  py::gil_scoped_acquire gil;
  try {
    py::dict captured = impl_->pool.attr("capture")();
    PoolCapture out;
    for (auto entry : captured["needs_python"]) {
      out.problems.push_back(
          needs_python_problem(entry[py::int_(0)].cast<std::string>(), entry[py::int_(1)].cast<std::string>()));
    }
    for (auto p : captured["problems"]) out.problems.push_back(p.cast<std::string>());
    for (auto user : captured["users"]) {
      if (user.is_none()) {
        ++out.failed;
        continue;
      }
      core::VUserConfig vu;
      for (auto [task, calls] : user.cast<py::dict>()) {
        auto& list = vu.task_calls[task.cast<std::string>()];
        for (auto call : calls) list.push_back(to_request(call));
      }
      out.users.push_back(std::move(vu));
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Internal, std::string("capturing the pre-auth pool's calls failed: ") + e.what(),
                      "this is a bug in LoadPilot; please report it with the scenario file");
  }
}

SetupCounts PreAuthPool::stop() {
  if (!impl_) return {};
  Impl& d = *impl_;
  if (!d.stopped) {
    d.stopped = true;
    if (auto s = d.engine->renew_loop(); !s) {
      std::fprintf(stderr, "warning: on_stop runs on the pool's old connections: %s\n", s.error().message.c_str());
    }
    py::gil_scoped_acquire gil;
    try {
      d.pool.attr("stop")();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: on_stop of the pre-auth pool failed: %s\n", e.what());
    }
  }
  return d.engine->setup();
}

}  // namespace lp::python

PYBIND11_EMBEDDED_MODULE(_loadpilot_setup, m) {
  py::class_<lp::python::SetupEngine>(m, "SetupEngine")
      .def("submit", &lp::python::SetupEngine::submit)
      .def("step", &lp::python::SetupEngine::step);
}
