#include "target/product_catalog.hpp"

#include <nlohmann/json.hpp>

namespace lp::target {
namespace {

nlohmann::json make_product(std::uint64_t id) {
  // Prices are whole cents so every one prints as a short decimal (e.g. 6.36).
  const std::uint64_t cents = 499 + (id * 137) % 9500;
  return {{"id", id},
          {"name", "Product " + std::to_string(id)},
          {"price", static_cast<double>(cents) / 100.0}};
}

}  // namespace

ProductCatalog::ProductCatalog() {
  nlohmann::json list = nlohmann::json::array();
  product_json_.reserve(kProductCount);
  for (std::uint64_t id = 1; id <= kProductCount; ++id) {
    nlohmann::json product = make_product(id);
    product_json_.push_back(product.dump());
    if (id <= kListedCount) list.push_back(std::move(product));
  }
  list_json_ = list.dump();
}

const std::string* ProductCatalog::product_json(std::uint64_t id) const noexcept {
  if (id < 1 || id > kProductCount) return nullptr;
  return &product_json_[id - 1];
}

}  // namespace lp::target
