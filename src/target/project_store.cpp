#include "target/project_store.hpp"

#include <utility>

namespace lp::target {
namespace {

constexpr const char* kIdField = "id";

}  // namespace

nlohmann::json ProjectStore::create(nlohmann::json fields) {
  std::lock_guard lock(mu_);
  const std::uint64_t id = next_id_++;
  fields[kIdField] = id;
  projects_.emplace(id, fields);
  return fields;
}

nlohmann::json ProjectStore::list() const {
  std::lock_guard lock(mu_);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [id, project] : projects_) all.push_back(project);
  return all;
}

std::optional<nlohmann::json> ProjectStore::get(std::uint64_t id) const {
  std::lock_guard lock(mu_);
  const auto it = projects_.find(id);
  if (it == projects_.end()) return std::nullopt;
  return it->second;
}

std::optional<nlohmann::json> ProjectStore::replace(std::uint64_t id, nlohmann::json fields) {
  std::lock_guard lock(mu_);
  const auto it = projects_.find(id);
  if (it == projects_.end()) return std::nullopt;
  fields[kIdField] = id;
  it->second = std::move(fields);
  return it->second;
}

std::optional<nlohmann::json> ProjectStore::merge(std::uint64_t id, const nlohmann::json& patch) {
  std::lock_guard lock(mu_);
  const auto it = projects_.find(id);
  if (it == projects_.end()) return std::nullopt;
  it->second.merge_patch(patch);
  it->second[kIdField] = id;
  return it->second;
}

bool ProjectStore::remove(std::uint64_t id) {
  std::lock_guard lock(mu_);
  return projects_.erase(id) == 1;
}

}  // namespace lp::target
