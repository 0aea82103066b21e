#pragma once
// Private to src/python: HTTP calls between Python and the engine, in both directions —
// a LoadClient call into an engine::CallRequest, a completed call into the tuple
// `_runtime._response` reads, a recorded call dict into a core::Request. Shared by
// Python mode's engine (vuser_runner.cpp), the pre-auth pool (preauth_pool.cpp) and the
// plan capture (scenario.cpp). Includes pybind11, so only src/python/*.cpp may include it.

#include <cstdint>
#include <string>

#include <pybind11/embed.h>

#include "core/plan.hpp"
#include "engine/call_loop.hpp"

namespace lp::python {

/// One call as LiveClient submits it. `timeout_secs` 0 (or not a number): the loop's
/// default; past what a uint32 of ms holds (49 days) it is that long; a positive one
/// below 1 ms is 1 ms. `lateness_ns` > 0 moves the latency's start back by that much.
engine::CallRequest make_call(const std::string& method, const std::string& url, const pybind11::list& headers,
                              const pybind11::bytes& body, double timeout_secs, std::uint32_t task,
                              std::int64_t lateness_ns, bool status_is_error);

/// (status, raw headers "Name: value\r\n...", body text, elapsed_ms, error or None).
/// The body is decoded once here (invalid UTF-8 replaced); headers are parsed by
/// Python only if a task reads them.
pybind11::tuple to_python(const engine::CallResponse& response);

/// A recorded call ({method, url, headers: [[name, value], ...], body: bytes}) as a plan
/// request. Throws pybind11::error_already_set / cast_error on a malformed dict.
core::Request to_request(pybind11::handle call);

}  // namespace lp::python
