#pragma once
// Which endpoint of loadpilot-target a request is for. One table drives both the
// dispatch and the by_route counters of /__stats, so the oracle cannot drift from
// what the server actually did.

#include <cstdint>
#include <string_view>

namespace lp::target {

/// One endpoint. `Unmatched` is everything that answers 404.
enum class Route : std::uint8_t {
  Health,     ///< GET /health
  Login,      ///< POST /auth/login
  Products,   ///< GET /api/products
  Product,    ///< GET /api/products/{id}
  Cart,       ///< POST /api/cart
  Projects,   ///< GET, POST /api/v1/projects
  Project,    ///< GET, PUT, PATCH, DELETE /api/v1/projects/{id}
  Delay,      ///< GET /delay/{ms}
  Status,     ///< any method /status/{code}
  Bytes,      ///< GET /bytes/{n}
  Chunked,    ///< GET /chunked/{n}
  Stats,      ///< GET /__stats
  Reset,      ///< POST /__reset
  Unmatched,  ///< unknown path, or a known path with a method it does not take
};

/// A classified request.
struct RouteMatch {
  Route route = Route::Unmatched;
  std::string_view param;  ///< the `{...}` segment, a view into the path; empty if none
  bool counted = true;     ///< false for /__stats and /__reset, whatever the method
};

/// Classifies by method and decoded path (no query string). Paths match exactly: no
/// trailing slash, and a `{...}` parameter is one non-empty segment whose syntax the
/// handler checks. HEAD matches what GET matches.
RouteMatch classify(std::string_view method, std::string_view path) noexcept;

/// The template reported by /__stats, e.g. "/api/products/{id}"; "(unmatched)" for
/// Route::Unmatched.
std::string_view route_template(Route route) noexcept;

}  // namespace lp::target
