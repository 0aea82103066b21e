#pragma once
// The broker's state for one client connection. Owned by ServerLoop; touched only on
// the broker's thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "broker/handshake.hpp"
#include "broker/out_buffer.hpp"
#include "broker/protocol_parser.hpp"
#include "broker/subject_index.hpp"

namespace lp::broker {

using Clock = std::chrono::steady_clock;

struct Client {
  Client(std::uint64_t id_, int fd_, std::string address_, ProtocolParser::Limits limits)
      : id(id_), fd(fd_), address(std::move(address_)), parser(limits) {}

  std::uint64_t id;          ///< INFO's client_id; in log lines
  int fd;                    ///< non-blocking socket, registered level-triggered
  std::string address;       ///< peer "ip:port", for log lines
  ProtocolParser parser;     ///< what it sends
  OutBuffer out;             ///< what we owe it, written once per loop round
  ConnectOptions options;    ///< from CONNECT (nats-server's defaults before it)
  bool connect_received = false;
  bool closing = false;      ///< dropped: skipped by delivery, freed at the end of the round
  bool flush_on_close = false;  ///< try to send what is queued (an -ERR) before closing
  bool write_armed = false;  ///< EPOLLOUT is registered (the socket was full)
  bool dirty = false;        ///< in the loop's list of clients to flush this round
  std::size_t slot = 0;      ///< index in ServerLoop::clients_
  int pings_out = 0;         ///< PINGs sent and not answered
  Clock::time_point connected_at{};
  Clock::time_point last_read{};           ///< last bytes received (activity delays our PING)
  Clock::time_point last_ping_received{};  ///< its last PING (also delays ours)
  Clock::time_point next_ping_check{};     ///< when the ping timer next looks at it
  /// Its subscriptions by sid (SUB/UNSUB are rare: a std::string key is fine).
  std::unordered_map<std::string, std::unique_ptr<Subscription>> subs;
};

}  // namespace lp::broker
