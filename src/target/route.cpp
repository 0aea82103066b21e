#include "target/route.hpp"

#include <array>

namespace lp::target {
namespace {

enum MethodBit : std::uint8_t {
  kGet = 1 << 0,  // HEAD too: cpp-httplib answers HEAD with the GET handler
  kPost = 1 << 1,
  kPut = 1 << 2,
  kPatch = 1 << 3,
  kDelete = 1 << 4,
  kOptions = 1 << 5,
  kAny = kGet | kPost | kPut | kPatch | kDelete | kOptions,
};

struct Entry {
  Route route;
  std::string_view path;  // exact path, or the prefix before the parameter
  bool has_param;         // path is followed by exactly one non-empty segment
  std::uint8_t methods;   // MethodBit set
  std::string_view name;  // template for /__stats
};

constexpr std::array kTable{
    Entry{Route::Health, "/health", false, kGet, "/health"},
    Entry{Route::Login, "/auth/login", false, kPost, "/auth/login"},
    Entry{Route::Products, "/api/products", false, kGet, "/api/products"},
    Entry{Route::Product, "/api/products/", true, kGet, "/api/products/{id}"},
    Entry{Route::Cart, "/api/cart", false, kPost, "/api/cart"},
    Entry{Route::Projects, "/api/v1/projects", false, kGet | kPost, "/api/v1/projects"},
    Entry{Route::Project, "/api/v1/projects/", true, kGet | kPut | kPatch | kDelete,
          "/api/v1/projects/{id}"},
    Entry{Route::Delay, "/delay/", true, kGet, "/delay/{ms}"},
    Entry{Route::Status, "/status/", true, kAny, "/status/{code}"},
    Entry{Route::Bytes, "/bytes/", true, kGet, "/bytes/{n}"},
    Entry{Route::Chunked, "/chunked/", true, kGet, "/chunked/{n}"},
    Entry{Route::Stats, "/__stats", false, kGet, "/__stats"},
    Entry{Route::Reset, "/__reset", false, kPost, "/__reset"},
};

constexpr std::string_view kUnmatchedName = "(unmatched)";

std::uint8_t method_bit(std::string_view method) noexcept {
  if (method == "GET" || method == "HEAD") return kGet;
  if (method == "POST") return kPost;
  if (method == "PUT") return kPut;
  if (method == "PATCH") return kPatch;
  if (method == "DELETE") return kDelete;
  if (method == "OPTIONS") return kOptions;
  return 0;
}

}  // namespace

RouteMatch classify(std::string_view method, std::string_view path) noexcept {
  RouteMatch match;
  match.counted = path != "/__stats" && path != "/__reset";
  const std::uint8_t bit = method_bit(method);
  for (const Entry& entry : kTable) {
    std::string_view param;
    if (entry.has_param) {
      if (!path.starts_with(entry.path)) continue;
      param = path.substr(entry.path.size());
      if (param.empty() || param.find('/') != std::string_view::npos) continue;
    } else if (path != entry.path) {
      continue;
    }
    // Paths are disjoint across entries, so the first path match is the only one.
    if ((entry.methods & bit) == 0) return match;
    match.route = entry.route;
    match.param = param;
    return match;
  }
  return match;
}

std::string_view route_template(Route route) noexcept {
  for (const Entry& entry : kTable) {
    if (entry.route == route) return entry.name;
  }
  return kUnmatchedName;
}

}  // namespace lp::target
