#pragma once
// `loadpilot run --metrics-port PORT` (default 9090): Prometheus metrics while a test
// runs, published once per interval from the snapshot and the cumulative stats behind it.

#include <cstdint>
#include <cstdio>
#include <memory>

#include "core/result.hpp"
#include "metrics/prometheus.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"

namespace lp::service {
class MetricsServer;
}

namespace lp::cli {

/// The port --metrics-port defaults to.
inline constexpr std::uint16_t kDefaultMetricsPort = 9090;

class MetricsEndpoint {
 public:
  /// Serves GET /metrics on 0.0.0.0:`port` (every interface, so a Prometheus in a
  /// container reaches it as host.docker.internal) and, when `notes` is a terminal, says
  /// where.
  /// - port 0: serves nothing (not an error).
  /// - the port cannot be bound and the user chose it (`chosen`): the Error, so the run
  ///   refuses to start before any traffic.
  /// - the default port is busy (another run, or a Prometheus on 9090): a warning on
  ///   `notes` and no metrics; the run goes ahead.
  static Result<MetricsEndpoint> start(std::uint16_t port, bool chosen, metrics::ExpositionInfo info, std::FILE* notes);

  MetricsEndpoint(MetricsEndpoint&&) noexcept;
  MetricsEndpoint& operator=(MetricsEndpoint&&) noexcept;
  ~MetricsEndpoint();

  /// What GET /metrics serves from now on. A no-op when not serving.
  void publish(const metrics::Snapshot& snapshot, const metrics::RunStats& stats);
  bool serving() const noexcept { return server_ != nullptr; }
  std::uint16_t port() const noexcept;

 private:
  MetricsEndpoint(std::unique_ptr<service::MetricsServer> server, metrics::ExpositionInfo info);

  std::unique_ptr<service::MetricsServer> server_;
  metrics::ExpositionInfo info_;
};

}  // namespace lp::cli
