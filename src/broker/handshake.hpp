#pragma once
// The two JSON documents of a NATS handshake: the INFO the server sends first, and the
// CONNECT the client answers with. Kept apart from the loop so JSON stays out of it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace lp::broker {

/// What INFO tells every client. `host`/`port` are the listening address; no
/// `connect_urls` is sent, so a client never learns (and never dials) 0.0.0.0.
struct ServerInfo {
  std::string server_id;    ///< random per broker start
  std::string server_name;  ///< "loadpilot-broker" unless set
  std::string host;         ///< the bind address, as given
  std::uint16_t port = 0;
  std::size_t max_payload = 0;  ///< bytes per message, headers included
  bool auth_required = false;   ///< a token is set
};

/// The INFO line for one client (with its id and address), CRLF included.
std::string render_info(const ServerInfo& info, std::uint64_t client_id, std::string_view client_ip);

/// A client's CONNECT fields. Defaults are nats-server's for a field that is absent
/// (`CONNECT {}` means verbose and pedantic): libnats and the other clients always send
/// them explicitly.
struct ConnectOptions {
  bool verbose = true;         ///< +OK after each CONNECT, PUB, HPUB, SUB, UNSUB
  bool pedantic = true;        ///< strict subject checks (-ERR 'Invalid Publish Subject')
  bool echo = true;            ///< deliver the client's own messages to its own subscriptions
  bool headers = false;        ///< the client understands HPUB/HMSG
  bool no_responders = false;  ///< answer a request nobody subscribed to with a 503 status
  std::int64_t protocol = 0;   ///< 0 or 1
  std::string auth_token;
  std::string name;  ///< for log lines
};

/// Parses CONNECT's argument. Fails (ErrorCode::Invalid, naming the problem) on
/// malformed JSON or a field of the wrong type.
Result<ConnectOptions> parse_connect(std::string_view json);

/// Compares a client's token with the configured one in time that does not depend on
/// where they differ.
bool token_matches(std::string_view given, std::string_view expected) noexcept;

}  // namespace lp::broker
