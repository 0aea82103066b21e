#pragma once
// The DSL sources (python/loadpilot/*.py) compiled into the binary. The table is
// generated at build time by cmake/python.cmake; interpreter.cpp serves it to `import`.

#include <cstddef>

namespace lp::python {

struct EmbeddedSource {
  const char* module;    ///< dotted module name: "loadpilot", "loadpilot._capture"
  const char* filename;  ///< shown in tracebacks: "<embedded>/loadpilot/__init__.py"
  const char* source;    ///< the file's text, UTF-8
  bool is_package;       ///< true for an __init__.py
};

extern const EmbeddedSource kEmbeddedSources[];
extern const std::size_t kEmbeddedSourceCount;

}  // namespace lp::python
