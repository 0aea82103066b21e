#pragma once
// A resolved place to connect to: address, and what TLS needs (SNI, verification).

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "core/result.hpp"
#include "http/url.hpp"

namespace lp::http {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  bool tls = false;
  std::string host;  ///< for SNI and certificate checks
  std::string key;   ///< "https://host:port": endpoints with equal keys share connections
};

/// Resolves the URL's host once (getaddrinfo, IPv4 preferred). Blocking: call it before
/// the load starts, never on the data path.
Result<Endpoint> resolve_endpoint(const Url& url);

}  // namespace lp::http
