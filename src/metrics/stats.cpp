#include "metrics/stats.hpp"

namespace lp::metrics {
namespace {

constexpr std::array<std::string_view, kErrorKindCount> kErrorKindNames = {
    "connect", "timeout", "reset", "tls", "http_4xx", "http_5xx", "protocol", "check", "interrupted",
};

}  // namespace

std::string_view to_string(ErrorKind kind) noexcept {
  const auto i = static_cast<std::size_t>(kind);
  return i < kErrorKindNames.size() ? kErrorKindNames[i] : std::string_view{"unknown"};
}

void TaskStats::merge(const TaskStats& other) noexcept {
  requests += other.requests;
  errors += other.errors;
  for (std::size_t i = 0; i < kErrorKindCount; ++i) errors_by_kind[i] += other.errors_by_kind[i];
  latency.merge(other.latency);
  service.merge(other.service);
}

void RunStats::merge(const RunStats& other) {
  if (other.tasks.size() > tasks.size()) tasks.resize(other.tasks.size());
  for (std::size_t i = 0; i < other.tasks.size(); ++i) tasks[i].merge(other.tasks[i]);
  iterations += other.iterations;
  late += other.late;
  dropped += other.dropped;
  retries += other.retries;
  // Gauges, but each worker reports its own connections, so the run's are the sum.
  in_flight += other.in_flight;
  connections += other.connections;
}

TaskStats RunStats::total() const {
  TaskStats sum;
  for (const auto& task : tasks) sum.merge(task);
  return sum;
}

}  // namespace lp::metrics
