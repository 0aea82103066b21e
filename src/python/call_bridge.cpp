#include "python/call_bridge.hpp"

#include <algorithm>
#include <chrono>

namespace py = pybind11;

namespace lp::python {

engine::CallRequest make_call(const std::string& method, const std::string& url, const py::list& headers,
                              const py::bytes& body, double timeout_secs, std::uint32_t task,
                              std::int64_t lateness_ns, bool status_is_error) {
  engine::CallRequest r;
  r.method = method;
  r.url = url;
  r.headers.reserve(headers.size());
  for (auto h : headers) {
    auto pair = h.cast<py::sequence>();
    r.headers.emplace_back(py::str(pair[0]).cast<std::string>(), py::str(pair[1]).cast<std::string>());
  }
  r.body = body.cast<std::string>();
  const double ms = timeout_secs * 1000;
  r.timeout_ms = !(ms > 0) ? 0 : ms >= double(UINT32_MAX) ? UINT32_MAX : std::max<std::uint32_t>(1, static_cast<std::uint32_t>(ms));
  r.tag.task = task;
  r.tag.status_is_error = status_is_error;
  if (lateness_ns > 0) r.tag.intended = std::chrono::steady_clock::now() - std::chrono::nanoseconds(lateness_ns);
  return r;
}

py::tuple to_python(const engine::CallResponse& o) {
  std::string raw;
  for (const auto& [k, v] : o.headers) raw.append(k).append(": ").append(v).append("\r\n");
  PyObject* text = PyUnicode_DecodeUTF8(o.body.data(), static_cast<Py_ssize_t>(o.body.size()), "replace");
  if (!text) throw py::error_already_set();
  py::object error = o.failure ? py::object(py::str(o.error)) : py::object(py::none());
  return py::make_tuple(o.status, py::str(raw), py::reinterpret_steal<py::str>(text), o.elapsed_ms, error);
}

core::Request to_request(py::handle call) {
  core::Request r;
  r.method = call["method"].cast<std::string>();
  r.url = call["url"].cast<std::string>();
  for (auto pair : call["headers"]) {
    r.headers.emplace_back(pair[py::int_(0)].cast<std::string>(), pair[py::int_(1)].cast<std::string>());
  }
  r.body = call["body"].cast<std::string>();  // bytes: kept as-is, not decoded
  return r;
}

}  // namespace lp::python
