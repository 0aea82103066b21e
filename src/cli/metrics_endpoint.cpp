#include "cli/metrics_endpoint.hpp"

#include <unistd.h>

#include "service/metrics_server.hpp"

namespace lp::cli {

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<service::MetricsServer> server, metrics::ExpositionInfo info)
    : server_(std::move(server)), info_(std::move(info)) {}
MetricsEndpoint::MetricsEndpoint(MetricsEndpoint&&) noexcept = default;
MetricsEndpoint& MetricsEndpoint::operator=(MetricsEndpoint&&) noexcept = default;
MetricsEndpoint::~MetricsEndpoint() = default;

Result<MetricsEndpoint> MetricsEndpoint::start(std::uint16_t port, bool chosen, metrics::ExpositionInfo info,
                                               std::FILE* notes) {
  if (port == 0) return MetricsEndpoint(nullptr, std::move(info));
  auto server = service::MetricsServer::start("0.0.0.0", port);
  if (!server) {
    if (chosen) return std::move(server).error();
    std::fprintf(notes,
                 "warning: %s; running without Prometheus metrics (pass --metrics-port N for another port, "
                 "or --metrics-port 0 to turn them off)\n",
                 server.error().message.c_str());
    return MetricsEndpoint(nullptr, std::move(info));
  }
  // Said on a terminal only: CI logs and scripts reading stderr get no extra line.
  if (::isatty(::fileno(notes)) != 0) {
    std::fprintf(notes, "note: Prometheus metrics at http://localhost:%u/metrics while the test runs\n",
                 static_cast<unsigned>((*server)->port()));
  }
  return MetricsEndpoint(std::move(*server), std::move(info));
}

void MetricsEndpoint::publish(const metrics::Snapshot& snapshot, const metrics::RunStats& stats) {
  if (server_) server_->publish(metrics::to_prometheus(snapshot, stats, info_));
}

std::uint16_t MetricsEndpoint::port() const noexcept { return server_ ? server_->port() : 0; }

}  // namespace lp::cli
