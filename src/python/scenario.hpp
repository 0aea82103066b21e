#pragma once
// Scenario files: load one as a Python module, pick its @scenario class and turn that
// class into a core::Plan (task capture). Plain C++ on the outside; the interpreter and
// every Python object stay inside scenario.cpp.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"

namespace lp::python {

/// The loaded Python class and the virtual users started from it. Defined in scenario.cpp.
struct ScenarioHandle;

/// One @scenario class picked from a file. Copies share the loaded class.
struct ScenarioInfo {
  std::string name;                  ///< the class name, also the plan's name
  std::filesystem::path file;        ///< absolute path of the scenario file
  std::vector<std::string> choices;  ///< every @scenario class in the file, in order
  std::vector<std::string> tasks;    ///< @task method names, inherited ones first
  bool has_on_start = false;         ///< defines on_start (itself or via a base other than VUser)
  bool has_on_stop = false;
  bool has_checks = false;           ///< some task has a check_<task> method
  std::vector<std::string> checked_tasks;  ///< the tasks that have one, in task order
  bool has_async = false;            ///< some task is `async def`
  std::shared_ptr<ScenarioHandle> handle;
};

/// Imports `file` as a real module (named after its stem, its folder first on sys.path
/// so helper modules beside it import) and picks the @scenario class called `name`, or
/// the first one when `name` is empty (`choices` lists them all: see select_scenario).
/// Starts the interpreter on first use.
/// Errors (all ErrorCode::Invalid): a missing file; a Python exception while importing
/// (message = the traceback, with file and line); no @scenario class; an unknown `name`
/// (the message lists the choices).
Result<ScenarioInfo> load_scenario(const std::filesystem::path& file, std::string_view name = {});

/// Another @scenario class, `name`, of the file `loaded` came from, without importing
/// it again. Errors: an unknown `name` (ErrorCode::Invalid, the choices listed).
Result<ScenarioInfo> select_scenario(const ScenarioInfo& loaded, std::string_view name);

struct BuildOptions {
  std::string target_url = "http://localhost:8000";
  bool insecure_tls = false;
  /// For agents (--agents / --external-agents), which replay captured calls and have no
  /// Python: every task is captured twice, and a task that needs Python at run time is
  /// a problem naming it (see build_plan) instead of a switch to Python mode.
  bool distributed = false;
};

/// Builds and validates the static plan: settings from @scenario (durations parsed with
/// core::parse_duration), then every task run once against a recording client; each
/// recorded call becomes a step of Task::requests (the first also fills
/// method/url/headers/body_template). When the plan is not valid the Error (Invalid, no
/// hint) lists every problem, one per line (scenario settings, tasks that make no call
/// or raise before any call, core::validate). Nothing is sent: on_start runs against the
/// recording client too. With options.distributed, a task that needs Python at run time
/// is one more problem: "task 'x' needs Python at run time (<why>), and agents have
/// none: ..." (why: it uses a value from a response inside the task, calls client.batch,
/// awaits something other than a client call, or makes different calls on two runs).
Result<core::Plan> build_plan(const ScenarioInfo& scenario, const BuildOptions& options);

/// The problem line for a task that needs Python at run time in distributed mode.
std::string needs_python_problem(const std::string& task, const std::string& why);

/// HTTP calls on_start/on_stop made against the target (setup, reported apart).
struct SetupCounts {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  ///< status >= 400 or no answer
};


}  // namespace lp::python
