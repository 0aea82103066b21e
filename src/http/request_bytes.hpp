#pragma once
// Requests are rendered to bytes once per (task, virtual-user config) before the load
// starts; sending one is a write of those bytes (wrk's idea).

#include <string>

#include "core/plan.hpp"
#include "http/url.hpp"

namespace lp::http {

/// The full HTTP/1.1 request: request line, Host, User-Agent, the given headers (a
/// caller's Host, User-Agent or Content-Length wins over ours), Content-Length when
/// there is a body, blank line, body.
std::string render_request(std::string_view method, const Url& url, const core::Headers& headers,
                           std::string_view body);

/// Headers of `base` with `over` laid on top: same name (case-insensitive) replaces.
core::Headers merge_headers(const core::Headers& base, const core::Headers& over);

}  // namespace lp::http
