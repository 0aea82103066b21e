#pragma once
// What the connection needs to know about a request's method: whether a body can
// follow in the response, and whether the request may be sent again after a failure.

#include <string_view>

namespace lp::http {

struct MethodTraits {
  bool head = false;       ///< HEAD: the response has no body, whatever its headers say
  bool idempotent = true;  ///< RFC 9110 §9.2.2: sending it twice has the effect of once
};

/// GET, HEAD, PUT, DELETE, OPTIONS and TRACE are idempotent; POST, PATCH and any other
/// method are not. Methods are case-sensitive (RFC 9110 §9.1): "head" is not HEAD.
constexpr MethodTraits method_traits(std::string_view method) noexcept {
  MethodTraits t;
  t.head = method == "HEAD";
  t.idempotent = t.head || method == "GET" || method == "PUT" || method == "DELETE" || method == "OPTIONS" ||
                 method == "TRACE";
  return t;
}

}  // namespace lp::http
