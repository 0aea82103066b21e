#pragma once
// Python mode: virtual users run the scenario's Python task bodies (used when the
// scenario has on_start, on_stop, check_*, async tasks, client.batch, or tasks that need
// real responses). The rate is still the scenario's (open model): the engine hands each
// due iteration to the virtual user idle longest and says when to start more (the pool:
// vuser_pool.hpp). Users are greenlets on this thread (python/loadpilot/_runtime.py's
// Hub); every HTTP call goes through engine::CallLoop, polled inline with the GIL
// released while it waits. A stop reaches scenario code whatever it is doing: parked
// users are interrupted in their wait, and code that keeps the thread (a busy loop, a
// blocking call) by a signal from a watchdog thread.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "engine/runner.hpp"
#include "python/scenario.hpp"

namespace lp::python {

/// The virtual users of a run (python/vuser_pool.hpp).
struct PoolReport {
  std::uint32_t size = 0;      ///< users the pool started with (vusers, or the default for the rate)
  std::uint64_t started = 0;   ///< users started in all; more than `size` when the pool grew
  std::uint32_t cap = 0;       ///< most users it could have (`size` when fixed)
  bool fixed = false;          ///< vusers was set: never grown
  bool saturated = false;      ///< an iteration found every user busy and no more could start
  std::uint32_t stuck = 0;     ///< users interrupted after the stop (a busy loop, a blocking call)
};

struct PythonRunResult {
  engine::RunResult run;        ///< load figures, as the static engine reports them
  SetupCounts setup;            ///< on_start / on_stop calls, reported apart
  /// Distinct failure messages of check_<task> (or of a task that raised), with counts.
  std::vector<std::pair<std::string, std::uint64_t>> check_failures;
  PoolReport pool;
};

/// True when `scenario` needs Python mode rather than the static engine. Call after
/// build_plan (task capture notices client.batch, and tasks that need real responses).
bool needs_python_mode(const ScenarioInfo& scenario);

/// Runs `plan` (built from `scenario`) with Python virtual users. Prints the first
/// traceback of a failing on_start/on_stop to stderr, and a note for each user that had
/// to be interrupted after the stop. Call with the interpreter started, on the thread
/// that started it (Python runs signal handlers there only).
Result<PythonRunResult> run_python_mode(const ScenarioInfo& scenario, const core::Plan& plan,
                                        const engine::RunOptions& options);

}  // namespace lp::python
