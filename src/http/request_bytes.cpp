#include "http/request_bytes.hpp"

#include <strings.h>

namespace lp::http {

namespace {

bool has_header(const core::Headers& headers, const char* name) {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name) == 0) return true;
  }
  return false;
}

}  // namespace

std::string render_request(std::string_view method, const Url& url, const core::Headers& headers,
                           std::string_view body) {
  std::string out;
  out.reserve(128 + body.size() + headers.size() * 48);
  out.append(method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
  if (!has_header(headers, "host")) out.append("Host: ").append(url.authority()).append("\r\n");
  if (!has_header(headers, "user-agent")) out.append("User-Agent: loadpilot/" LOADPILOT_VERSION "\r\n");
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  bool body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if (!has_header(headers, "content-length") && (!body.empty() || body_method)) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

core::Headers merge_headers(const core::Headers& base, const core::Headers& over) {
  core::Headers out;
  for (const auto& h : base) {
    if (!has_header(over, h.first.c_str())) out.push_back(h);
  }
  out.insert(out.end(), over.begin(), over.end());
  return out;
}

}  // namespace lp::http
