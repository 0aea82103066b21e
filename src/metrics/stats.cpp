#include "metrics/stats.hpp"

#include <algorithm>

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
  errors_without_request += other.errors_without_request;
  latency.merge(other.latency);
  service.merge(other.service);
  success.merge(other.success);
}

void TaskStats::subtract(const TaskStats& earlier) noexcept {
  auto minus = [](std::uint64_t& a, std::uint64_t b) { a -= std::min(a, b); };
  minus(requests, earlier.requests);
  minus(errors, earlier.errors);
  for (std::size_t i = 0; i < kErrorKindCount; ++i) minus(errors_by_kind[i], earlier.errors_by_kind[i]);
  minus(errors_without_request, earlier.errors_without_request);
  latency.subtract(earlier.latency);
  service.subtract(earlier.service);
  success.subtract(earlier.success);
}

void RunStats::merge(const RunStats& other) {
  if (other.tasks.size() > tasks.size()) tasks.resize(other.tasks.size());
  for (std::size_t i = 0; i < other.tasks.size(); ++i) tasks[i].merge(other.tasks[i]);
  iterations += other.iterations;
  late += other.late;
  dropped += other.dropped;
  retries += other.retries;
  send_lag.merge(other.send_lag);
  send_early.merge(other.send_early);
  // Gauges, but each worker reports its own connections, so the run's are the sum.
  in_flight += other.in_flight;
  connections += other.connections;
}

void RunStats::subtract(const RunStats& earlier) {
  for (std::size_t i = 0; i < tasks.size() && i < earlier.tasks.size(); ++i) tasks[i].subtract(earlier.tasks[i]);
  auto minus = [](std::uint64_t& a, std::uint64_t b) { a -= std::min(a, b); };
  minus(iterations, earlier.iterations);
  minus(late, earlier.late);
  minus(dropped, earlier.dropped);
  minus(retries, earlier.retries);
  send_lag.subtract(earlier.send_lag);
  send_early.subtract(earlier.send_early);
}

TaskStats RunStats::total() const {
  TaskStats sum;
  for (const auto& task : tasks) sum.merge(task);
  return sum;
}

}  // namespace lp::metrics
