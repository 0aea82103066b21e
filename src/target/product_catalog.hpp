#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lp::target {

/// The fixed catalogue behind /api/products: ids 1..kProductCount, each
/// {"id", "name", "price"}. Responses are rendered once at construction, so serving
/// them only copies a string. Immutable after construction, hence thread-safe.
class ProductCatalog {
 public:
  static constexpr std::uint64_t kProductCount = 100;
  /// How many products GET /api/products lists (the first ones by id).
  static constexpr std::uint64_t kListedCount = 10;

  ProductCatalog();

  /// JSON array of the first kListedCount products.
  const std::string& list_json() const noexcept { return list_json_; }

  /// JSON object of one product, or nullptr when no product has that id.
  const std::string* product_json(std::uint64_t id) const noexcept;

 private:
  std::string list_json_;
  std::vector<std::string> product_json_;  // index id - 1
};

}  // namespace lp::target
