#pragma once
// Private to src/python: the Python objects behind a ScenarioInfo. Includes pybind11,
// so only src/python/*.cpp may include it.

#include <pybind11/embed.h>

namespace lp::python {

struct ScenarioHandle {
  pybind11::object cls;      ///< the @scenario class picked
  pybind11::list classes;    ///< every @scenario class of the file, in order (ScenarioInfo::choices)
};

}  // namespace lp::python
