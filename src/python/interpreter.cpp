#include "python/interpreter.hpp"

#include <pybind11/embed.h>

#include "python/embedded_sources.hpp"

namespace lp::python {

namespace {

namespace py = pybind11;

// A meta-path importer for the embedded sources. Filenames are compiled in so that
// tracebacks through the DSL name its file, and get_source() lets them show its lines.
constexpr const char* kImporter = R"py(
import importlib.machinery, sys

# Duck-typed finder and loader: importlib.abc would pull in importlib.resources,
# pathlib and tempfile (about 30 ms of start-up) for two base classes.
class EmbeddedImporter:
    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        entry = self.sources.get(fullname)
        if entry is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=entry[0], is_package=entry[2])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename, source, is_package = self.sources[module.__spec__.name]
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)

    def get_source(self, fullname):
        return self.sources[fullname][1]

sys.meta_path.insert(0, EmbeddedImporter(SOURCES))
)py";

/// Flushes Python's stdout/stderr at exit (a scenario's print()). The interpreter is
/// not finalized: Py_FinalizeEx crashes in greenlet 2.0.2's thread-state teardown once
/// Python mode has used greenlets, and the process is ending anyway.
struct Finalizer {
  ~Finalizer() {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE state = PyGILState_Ensure();
    for (const char* name : {"stdout", "stderr"}) {
      PyObject* stream = PySys_GetObject(name);  // borrowed
      if (stream && stream != Py_None) {
        PyObject* r = PyObject_CallMethod(stream, "flush", nullptr);
        if (r) Py_DECREF(r);
        else PyErr_Clear();
      }
    }
    PyGILState_Release(state);
  }
};

}  // namespace

void start_interpreter() {
  static bool started = false;
  if (started) return;
  started = true;

  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.isolated = 0;
  config.use_environment = 1;        // PYTHONPATH works as with `python3 scenario.py`
  config.user_site_directory = 1;    // so do packages from `pip install --user`
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  // The program name drives the search for the standard library; a bare "python3" would
  // be looked up on PATH, where a different (pyenv) Python may come first.
  PyConfig_SetBytesString(&config, &config.program_name, LOADPILOT_PYTHON_EXECUTABLE);
  py::initialize_interpreter(&config, 0, nullptr, /*add_program_dir_to_path=*/false);
  static Finalizer finalizer;

  py::dict sources;
  for (std::size_t i = 0; i < kEmbeddedSourceCount; ++i) {
    const auto& s = kEmbeddedSources[i];
    sources[py::str(s.module)] = py::make_tuple(s.filename, s.source, s.is_package);
  }
  py::dict scope;
  scope["__builtins__"] = py::module_::import("builtins");
  scope["SOURCES"] = sources;
  py::exec(kImporter, scope);
  // Before any scenario is imported, so the locks it creates are cooperative.
  py::module_::import("loadpilot._coop").attr("install")();
}

}  // namespace lp::python
