#pragma once
// Exact request counters behind GET /__stats. They are a test oracle: integration
// tests compare what the load engine reports with what the target saw, so every
// counted request is counted exactly once, under one lock, before its response is
// written.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace lp::target {

/// Counts requests by route template, method, exact path and Authorization value.
/// Every member is thread-safe.
class RequestStats {
 public:
  /// Distinct keys kept per breakdown (paths, Authorization values). Past it, new
  /// keys are counted under kOverflowKey: totals stay exact, memory stays bounded.
  static constexpr std::size_t kMaxDistinctKeys = 100'000;
  static constexpr std::string_view kOverflowKey = "(other)";

  /// Counts one request. An empty `authorization` means the header was absent or
  /// empty: the request counts everywhere except in by_authorization.
  void record(std::string_view route, std::string_view method, std::string_view path,
              std::string_view authorization);

  /// The /__stats document: {"total", "by_route", "by_method", "by_path",
  /// "by_authorization"}, keys sorted, only non-zero counts. One consistent
  /// snapshot: total equals the sum of each breakdown.
  std::string to_json() const;

  /// Zeroes every counter (POST /__reset).
  void reset();

 private:
  using Counts = std::map<std::string, std::uint64_t, std::less<>>;

  static void add(Counts& counts, std::string_view key);

  mutable std::mutex mu_;
  std::uint64_t total_ = 0;
  Counts by_route_;
  Counts by_method_;
  Counts by_path_;
  Counts by_authorization_;
};

}  // namespace lp::target
