#pragma once
// Distributed mode's pre-authenticated pool (the seed's "on_start in distributed mode").
// Agents have no Python, so before the run the CLI runs on_start here, for real, for
// each virtual user of the pool, against the target; captures per user and per task
// every call the task would make with what on_start left (its token, a shared
// project's id); and ships those calls as the plan's vuser_configs (each agent gets a
// disjoint slice). After the run — or a Ctrl+C, an error, a --dry-run — on_stop runs
// for each user.
//
//   auto pool = PreAuthPool::start(scenario, plan, {.size = 5, .stop = &g_stop});
//   auto captured = pool->capture();       // vuser_configs, or the tasks agents cannot replay
//   plan.vuser_configs = captured->users;  // ... the agents run the plan ...
//   SetupCounts setup = pool->stop();      // on_stop x 5; what on_start and on_stop sent
//
// The users are Python mode's greenlets (python/loadpilot/_preauth.py over
// _runtime.Hub): their calls go through an engine::CallLoop concurrently, and scenario
// locks held across a call park only the user waiting for them. Call every method on
// the thread that started the interpreter.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "python/scenario.hpp"

namespace lp::python {

struct PreAuthOptions {
  std::uint32_t size = 1;                       ///< virtual users (≥ 1)
  const std::atomic<bool>* stop = nullptr;      ///< set (Ctrl+C): no more users start
  const std::atomic<bool>* stop_now = nullptr;  ///< set after stop: calls in flight are cut off
};

struct PoolCapture {
  /// One per user whose on_start succeeded, in pool order: task_calls for every task
  /// that made a call.
  std::vector<core::VUserConfig> users;
  std::uint32_t failed = 0;  ///< users whose on_start raised: left out of `users`
  /// Tasks agents cannot replay (needs_python_problem), then tasks that raised or made
  /// no call for some user ("virtual user 3: task 'x' raised ..."). Empty: ship `users`.
  std::vector<std::string> problems;
};

class PreAuthPool {
 public:
  /// Runs on_start for options.size users: the first alone, then the rest at once.
  /// Errors: the first user's on_start raised (ErrorCode::Invalid, "on_start failed
  /// against URL:\n<traceback>"; no other user started, and nothing is left to stop),
  /// the call loop could not be created, a bug in the embedded module (Internal).
  static Result<PreAuthPool> start(const ScenarioInfo& scenario, const core::Plan& plan, const PreAuthOptions& options);

  PreAuthPool();
  PreAuthPool(PreAuthPool&&) noexcept;
  PreAuthPool& operator=(PreAuthPool&&) noexcept;
  ~PreAuthPool();  ///< stop() unless it ran

  /// The stop flag was set while on_start ran: some users may not have started.
  bool stopped_early() const;
  std::uint32_t size() const;

  /// Every call each task would make, per user (nothing is sent). Errors: a bug in the
  /// embedded module (Internal).
  Result<PoolCapture> capture();

  /// Runs on_stop for every user, concurrently, on fresh connections (the pool's may
  /// have idled out during the run); once. Returns the setup calls of on_start and
  /// on_stop together. A failing on_stop prints its traceback to stderr and counts as a
  /// setup error.
  SetupCounts stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::python
