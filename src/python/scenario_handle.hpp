#pragma once
// Private to src/python: the Python objects behind a ScenarioInfo. Includes pybind11,
// so only src/python/*.cpp may include it.

#include <pybind11/embed.h>

namespace lp::python {

struct ScenarioHandle {
  pybind11::object cls;  ///< the @scenario class
};

}  // namespace lp::python
