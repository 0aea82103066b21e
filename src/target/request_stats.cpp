#include "target/request_stats.hpp"

#include <nlohmann/json.hpp>

namespace lp::target {
namespace {

nlohmann::json to_object(const std::map<std::string, std::uint64_t, std::less<>>& counts) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, count] : counts) object[key] = count;
  return object;
}

}  // namespace

void RequestStats::record(std::string_view route, std::string_view method,
                          std::string_view path, std::string_view authorization) {
  std::lock_guard lock(mu_);
  ++total_;
  add(by_route_, route);
  add(by_method_, method);
  add(by_path_, path);
  if (!authorization.empty()) add(by_authorization_, authorization);
}

std::string RequestStats::to_json() const {
  // Copy under the lock and render outside it, so a large snapshot does not stall
  // the requests being counted.
  std::uint64_t total = 0;
  Counts by_route, by_method, by_path, by_authorization;
  {
    std::lock_guard lock(mu_);
    total = total_;
    by_route = by_route_;
    by_method = by_method_;
    by_path = by_path_;
    by_authorization = by_authorization_;
  }
  const nlohmann::json doc = {
      {"total", total},
      {"by_route", to_object(by_route)},
      {"by_method", to_object(by_method)},
      {"by_path", to_object(by_path)},
      {"by_authorization", to_object(by_authorization)},
  };
  // Paths and header values are client bytes: replace invalid UTF-8 rather than throw.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void RequestStats::reset() {
  std::lock_guard lock(mu_);
  total_ = 0;
  by_route_.clear();
  by_method_.clear();
  by_path_.clear();
  by_authorization_.clear();
}

void RequestStats::add(Counts& counts, std::string_view key) {
  if (auto it = counts.find(key); it != counts.end()) {
    ++it->second;
    return;
  }
  if (counts.size() >= kMaxDistinctKeys) key = kOverflowKey;
  ++counts[std::string(key)];
}

}  // namespace lp::target
