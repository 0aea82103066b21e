#pragma once
// A small RAII wrapper over libnats (the official NATS C client) for the control plane
// of distributed mode: the agent and the coordinator talk through it, to the embedded
// broker or to any nats-server. libnats types stay in nats_client.cpp.
//
// Threads: libnats runs its own threads. Message handlers run on one thread per
// subscription (messages of one subscription in order); the connection callbacks run
// on libnats's callback thread. Publishing is thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace lp::cluster {

/// One message, received or to publish.
struct NatsMessage {
  std::string subject;
  std::string reply;  ///< reply subject; empty when none
  std::string data;
  /// NATS headers (HPUB/HMSG). Values of one name keep their order; the order of
  /// different names is not kept (libnats stores them by name).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct NatsOptions {
  /// Servers to try, in order: `nats://host:port`, `tls://host:port` (TLS), or
  /// `host:port` (= nats://); the port defaults to 4222. An entry may hold several,
  /// comma-separated (as `--nats-url` does). tls:// and nats:// cannot be mixed.
  std::vector<std::string> urls;
  std::string token;  ///< sent as CONNECT's auth_token when not empty
  std::string name;   ///< connection name shown by the server (e.g. the agent id)
  /// The client PINGs the server this often and gives up on the connection (then
  /// reconnects) after `max_pings_out` unanswered: a dead peer is noticed within
  /// about ping_interval × (max_pings_out + 1). 10 s suits agents (issue 7).
  std::chrono::milliseconds ping_interval{std::chrono::seconds(10)};
  int max_pings_out = 2;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};  ///< per attempt
  /// Between reconnect attempts to the same server, plus up to `reconnect_jitter`
  /// at random so that 1,000 agents do not come back in the same millisecond.
  std::chrono::milliseconds reconnect_wait{std::chrono::seconds(1)};
  std::chrono::milliseconds reconnect_jitter{std::chrono::milliseconds(500)};
  int max_reconnect = -1;  ///< attempts before giving up; -1 = forever
  /// Publishes made while reconnecting are kept up to this many bytes and sent once
  /// back; beyond it publish() fails.
  std::size_t reconnect_buffer_bytes = 8 * 1024 * 1024;
  /// false: connect() fails when no server answers now. true: when nobody answers,
  /// connect() returns a client that keeps trying in the background (agents may start
  /// before their broker); subscriptions made meanwhile take effect once connected. A
  /// server that answers and refuses (a wrong token) still fails connect() at once; met
  /// later, the refusal comes through on_error, then on_closed.
  bool retry_initial_connect = false;
  std::string tls_ca_file;       ///< tls://: PEM file of CAs to trust (default: the system's)
  bool tls_skip_verify = false;  ///< tls://: accept any certificate (tests only)

  std::function<void()> on_disconnected;  ///< the connection dropped; reconnecting
  std::function<void()> on_reconnected;   ///< back, subscriptions restored
  /// The connection is closed for good (reconnects exhausted, or refused on a retry);
  /// may or may not fire for a close() you call.
  std::function<void()> on_closed;
  /// Asynchronous errors: the server refused something, a subscription fell behind.
  std::function<void(const Error&)> on_error;
};

/// A live subscription; unsubscribes when destroyed. After unsubscribe() (or
/// destruction) returns, its handler may still be finishing one last message on its
/// thread, never starting another.
class NatsSubscription {
 public:
  NatsSubscription();
  ~NatsSubscription();
  NatsSubscription(NatsSubscription&&) noexcept;
  NatsSubscription& operator=(NatsSubscription&&) noexcept;

  /// Stops delivery. Idempotent.
  void unsubscribe();
  bool active() const noexcept;

 private:
  friend class NatsClient;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class NatsClient {
 public:
  using Handler = std::function<void(const NatsMessage&)>;

  /// Connects to the first server of `options.urls` that answers. Errors name the
  /// server and what to do, e.g. "NATS refused the connection: authorization violation
  /// — check --nats-token / NATS_TOKEN".
  static Result<NatsClient> connect(NatsOptions options);

  NatsClient();  ///< not connected; every call fails until assigned from connect()
  ~NatsClient();  ///< close()s
  NatsClient(NatsClient&&) noexcept;
  NatsClient& operator=(NatsClient&&) noexcept;

  /// Publishes `data` to `subject` (with `reply` as the reply subject when not empty).
  /// Fails, sending nothing, when the message exceeds the server's max_payload; never
  /// truncates.
  Status publish(std::string_view subject, std::string_view data, std::string_view reply = {});
  /// Publishes a message with headers (HPUB); the size checked includes the headers.
  Status publish(const NatsMessage& message);

  /// Calls `handler` for every message on `subject` (wildcards allowed).
  Result<NatsSubscription> subscribe(std::string_view subject, Handler handler);
  /// As subscribe(), but each message goes to one member of `queue` only.
  Result<NatsSubscription> queue_subscribe(std::string_view subject, std::string_view queue, Handler handler);

  /// Publishes `data` with a fresh reply subject and waits for the first answer. Fails
  /// with ErrorCode::Unavailable when nobody subscribes to `subject` (no responders) or
  /// nothing comes back within `timeout`.
  Result<NatsMessage> request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout);

  /// Waits until the server has processed everything published so far (a PING/PONG).
  Status flush(std::chrono::milliseconds timeout);

  /// The server's limit per message (from its INFO), in bytes; 0 before the first connect.
  std::size_t max_payload() const noexcept;
  bool connected() const noexcept;
  /// The server currently connected to ("nats://127.0.0.1:4222"); empty when none.
  std::string connected_url() const;

  /// Closes the connection (subscriptions stop). Idempotent. Once it returns no
  /// connection callback is running or will start.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Splits and normalises a server list (the rules of NatsOptions::urls). Fails with
/// ErrorCode::Invalid naming the bad entry.
Result<std::vector<std::string>> normalize_nats_urls(const std::vector<std::string>& urls);

}  // namespace lp::cluster
