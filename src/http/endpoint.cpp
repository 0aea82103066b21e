#include "http/endpoint.hpp"

#include <netdb.h>

#include <cstring>

namespace lp::http {

Result<Endpoint> resolve_endpoint(const Url& url) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return make_error(ErrorCode::Unavailable,
                      "cannot resolve host '" + url.host + "': " + gai_strerror(rc),
                      "check the host name in --target / the task URL");
  }
  const addrinfo* pick = found;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  Endpoint ep;
  std::memcpy(&ep.addr, pick->ai_addr, pick->ai_addrlen);
  ep.addr_len = pick->ai_addrlen;
  freeaddrinfo(found);
  ep.tls = url.tls;
  ep.host = url.host;
  ep.key = url.origin();
  return ep;
}

}  // namespace lp::http
