#pragma once
// Python mode: virtual users run the scenario's Python task bodies (used when the
// scenario has on_start, on_stop, check_*, async tasks, client.batch, or tasks that need
// real responses). The rate is still the scenario's (open model): the engine hands each
// due iteration to an idle virtual user and says how many more to start. Users are
// greenlets on this thread (python/loadpilot/_runtime.py's Hub); every HTTP call goes
// through engine::CallLoop, polled inline with the GIL released while it waits.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "engine/runner.hpp"
#include "python/scenario.hpp"

namespace lp::python {

struct PythonRunResult {
  engine::RunResult run;        ///< load figures, as the static engine reports them
  SetupCounts setup;            ///< on_start / on_stop calls, reported apart
  /// Distinct failure messages of check_<task> (or of a task that raised), with counts.
  std::vector<std::pair<std::string, std::uint64_t>> check_failures;
  std::uint64_t vusers = 0;     ///< virtual users started
};

/// True when `scenario` needs Python mode rather than the static engine. Call after
/// build_plan (task capture notices client.batch, and tasks that need real responses).
bool needs_python_mode(const ScenarioInfo& scenario);

/// Runs `plan` (built from `scenario`) with Python virtual users. Prints the first
/// traceback of a failing on_start/on_stop to stderr. Call with the interpreter started.
Result<PythonRunResult> run_python_mode(const ScenarioInfo& scenario, const core::Plan& plan,
                                        const engine::RunOptions& options);

}  // namespace lp::python
