#pragma once
// The embedded CPython interpreter of the `loadpilot` binary (never of the agent).

namespace lp::python {

/// Starts the interpreter on first call and makes `import loadpilot` resolve to the
/// copy embedded in the binary (it wins over any installed one, so scenario files always
/// see the DSL this binary understands). Later calls do nothing. The interpreter lives
/// until the process exits; the calling thread holds the GIL from then on. Python's own
/// signal handlers are not installed: the CLI owns SIGINT/SIGTERM.
void start_interpreter();

}  // namespace lp::python
