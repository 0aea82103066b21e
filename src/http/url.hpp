#pragma once
// http(s) URLs as the engine needs them: scheme, host, port, and the request target.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lp::http {

struct Url {
  bool tls = false;          ///< https
  std::string host;          ///< without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string target = "/";  ///< path and query, always starting with '/'

  /// "host" or "host:port" as the Host header wants it (port only when not the default).
  std::string authority() const;
  std::string origin() const;  ///< "http://host:port"
};

/// Parses an absolute http:// or https:// URL; nullopt when it is not one.
std::optional<Url> parse_url(std::string_view text);

/// Resolves a task URL against the target: an absolute URL stands alone, a path is
/// appended to the target's path ("http://h/api" + "/items" → "http://h/api/items").
std::optional<Url> resolve_url(const Url& base, std::string_view path_or_url);

}  // namespace lp::http
