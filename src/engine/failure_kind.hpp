#pragma once
// How a connection failure is counted in the metrics. One mapping for the static
// workers and the Python-mode call loop.

#include "http/connection.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

inline metrics::ErrorKind kind_of(http::Failure f) noexcept {
  switch (f) {
    case http::Failure::Connect: return metrics::ErrorKind::Connect;
    case http::Failure::Timeout: return metrics::ErrorKind::Timeout;
    case http::Failure::Reset: return metrics::ErrorKind::Reset;
    case http::Failure::Tls: return metrics::ErrorKind::Tls;
    case http::Failure::Protocol: return metrics::ErrorKind::Protocol;
  }
  return metrics::ErrorKind::Reset;
}

}  // namespace lp::engine
