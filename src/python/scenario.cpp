#include "python/scenario.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include <pybind11/embed.h>

#include "core/duration.hpp"
#include "core/validate.hpp"
#include "python/call_bridge.hpp"
#include "python/interpreter.hpp"
#include "python/scenario_handle.hpp"

namespace lp::python {

namespace py = pybind11;

namespace {

constexpr const char* kDurationHint = "(use e.g. \"90\", \"500ms\", \"30s\", \"2m30s\")";

py::module_ capture_module() { return py::module_::import("loadpilot._capture"); }

/// Python's repr() of a user value, for problem messages.
std::string show(py::handle value) {
  std::string text = py::repr(value).cast<std::string>();
  constexpr std::size_t kShown = 40;  // a 400-digit int says nothing more than its start
  if (text.size() > kShown) text = text.substr(0, kShown) + "… (" + std::to_string(text.size()) + " characters)";
  return text;
}

bool is_number(py::handle value) {
  return (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) &&
         !py::isinstance<py::bool_>(value);
}

/// A Python number as a double; nullopt when it is none or too large for one (an int
/// such as 10**400, which would make pybind11's cast throw).
std::optional<double> as_double(py::handle value) {
  if (!is_number(value)) return std::nullopt;
  double out = PyFloat_AsDouble(value.ptr());
  if (out == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    return std::nullopt;
  }
  return out;
}

/// A Python int (not a bool) as a long long; nullopt for anything else or out of range.
std::optional<long long> as_whole(py::handle value) {
  if (!py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value)) return std::nullopt;
  int overflow = 0;
  long long out = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow != 0 || (out == -1 && PyErr_Occurred())) {
    PyErr_Clear();
    return std::nullopt;
  }
  return out;
}

/// "must be a number" or, for a number no double holds, "is too large".
std::string not_a_number(const std::string& what, py::handle value) {
  return is_number(value) ? what + " is too large, got " + show(value) : what + " must be a number, got " + show(value);
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

Error internal_error(const py::error_already_set& e) {
  return make_error(ErrorCode::Internal,
                    std::string("the embedded loadpilot module failed: ") + e.what(),
                    "this is a bug in LoadPilot; please report it with the scenario file");
}

void read_seconds(py::handle value, const char* key, double& out, bool& ok,
                  std::vector<std::string>& problems) {
  if (is_number(value)) {
    if (auto secs = as_double(value)) {
      out = *secs;
    } else {
      ok = false;
      problems.push_back(std::string(key) + " is too large, got " + show(value));
    }
    return;
  }
  if (py::isinstance<py::str>(value)) {
    auto text = value.cast<std::string>();
    if (auto secs = core::parse_duration(text)) {
      out = *secs;
      return;
    }
    ok = false;
    problems.push_back(std::string(key) + " is not a duration: '" + text + "' " + kDurationHint);
    return;
  }
  ok = false;
  problems.push_back(std::string(key) + " must be a duration such as \"30s\", got " + show(value));
}

void read_thresholds(py::handle value, core::Thresholds& out, std::vector<std::string>& problems) {
  if (!py::isinstance<py::dict>(value)) {
    problems.push_back("thresholds must be a dict such as {\"p99_ms\": 500}, got " + show(value));
    return;
  }
  for (auto [k, v] : value.cast<py::dict>()) {
    std::string key = py::str(k).cast<std::string>();
    auto* slot = out.find(key);
    if (!slot) {
      problems.push_back("unknown threshold '" + key + "' (use " + std::string(core::kThresholdKeys) + ")");
    } else if (auto limit = as_double(v)) {
      *slot = *limit;
    } else {
      problems.push_back(not_a_number("threshold " + key, v));
    }
  }
}

/// The scenario's @scenario settings into `plan`. Returns false when a duration could
/// not be read, so comparisons between durations are not reported on made-up values.
bool read_settings(py::dict d, core::Plan& plan, std::vector<std::string>& problems) {
  if (auto rps = as_double(d["rps"])) plan.rps = *rps;
  else problems.push_back(not_a_number("rps", d["rps"]));

  bool durations_ok = true;
  read_seconds(d["duration"], "duration", plan.duration_secs, durations_ok, problems);
  read_seconds(d["ramp_up"], "ramp_up", plan.ramp_up_secs, durations_ok, problems);

  py::handle mode = d["mode"];
  std::optional<core::Mode> parsed;
  if (py::isinstance<py::str>(mode)) parsed = core::parse_mode(mode.cast<std::string>());
  if (parsed) plan.mode = *parsed;
  else problems.push_back("mode must be one of ramp, constant, step, spike, got " + show(mode));

  py::handle steps = d["steps"];
  if (auto n = as_whole(steps); n && *n >= 0 && *n <= std::numeric_limits<std::uint32_t>::max()) {
    plan.steps = static_cast<std::uint32_t>(*n);
  } else {
    problems.push_back("steps must be a whole number >= 1, got " + show(steps));
  }

  py::handle vusers = d["vusers"];
  if (!vusers.is_none()) {
    if (auto n = as_whole(vusers); n && *n >= 1 && *n <= std::numeric_limits<std::uint32_t>::max()) {
      plan.vusers = static_cast<std::uint32_t>(*n);
    } else {
      problems.push_back("vusers must be a whole number >= 1 (or left unset to grow the pool on demand), got " +
                         show(vusers));
    }
  }

  read_thresholds(d["thresholds"], plan.thresholds, problems);
  return durations_ok;
}

/// A captured task ({name, weight, calls}) as a plan task; single calls stay flat,
/// several become a chain.
core::Task to_task(py::handle captured, std::vector<std::string>& problems) {
  core::Task t;
  t.name = captured["name"].cast<std::string>();
  py::handle weight = captured["weight"];
  if (auto w = as_double(weight)) t.weight = *w;
  else problems.push_back(not_a_number("task '" + t.name + "': weight", weight));

  py::list calls = captured["calls"];
  if (calls.size() > 0) {
    core::Request first = to_request(calls[0]);
    t.method = first.method;
    t.url = first.url;
    t.headers = first.headers;
    t.body_template = first.body;
  }
  if (calls.size() > 1) {
    for (auto call : calls) t.requests.push_back(to_request(call));
  }
  return t;
}

void append_strings(py::handle list, std::vector<std::string>& out) {
  for (auto item : list) out.push_back(item.cast<std::string>());
}

/// What validate() says that we already said better: a task that makes no call also
/// has an empty URL, and a ramp_up comparison against a duration that did not parse.
bool is_echo(const std::string& problem, const std::vector<std::string>& no_call_tasks, bool durations_ok) {
  if (!durations_ok && problem.starts_with("ramp_up (")) return true;
  for (const auto& name : no_call_tasks) {
    if (problem.starts_with("task '" + name + "': url is empty")) return true;
  }
  return false;
}

/// Where `name` is in info.choices; the error names `shown` (the file as the user gave it).
Result<std::size_t> index_of(const ScenarioInfo& info, std::string_view name, const std::string& shown) {
  for (std::size_t i = 0; i < info.choices.size(); ++i) {
    if (info.choices[i] == name) return i;
  }
  return make_error(ErrorCode::Invalid,
                    "no scenario named '" + std::string(name) + "' in " + shown +
                        "; choices: " + join(info.choices, ", "),
                    "pass --scenario NAME with one of them");
}

/// Fills `info` from the class at `index` of the loaded file.
void describe_class(ScenarioInfo& info, std::size_t index) {
  py::object cls = info.handle->classes[index];
  py::dict d = capture_module().attr("describe")(cls);
  info.name = info.choices[index];
  info.tasks.clear();
  append_strings(d["tasks"], info.tasks);
  info.has_on_start = d["has_on_start"].cast<bool>();
  info.has_on_stop = d["has_on_stop"].cast<bool>();
  info.has_checks = d["has_checks"].cast<bool>();
  info.checked_tasks.clear();
  append_strings(d["checked"], info.checked_tasks);
  info.has_async = d["has_async"].cast<bool>();
  info.handle->cls = std::move(cls);
}

}  // namespace

std::string needs_python_problem(const std::string& task, const std::string& why) {
  return "task '" + task + "' needs Python at run time (" + why +
         "), and agents have none: they replay the calls captured per virtual user. Run it on this machine "
         "(without --agents / --external-agents), or compute that value in on_start";
}

Result<ScenarioInfo> load_scenario(const std::filesystem::path& file, std::string_view name) {
  std::error_code ec;
  auto path = std::filesystem::absolute(file, ec);
  if (ec || !std::filesystem::exists(path, ec)) {
    return make_error(ErrorCode::Invalid, "scenario file not found: " + file.string(),
                      "pass the path of a .py file with a @scenario class");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return make_error(ErrorCode::Invalid, "scenario file is a directory: " + file.string(),
                      "pass the path of a .py file with a @scenario class");
  }
  try {
    start_interpreter();
    auto capture = capture_module();
    py::tuple loaded = capture.attr("load_file")(path.string());
    if (loaded[0].is_none()) {
      return make_error(ErrorCode::Invalid,
                        "could not load " + file.string() + ":\n" + loaded[1].cast<std::string>());
    }
    py::list classes = capture.attr("find_scenarios")(loaded[0]);

    ScenarioInfo info;
    info.file = path;
    for (auto cls : classes) info.choices.push_back(cls.attr("__name__").cast<std::string>());
    if (info.choices.empty()) {
      return make_error(ErrorCode::Invalid, "no @scenario class in " + file.string(),
                        "decorate a class with @scenario(...) and give it @task methods");
    }
    info.handle = std::make_shared<ScenarioHandle>();
    info.handle->classes = classes;
    std::size_t index = 0;  // no name: the first (run_command offers the others)
    if (!name.empty()) {
      auto picked = index_of(info, name, file.string());
      if (!picked) return std::move(picked).error();
      index = *picked;
    }
    describe_class(info, index);
    return info;
  } catch (const py::error_already_set& e) {
    return internal_error(e);
  } catch (const std::exception& e) {  // the interpreter itself could not start
    return make_error(ErrorCode::Internal, std::string("cannot start Python: ") + e.what(),
                      "check that python3.11 is installed (" LOADPILOT_PYTHON_EXECUTABLE ")");
  }
}

Result<ScenarioInfo> select_scenario(const ScenarioInfo& loaded, std::string_view name) {
  if (!loaded.handle) return make_error(ErrorCode::Internal, "select_scenario needs a loaded scenario");
  auto index = index_of(loaded, name, loaded.file.filename().string());
  if (!index) return std::move(index).error();
  try {
    ScenarioInfo info = loaded;
    info.handle = std::make_shared<ScenarioHandle>(*loaded.handle);
    describe_class(info, *index);
    return info;
  } catch (const py::error_already_set& e) {
    return internal_error(e);
  }
}

Result<core::Plan> build_plan(const ScenarioInfo& scenario, const BuildOptions& options) {
  if (!scenario.handle) return make_error(ErrorCode::Internal, "build_plan needs a loaded scenario");
  try {
    auto capture = capture_module();
    py::object cls = scenario.handle->cls;

    core::Plan plan;
    plan.name = scenario.name;
    plan.target_url = options.target_url;
    plan.settings.insecure_tls = options.insecure_tls;
    std::vector<std::string> problems;
    bool durations_ok = read_settings(capture.attr("describe")(cls), plan, problems);

    py::dict captured = capture.attr("capture")(cls, options.distributed);
    py::list tasks = captured["tasks"];
    append_strings(captured["problems"], problems);
    if (options.distributed) {
      for (auto entry : captured["needs_python"]) {
        problems.push_back(needs_python_problem(entry[py::int_(0)].cast<std::string>(),
                                                entry[py::int_(1)].cast<std::string>()));
      }
    }

    std::vector<std::string> no_call_tasks;
    for (auto task : tasks) {
      plan.tasks.push_back(to_task(task, problems));
      if (py::len(task["calls"]) == 0) no_call_tasks.push_back(plan.tasks.back().name);
    }
    for (auto& problem : core::validate(plan)) {
      if (!is_echo(problem, no_call_tasks, durations_ok)) problems.push_back(std::move(problem));
    }
    if (!problems.empty()) return make_error(ErrorCode::Invalid, join(problems, "\n"));
    return plan;
  } catch (const py::error_already_set& e) {
    return internal_error(e);
  }
}

}  // namespace lp::python
