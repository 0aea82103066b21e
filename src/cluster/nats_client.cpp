#include "cluster/nats_client.hpp"

#include <nats/nats.h>

#include <cstdlib>
#include <mutex>

namespace lp::cluster {
namespace {

// The whole sentence is the message, so a caller that prints only the message still
// says what to do.
constexpr const char* kTokenRefused =
    "NATS refused the connection: authorization violation \u2014 check --nats-token / NATS_TOKEN";
constexpr const char* kTokenHint = "the coordinator and every agent must use the same token";

std::string last_error_text(natsStatus s) {
  natsStatus ignored = NATS_OK;
  const char* text = nats_GetLastError(&ignored);
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(s);
}

std::string join(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& u : urls) out += (out.empty() ? "" : ", ") + u;
  return out;
}

// The connection callbacks' state. Shared by the NatsClient and libnats: libnats's
// share is released by the closed callback, the last one it ever makes (or by
// connect() when no connection was made), so a callback never outlives it.
struct Callbacks {
  std::recursive_mutex mu;  // held while a user callback runs; recursive so that a
                            // callback may call close()
  bool owner_alive = true;
  bool ever_connected = false;  // under mu
  std::string servers;          // for messages
  std::function<void()> on_disconnected, on_reconnected, on_closed;
  std::function<void(const Error&)> on_error;
};
using CallbacksRef = std::shared_ptr<Callbacks>;

Callbacks& state_of(void* closure) { return **static_cast<CallbacksRef*>(closure); }

void fire(void* closure, std::function<void()> Callbacks::*which) {
  Callbacks& cb = state_of(closure);
  std::lock_guard lock(cb.mu);
  if (cb.owner_alive && cb.*which) (cb.*which)();
}

void on_disconnected_cb(natsConnection*, void* closure) { fire(closure, &Callbacks::on_disconnected); }

void on_reconnected_cb(natsConnection*, void* closure) {
  {
    Callbacks& cb = state_of(closure);
    std::lock_guard lock(cb.mu);
    cb.ever_connected = true;
  }
  fire(closure, &Callbacks::on_reconnected);
}

void on_closed_cb(natsConnection* nc, void* closure) {
  auto* ref = static_cast<CallbacksRef*>(closure);
  {
    Callbacks& cb = **ref;
    std::lock_guard lock(cb.mu);
    if (cb.owner_alive) {
      const char* text = nullptr;
      const natsStatus why = natsConnection_GetLastError(nc, &text);
      if (cb.on_error && why == NATS_CONNECTION_AUTH_FAILED) {
        cb.on_error(make_error(ErrorCode::Invalid, kTokenRefused, kTokenHint));
      } else if (cb.on_error && !cb.ever_connected) {
        // Retrying a first connect forever, libnats gives up only when a server refuses
        // the handshake; say so even when it lost the reason.
        cb.on_error(make_error(ErrorCode::Unavailable,
                               "NATS at " + cb.servers + " closed the connection before it ever connected: " +
                                   (text != nullptr ? text : "unknown reason")));
      }
      if (cb.on_closed) cb.on_closed();
    }
  }
  delete ref;
}

void on_error_cb(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  Callbacks& cb = state_of(closure);
  std::lock_guard lock(cb.mu);
  if (!cb.owner_alive || !cb.on_error) return;
  if (err == NATS_SLOW_CONSUMER) {
    cb.on_error(make_error(ErrorCode::Unavailable, "a NATS subscription fell behind and dropped messages",
                           "its handler is too slow for the message rate"));
  } else {
    cb.on_error(make_error(ErrorCode::Unavailable, std::string("NATS: ") + natsStatus_GetText(err)));
  }
}

// A subscription's handler, owned by libnats's delivery thread for that subscription
// and freed by its on-complete callback, which runs after the last message handled.
struct HandlerBox {
  NatsClient::Handler handler;
};

void on_message_cb(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  NatsMessage m;
  m.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) m.reply = reply;
  if (const char* data = natsMsg_GetData(msg)) m.data.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) == NATS_OK) {
    for (int i = 0; i < key_count; ++i) {
      const char** values = nullptr;
      int value_count = 0;
      if (natsMsgHeader_Values(msg, keys[i], &values, &value_count) != NATS_OK) continue;
      for (int j = 0; j < value_count; ++j) m.headers.emplace_back(keys[i], values[j]);
      std::free(static_cast<void*>(values));
    }
    std::free(static_cast<void*>(keys));
  }
  natsMsg_Destroy(msg);
  static_cast<HandlerBox*>(closure)->handler(m);
}

void on_subscription_complete_cb(void* closure) { delete static_cast<HandlerBox*>(closure); }

// The header block libnats writes for `headers` ("NATS/1.0\r\n", "k: v\r\n" each, "\r\n").
std::size_t header_block_size(const std::vector<std::pair<std::string, std::string>>& headers) {
  if (headers.empty()) return 0;
  std::size_t n = 10 + 2;
  for (const auto& [k, v] : headers) n += k.size() + 2 + v.size() + 2;
  return n;
}

Error connect_error(natsStatus s, const std::vector<std::string>& urls, const NatsOptions& o) {
  const std::string where = join(urls);
  switch (s) {
    case NATS_CONNECTION_AUTH_FAILED:
      return make_error(ErrorCode::Invalid, kTokenRefused, kTokenHint);
    case NATS_NO_SERVER:
      return make_error(ErrorCode::Unavailable, "no NATS server answered at " + where,
                        "start the coordinator (or nats-server) first, or check --nats-url / COORDINATOR");
    case NATS_SECURE_CONNECTION_WANTED:
      return make_error(ErrorCode::Invalid, "the NATS server at " + where + " does not offer TLS",
                        "use nats:// for it, or enable TLS on the server");
    case NATS_SSL_ERROR:
      return make_error(ErrorCode::Unavailable, "TLS with the NATS server at " + where + " failed: " + last_error_text(s),
                        "check the server's certificate and the CA file");
    case NATS_TIMEOUT:
      return make_error(ErrorCode::Unavailable,
                        "no NATS handshake from " + where + " within " + std::to_string(o.connect_timeout.count()) + " ms",
                        "is that a NATS server? check the host and port");
    default:
      return make_error(ErrorCode::Unavailable, "cannot connect to NATS at " + where + ": " + last_error_text(s));
  }
}

// natsOptions freed on every path.
struct OptionsGuard {
  natsOptions* opts = nullptr;
  ~OptionsGuard() {
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
};

}  // namespace

Result<std::vector<std::string>> normalize_nats_urls(const std::vector<std::string>& urls) {
  std::vector<std::string> out;
  int tls = 0;
  for (const std::string& entry : urls) {
    std::size_t start = 0;
    while (start <= entry.size()) {
      std::size_t comma = entry.find(',', start);
      if (comma == std::string::npos) comma = entry.size();
      std::string url = entry.substr(start, comma - start);
      start = comma + 1;
      while (!url.empty() && url.front() == ' ') url.erase(0, 1);
      while (!url.empty() && url.back() == ' ') url.pop_back();
      if (url.empty()) continue;
      std::string scheme = "nats";
      std::string rest = url;
      if (const auto p = url.find("://"); p != std::string::npos) {
        scheme = url.substr(0, p);
        rest = url.substr(p + 3);
      }
      if (scheme != "nats" && scheme != "tls") {
        return make_error(ErrorCode::Invalid, "NATS URL '" + url + "' has scheme '" + scheme + "'",
                          "use nats://host:port, tls://host:port or host:port");
      }
      // host, host:port, [v6], [v6]:port; credentials in the URL are not supported (use the token).
      if (rest.empty() || rest.find('@') != std::string::npos || rest.find('/') != std::string::npos) {
        return make_error(ErrorCode::Invalid, "NATS URL '" + url + "' is not host:port",
                          "use nats://host:port, tls://host:port or host:port (the token goes in --nats-token)");
      }
      std::string host = rest;
      std::string port = "4222";
      const auto colon = rest.rfind(':');
      const bool bracketed = !rest.empty() && rest.front() == '[';
      if (colon != std::string::npos && (!bracketed || colon > rest.find(']'))) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
      }
      const bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
      if (host.empty() || !digits || std::stoul(port) == 0 || std::stoul(port) > 65535) {
        return make_error(ErrorCode::Invalid, "NATS URL '" + url + "' has no valid host and port",
                          "use nats://host:port, tls://host:port or host:port");
      }
      tls += scheme == "tls";
      out.push_back(scheme + "://" + host + ":" + port);
    }
  }
  if (tls != 0 && tls != static_cast<int>(out.size())) {
    return make_error(ErrorCode::Invalid, "NATS URLs mix tls:// and nats://: " + join(out),
                      "use one scheme for every server");
  }
  return out;
}

struct NatsClient::Impl {
  natsConnection* nc = nullptr;
  CallbacksRef callbacks;

  ~Impl() { close(); }

  void close() {
    if (nc == nullptr) return;
    natsConnection_Close(nc);
    {
      // Waits for a callback in progress; none starts after this.
      std::lock_guard lock(callbacks->mu);
      callbacks->owner_alive = false;
    }
    natsConnection_Destroy(nc);
    nc = nullptr;
  }
};

struct NatsSubscription::Impl {
  natsSubscription* sub = nullptr;

  ~Impl() { unsubscribe(); }

  void unsubscribe() {
    if (sub == nullptr) return;
    natsSubscription_Unsubscribe(sub);  // fails harmlessly when the connection is gone
    natsSubscription_Destroy(sub);
    sub = nullptr;
  }
};

NatsSubscription::NatsSubscription() = default;
NatsSubscription::~NatsSubscription() = default;
NatsSubscription::NatsSubscription(NatsSubscription&&) noexcept = default;
NatsSubscription& NatsSubscription::operator=(NatsSubscription&&) noexcept = default;

void NatsSubscription::unsubscribe() {
  if (impl_) impl_->unsubscribe();
}

bool NatsSubscription::active() const noexcept {
  return impl_ && impl_->sub != nullptr && natsSubscription_IsValid(impl_->sub);
}

NatsClient::NatsClient() = default;
NatsClient::~NatsClient() = default;
NatsClient::NatsClient(NatsClient&&) noexcept = default;
NatsClient& NatsClient::operator=(NatsClient&&) noexcept = default;

Result<NatsClient> NatsClient::connect(NatsOptions o) {
  auto urls = normalize_nats_urls(o.urls);
  if (!urls) return std::move(urls).error();
  if (urls->empty()) {
    return make_error(ErrorCode::Invalid, "no NATS server URL given", "pass --nats-url nats://host:port");
  }
  const bool tls = urls->front().rfind("tls://", 0) == 0;

  OptionsGuard guard;
  natsStatus s = natsOptions_Create(&guard.opts);
  if (s != NATS_OK) return make_error(ErrorCode::Internal, "libnats: " + last_error_text(s));
  natsOptions* opts = guard.opts;
  std::vector<const char*> servers;
  for (const auto& u : *urls) servers.push_back(u.c_str());
  auto ms = [](std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); };

  auto callbacks = std::make_shared<Callbacks>();
  callbacks->on_disconnected = std::move(o.on_disconnected);
  callbacks->on_reconnected = std::move(o.on_reconnected);
  callbacks->on_closed = std::move(o.on_closed);
  callbacks->on_error = std::move(o.on_error);
  auto* closure = new CallbacksRef(callbacks);  // libnats's share, see Callbacks

  if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, true);  // try them in the order given
  if (s == NATS_OK && !o.token.empty()) s = natsOptions_SetToken(opts, o.token.c_str());
  if (s == NATS_OK && !o.name.empty()) s = natsOptions_SetName(opts, o.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, ms(o.connect_timeout));
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, ms(o.ping_interval));
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, o.max_pings_out);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, o.max_reconnect);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, ms(o.reconnect_wait));
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts, ms(o.reconnect_jitter), ms(o.reconnect_jitter));
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, static_cast<int>(o.reconnect_buffer_bytes));
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected_cb, closure);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_reconnected_cb, closure);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_closed_cb, closure);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, on_error_cb, closure);
  if (s == NATS_OK && tls) {
    s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK && !o.tls_ca_file.empty()) {
      s = natsOptions_LoadCATrustedCertificates(opts, o.tls_ca_file.c_str());
      if (s != NATS_OK) {
        delete closure;
        return make_error(ErrorCode::Invalid, "cannot load the CA file '" + o.tls_ca_file + "': " + last_error_text(s));
      }
    }
    if (s == NATS_OK && o.tls_skip_verify) s = natsOptions_SkipServerVerification(opts, true);
  }
  if (s != NATS_OK) {
    delete closure;
    return make_error(ErrorCode::Invalid, "invalid NATS options: " + last_error_text(s));
  }

  callbacks->servers = join(*urls);
  NatsClient client;
  client.impl_ = std::make_unique<Impl>();
  client.impl_->callbacks = callbacks;
  if (o.retry_initial_connect) {
    // One attempt in the foreground first: a server that is up and refuses us (a wrong
    // token, no TLS) is a clear error now, not a silent retry loop. Only "nobody
    // answers" falls through to retrying in the background.
    natsOptions_SetRetryOnFailedConnect(opts, false, nullptr, nullptr);
    s = natsConnection_Connect(&client.impl_->nc, opts);
    if (s != NATS_OK && s != NATS_NO_SERVER && s != NATS_TIMEOUT && s != NATS_IO_ERROR) {
      client.impl_->nc = nullptr;
      delete closure;
      return connect_error(s, *urls, o);
    }
    if (s != NATS_OK) {
      client.impl_->nc = nullptr;
      natsOptions_SetRetryOnFailedConnect(opts, true, on_reconnected_cb, closure);
      s = natsConnection_Connect(&client.impl_->nc, opts);
    }
  } else {
    s = natsConnection_Connect(&client.impl_->nc, opts);
  }
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    // No connection, so no closed callback will release libnats's share.
    client.impl_->nc = nullptr;
    delete closure;
    return connect_error(s, *urls, o);
  }
  if (s == NATS_OK) {
    std::lock_guard lock(callbacks->mu);
    callbacks->ever_connected = true;
  }
  return client;
}

Status NatsClient::publish(std::string_view subject, std::string_view data, std::string_view reply) {
  NatsMessage m;
  m.subject = subject;
  m.reply = reply;
  m.data = data;
  return publish(m);
}

Status NatsClient::publish(const NatsMessage& m) {
  if (!impl_ || impl_->nc == nullptr) return make_error(ErrorCode::Internal, "publish on a closed NATS client");
  const std::size_t size = m.data.size() + header_block_size(m.headers);
  const std::size_t limit = max_payload();
  if (limit > 0 && size > limit) {
    return make_error(ErrorCode::Invalid,
                      "message of " + std::to_string(size) + " bytes on '" + m.subject +
                          "' exceeds the NATS server's max_payload of " + std::to_string(limit) + " bytes",
                      "send less per message (or raise max_payload on the server); nothing was sent");
  }
  natsStatus s = NATS_OK;
  if (m.headers.empty()) {
    s = m.reply.empty() ? natsConnection_Publish(impl_->nc, m.subject.c_str(), m.data.data(), static_cast<int>(m.data.size()))
                        : natsConnection_PublishRequest(impl_->nc, m.subject.c_str(), m.reply.c_str(), m.data.data(),
                                                        static_cast<int>(m.data.size()));
  } else {
    natsMsg* msg = nullptr;
    s = natsMsg_Create(&msg, m.subject.c_str(), m.reply.empty() ? nullptr : m.reply.c_str(), m.data.data(),
                       static_cast<int>(m.data.size()));
    for (const auto& [k, v] : m.headers) {
      if (s == NATS_OK) s = natsMsgHeader_Add(msg, k.c_str(), v.c_str());
    }
    if (s == NATS_OK) s = natsConnection_PublishMsg(impl_->nc, msg);
    natsMsg_Destroy(msg);
  }
  if (s == NATS_OK) return Ok{};
  if (s == NATS_MAX_PAYLOAD) {
    return make_error(ErrorCode::Invalid, "message on '" + m.subject + "' exceeds the NATS server's max_payload of " +
                                              std::to_string(max_payload()) + " bytes: " + last_error_text(s));
  }
  if (s == NATS_INSUFFICIENT_BUFFER) {
    return make_error(ErrorCode::Unavailable, "NATS is reconnecting and its reconnect buffer is full",
                      "the message was not sent; retry once reconnected");
  }
  return make_error(ErrorCode::Unavailable, "cannot publish on '" + m.subject + "': " + last_error_text(s));
}

Result<NatsSubscription> NatsClient::subscribe(std::string_view subject, Handler handler) {
  return queue_subscribe(subject, {}, std::move(handler));
}

Result<NatsSubscription> NatsClient::queue_subscribe(std::string_view subject, std::string_view queue,
                                                     Handler handler) {
  if (!impl_ || impl_->nc == nullptr) return make_error(ErrorCode::Internal, "subscribe on a closed NATS client");
  const std::string subj(subject);
  const std::string group(queue);
  auto* box = new HandlerBox{std::move(handler)};
  natsSubscription* raw = nullptr;
  const natsStatus s =
      group.empty() ? natsConnection_Subscribe(&raw, impl_->nc, subj.c_str(), on_message_cb, box)
                    : natsConnection_QueueSubscribe(&raw, impl_->nc, subj.c_str(), group.c_str(), on_message_cb, box);
  if (s != NATS_OK) {
    delete box;
    return make_error(s == NATS_INVALID_SUBJECT ? ErrorCode::Invalid : ErrorCode::Unavailable,
                      "cannot subscribe to '" + subj + "': " + last_error_text(s));
  }
  // If the subscription closed in between (its connection just closed), the box stays
  // allocated rather than being freed under a handler that may still run.
  natsSubscription_SetOnCompleteCB(raw, on_subscription_complete_cb, box);
  NatsSubscription sub;
  sub.impl_ = std::make_unique<NatsSubscription::Impl>();
  sub.impl_->sub = raw;
  return sub;
}

Result<NatsMessage> NatsClient::request(std::string_view subject, std::string_view data,
                                        std::chrono::milliseconds timeout) {
  if (!impl_ || impl_->nc == nullptr) return make_error(ErrorCode::Internal, "request on a closed NATS client");
  const std::string subj(subject);
  const std::size_t limit = max_payload();
  if (limit > 0 && data.size() > limit) {
    return make_error(ErrorCode::Invalid, "request of " + std::to_string(data.size()) + " bytes on '" + subj +
                                              "' exceeds the NATS server's max_payload of " + std::to_string(limit) +
                                              " bytes");
  }
  natsMsg* reply = nullptr;
  const natsStatus s = natsConnection_Request(&reply, impl_->nc, subj.c_str(), data.data(), static_cast<int>(data.size()),
                                              static_cast<int64_t>(timeout.count()));
  if (s == NATS_NO_RESPONDERS) {
    return make_error(ErrorCode::Unavailable, "nobody answers requests on '" + subj + "' (no responders)");
  }
  if (s == NATS_TIMEOUT) {
    return make_error(ErrorCode::Unavailable,
                      "no reply on '" + subj + "' within " + std::to_string(timeout.count()) + " ms");
  }
  if (s != NATS_OK) return make_error(ErrorCode::Unavailable, "request on '" + subj + "' failed: " + last_error_text(s));
  NatsMessage m;
  m.subject = natsMsg_GetSubject(reply);
  if (const char* d = natsMsg_GetData(reply)) m.data.assign(d, static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return m;
}

Status NatsClient::flush(std::chrono::milliseconds timeout) {
  if (!impl_ || impl_->nc == nullptr) return make_error(ErrorCode::Internal, "flush on a closed NATS client");
  const natsStatus s = natsConnection_FlushTimeout(impl_->nc, static_cast<int64_t>(timeout.count()));
  if (s == NATS_OK) return Ok{};
  return make_error(ErrorCode::Unavailable, "NATS flush failed: " + last_error_text(s));
}

std::size_t NatsClient::max_payload() const noexcept {
  if (!impl_ || impl_->nc == nullptr) return 0;
  const int64_t mp = natsConnection_GetMaxPayload(impl_->nc);
  return mp > 0 ? static_cast<std::size_t>(mp) : 0;
}

bool NatsClient::connected() const noexcept {
  return impl_ && impl_->nc != nullptr && natsConnection_Status(impl_->nc) == NATS_CONN_STATUS_CONNECTED;
}

std::string NatsClient::connected_url() const {
  if (!impl_ || impl_->nc == nullptr) return {};
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(impl_->nc, buf, sizeof buf) != NATS_OK) return {};
  return buf;
}

void NatsClient::close() {
  if (impl_) impl_->close();
}

}  // namespace lp::cluster
