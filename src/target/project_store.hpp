#pragma once
// Only the target's own sources include this header, so nlohmann/json.hpp stays out
// of widely included headers.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

namespace lp::target {

/// The in-memory projects behind /api/v1/projects. A project is a JSON object whose
/// "id" the store assigns (1, 2, ...) and keeps: any "id" in client fields is
/// overwritten. Ids are never reused. Every member is thread-safe (one mutex).
/// Unbounded: a long create-heavy run grows it until the process exits.
class ProjectStore {
 public:
  /// Stores `fields` (a JSON object) under a new id; returns the stored project.
  nlohmann::json create(nlohmann::json fields);

  /// All projects, in id order.
  nlohmann::json list() const;

  /// The project, or nullopt if there is none with that id.
  std::optional<nlohmann::json> get(std::uint64_t id) const;

  /// PUT: replaces every field of an existing project with `fields` (a JSON object).
  /// Returns the stored project, or nullopt if there is none with that id.
  std::optional<nlohmann::json> replace(std::uint64_t id, nlohmann::json fields);

  /// PATCH: applies `patch` as an RFC 7386 merge patch (a null value removes the
  /// field). Returns the stored project, or nullopt if there is none with that id.
  std::optional<nlohmann::json> merge(std::uint64_t id, const nlohmann::json& patch);

  /// Deletes a project; false if there is none with that id.
  bool remove(std::uint64_t id);

 private:
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, nlohmann::json> projects_;
};

}  // namespace lp::target
