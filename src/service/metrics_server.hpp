#pragma once
// The Prometheus endpoint of a run: GET /metrics on its own thread, serving the latest
// exposition text the run published (once per interval). cpp-httplib stays inside
// metrics_server.cpp.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace lp::service {

class MetricsServer {
 public:
  /// Binds `host:port` (port 0: a free one) and starts serving. Routes: GET /metrics
  /// (the latest publish(), Content-Type metrics::kPrometheusContentType; empty before
  /// the first), GET / (a line pointing at /metrics); anything else 404. The socket is
  /// SO_REUSEADDR only, never SO_REUSEPORT, so a port another process holds fails here
  /// instead of silently sharing the scrapes. Error (ErrorCode::Io): "cannot serve
  /// metrics on 0.0.0.0:9090: Address already in use".
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& host, std::uint16_t port);

  /// Stops accepting, lets the request being served finish, joins the thread.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// Replaces what GET /metrics serves. Thread-safe; called once per interval.
  void publish(std::string exposition);

  /// Families computed at each scrape (the coordinator service's agent gauges), served
  /// after the published text. Called on a server thread, never under the publish lock;
  /// must not throw. Thread-safe; empty function: none.
  void set_live(std::function<std::string()> live);

  /// The port it listens on (the chosen one when started with 0).
  std::uint16_t port() const noexcept;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::service
