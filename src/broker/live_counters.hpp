#pragma once
// BrokerCounters as the loop thread keeps them: written by that thread only, read by
// any. One writer means an increment is a plain load and store (no locked add).

#include <atomic>
#include <cstdint>

#include "broker/broker.hpp"

namespace lp::broker {

class LiveCounters {
 public:
  using Field = std::atomic<std::uint64_t>;

  /// Loop thread only.
  static void add(Field& field, std::uint64_t n = 1) noexcept {
    field.store(field.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// Loop thread only.
  static void sub(Field& field, std::uint64_t n = 1) noexcept {
    field.store(field.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }

  /// Any thread.
  BrokerCounters snapshot() const noexcept {
    auto get = [](const Field& f) { return f.load(std::memory_order_relaxed); };
    return BrokerCounters{get(clients),         get(connections_total), get(messages_in),
                          get(messages_out),    get(bytes_in),          get(bytes_out),
                          get(slow_consumers),  get(stale_connections), get(auth_failures),
                          get(protocol_errors), get(subscriptions),     get(pings_sent)};
  }

  Field clients{0}, connections_total{0}, messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0},
      slow_consumers{0}, stale_connections{0}, auth_failures{0}, protocol_errors{0}, subscriptions{0},
      pings_sent{0};
};

}  // namespace lp::broker
