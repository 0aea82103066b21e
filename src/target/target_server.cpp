#include "target/target_server.hpp"

#include "http/httplib.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "target/product_catalog.hpp"
#include "target/project_store.hpp"
#include "target/request_stats.hpp"
#include "target/route.hpp"

namespace lp::target {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kOctetStream = "application/octet-stream";
/// Largest request body read into memory; cpp-httplib answers 413 beyond it.
constexpr std::size_t kMaxRequestBody = 16 * 1024 * 1024;
constexpr std::size_t kChunkSize = 16 * 1024;  // one /chunked chunk
constexpr std::size_t kAlphabet = 26;

/// Byte i of every /bytes and /chunked body is 'a' + i % 26, so a client can check
/// that it reassembled a body in order. Holds one write's worth plus a shift of up to
/// 25, so a slice starting at `offset % 26` lines up with any offset.
constexpr std::size_t kWriteSize = 64 * 1024;
const std::array<char, kWriteSize + kAlphabet> kPattern = [] {
  std::array<char, kWriteSize + kAlphabet> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>('a' + i % kAlphabet);
  return bytes;
}();

/// cpp-httplib 0.11 keeps its listening socket protected; this exposes it.
class ListeningServer : public httplib::Server {
 public:
  int listening_socket() const { return svr_sock_; }
};

void reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kJson);
}

void reply(httplib::Response& res, int status, const json& body) {
  // Paths and bodies are client bytes: replace invalid UTF-8 rather than throw.
  reply(res, status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void reply_error(httplib::Response& res, int status, std::string_view message) {
  reply(res, status, json{{"error", message}});
}

/// A path parameter that is all digits and fits; nullopt otherwise.
std::optional<std::uint64_t> parse_uint(std::string_view text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

/// The request body as JSON: an empty body is `empty`, an unparsable one nullopt.
std::optional<json> parse_body(const httplib::Request& req, json empty) {
  if (req.body.empty()) return empty;
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return std::nullopt;
  return body;
}

/// A login token no other call returns: a process-wide counter plus 64 random bits,
/// so tokens also differ across restarts.
std::string make_token(std::uint64_t serial) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<char, 17> hex{};
  const auto [end, ec] = std::to_chars(hex.data(), hex.data() + 16, rng(), 16);
  std::string token = "tok-" + std::to_string(serial) + "-";
  token.append(static_cast<std::size_t>(16 - (end - hex.data())), '0');
  token.append(hex.data(), end);
  return token;
}

bool write_pattern(httplib::DataSink& sink, std::size_t offset, std::size_t length) {
  return sink.write(kPattern.data() + offset % kAlphabet, std::min(length, kWriteSize));
}

}  // namespace

struct TargetServer::Impl {
  explicit Impl(TargetOptions opts) : options(std::move(opts)) {}

  void configure();
  void handle(const httplib::Request& req, httplib::Response& res);
  void login(const httplib::Request& req, httplib::Response& res);
  void product(std::string_view id, httplib::Response& res);
  void cart(const httplib::Request& req, httplib::Response& res);
  void projects(const httplib::Request& req, httplib::Response& res);
  void project(const httplib::Request& req, std::string_view id, httplib::Response& res);
  void delay(std::string_view ms, httplib::Response& res);
  void bytes(std::string_view n, bool chunked, httplib::Response& res);
  /// True once stop() was called; wakes /delay waits.
  bool stopping_requested();

  const TargetOptions options;
  ListeningServer http;
  RequestStats stats;
  const ProductCatalog catalog;
  ProjectStore store;
  std::atomic<std::uint64_t> next_token{1};
  std::atomic<std::uint64_t> next_cart{1};

  std::mutex stop_mu;
  std::condition_variable stop_cv;  // signalled once, when stopping turns true
  bool stopping = false;            // guarded by stop_mu
};

void TargetServer::Impl::configure() {
  // No set_logger(): a load-test target must not pay for a log line per request.
  http.set_keep_alive_max_count(kKeepAliveMaxRequests);
  http.set_keep_alive_timeout(kKeepAliveTimeout.count());
  http.set_tcp_nodelay(true);
  http.set_payload_max_length(kMaxRequestBody);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second server bind the same
  // port and silently take half the connections (and half the /__stats counts).
  // SO_REUSEADDR alone still allows a quick restart past TIME_WAIT.
  http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.new_task_queue = [this] {
    auto* pool = new httplib::ThreadPool(static_cast<std::size_t>(options.threads));
    // cpp-httplib calls this once it counts as running, so Server::stop() now takes
    // effect; a stop() that came earlier was a no-op there and is replayed here.
    if (stopping_requested()) http.stop();
    return pool;
  };
  // Every method goes to one handler that dispatches with route.hpp's table, so the
  // counters and the dispatch cannot disagree. Plain handlers: httplib reads the body
  // first, which keeps the connection usable for the next request.
  const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, res);
  };
  // A request with neither Content-Length nor Transfer-Encoding has an empty body
  // (RFC 9112 6.3), but cpp-httplib 0.11 reads a POST/PUT/PATCH/DELETE body until the
  // read timeout and then answers 400. Such requests are served here, before it tries.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get(".*", handler);
  http.Post(".*", handler);
  http.Put(".*", handler);
  http.Patch(".*", handler);
  http.Delete(".*", handler);
  http.Options(".*", handler);
}

bool TargetServer::Impl::stopping_requested() {
  std::lock_guard lock(stop_mu);
  return stopping;
}

void TargetServer::Impl::handle(const httplib::Request& req, httplib::Response& res) {
  const RouteMatch match = classify(req.method, req.path);
  // Counted before the response exists, so a client that has its response is already
  // in /__stats.
  if (match.counted) {
    stats.record(route_template(match.route), req.method, req.path,
                 req.get_header_value("Authorization"));
  }

  switch (match.route) {
    case Route::Health:
      return reply(res, 200, std::string(R"({"status":"ok"})"));
    case Route::Login:
      return login(req, res);
    case Route::Products:
      return reply(res, 200, catalog.list_json());
    case Route::Product:
      return product(match.param, res);
    case Route::Cart:
      return cart(req, res);
    case Route::Projects:
      return projects(req, res);
    case Route::Project:
      return project(req, match.param, res);
    case Route::Delay:
      return delay(match.param, res);
    case Route::Status: {
      const auto code = parse_uint(match.param);
      if (!code || *code < 200 || *code > 599) {
        return reply_error(res, 400, "status must be an integer in 200..599");
      }
      res.status = static_cast<int>(*code);
      // These statuses must not carry a body (RFC 9110 15.3.5, 15.3.6, 15.4.5).
      if (*code != 204 && *code != 205 && *code != 304) {
        res.set_content(json{{"status", *code}}.dump(), kJson);
      }
      return;
    }
    case Route::Bytes:
      return bytes(match.param, false, res);
    case Route::Chunked:
      return bytes(match.param, true, res);
    case Route::Stats:
      return reply(res, 200, stats.to_json());
    case Route::Reset:
      stats.reset();
      return reply(res, 200, std::string(R"({"status":"reset"})"));
    case Route::Unmatched:
      return reply(res, 404, json{{"error", "not found"}, {"method", req.method}, {"path", req.path}});
  }
}

void TargetServer::Impl::login(const httplib::Request& req, httplib::Response& res) {
  if (!parse_body(req, json::object())) return reply_error(res, 400, "body is not valid JSON");
  reply(res, 200, json{{"access_token", make_token(next_token.fetch_add(1))},
                       {"token_type", "bearer"}});
}

void TargetServer::Impl::product(std::string_view id, httplib::Response& res) {
  const auto number = parse_uint(id);
  const std::string* body = number ? catalog.product_json(*number) : nullptr;
  if (body == nullptr) return reply_error(res, 404, "product not found");
  reply(res, 200, *body);
}

void TargetServer::Impl::cart(const httplib::Request& req, httplib::Response& res) {
  const auto body = parse_body(req, json::object());
  if (!body) return reply_error(res, 400, "body is not valid JSON");
  if (!body->is_object()) return reply_error(res, 400, "body must be a JSON object");
  const auto items = body->find("items");
  reply(res, 201, json{{"cart_id", next_cart.fetch_add(1)},
                       {"items", items == body->end() ? json::array() : *items}});
}

void TargetServer::Impl::projects(const httplib::Request& req, httplib::Response& res) {
  if (req.get_header_value("Authorization").empty()) {
    return reply_error(res, 401, "missing Authorization");
  }
  if (req.method == "POST") {
    auto body = parse_body(req, json::object());
    if (!body) return reply_error(res, 400, "body is not valid JSON");
    if (!body->is_object()) return reply_error(res, 400, "body must be a JSON object");
    return reply(res, 201, store.create(std::move(*body)));
  }
  reply(res, 200, store.list());
}

void TargetServer::Impl::project(const httplib::Request& req, std::string_view id,
                                 httplib::Response& res) {
  if (req.get_header_value("Authorization").empty()) {
    return reply_error(res, 401, "missing Authorization");
  }
  // A malformed id names no project, like an unknown one.
  const std::uint64_t number = parse_uint(id).value_or(0);
  const std::string& method = req.method;

  if (method == "DELETE") {
    if (!store.remove(number)) return reply_error(res, 404, "project not found");
    res.status = 204;
    return;
  }
  if (method == "GET" || method == "HEAD") {
    const auto found = store.get(number);
    if (!found) return reply_error(res, 404, "project not found");
    return reply(res, 200, *found);
  }

  auto body = parse_body(req, json::object());
  if (!body) return reply_error(res, 400, "body is not valid JSON");
  if (!body->is_object()) return reply_error(res, 400, "body must be a JSON object");
  const auto updated =
      method == "PUT" ? store.replace(number, std::move(*body)) : store.merge(number, *body);
  if (!updated) return reply_error(res, 404, "project not found");
  reply(res, 200, *updated);
}

void TargetServer::Impl::delay(std::string_view ms, httplib::Response& res) {
  const auto requested = parse_uint(ms);
  if (!requested) return reply_error(res, 400, "delay must be a whole number of milliseconds");
  const std::chrono::milliseconds wait(
      std::min<std::uint64_t>(*requested, static_cast<std::uint64_t>(kMaxDelay.count())));
  {
    // Waits on the stop signal rather than sleeping, so stopping is not held up by a
    // minute-long delay.
    std::unique_lock lock(stop_mu);
    stop_cv.wait_for(lock, wait, [this] { return stopping; });
  }
  reply(res, 200, json{{"delayed_ms", wait.count()}});
}

void TargetServer::Impl::bytes(std::string_view n, bool chunked, httplib::Response& res) {
  const auto requested = parse_uint(n);
  if (!requested) return reply_error(res, 400, "size must be a whole number of bytes");
  const std::size_t size = std::min<std::uint64_t>(*requested, kMaxBodyBytes);
  res.status = 200;
  if (chunked) {
    res.set_chunked_content_provider(kOctetStream, [size](std::size_t offset, httplib::DataSink& sink) {
      if (offset >= size) {
        sink.done();
        return true;
      }
      return write_pattern(sink, offset, std::min(size - offset, kChunkSize));
    });
    return;
  }
  if (size == 0) return res.set_content("", kOctetStream);
  // A provider instead of set_content: a 10 MiB body is streamed from kPattern, not
  // copied into every response.
  res.set_content_provider(size, kOctetStream,
                           [](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             return write_pattern(sink, offset, length);
                           });
}

TargetServer::TargetServer(TargetOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->configure();
}

TargetServer::~TargetServer() = default;

Result<int> TargetServer::bind() {
  const std::string& host = impl_->options.host;
  ListeningServer& http = impl_->http;
  errno = 0;
  int port = impl_->options.port;
  if (port == 0) {
    port = http.bind_to_any_port(host);
  } else if (!http.bind_to_port(host, port)) {
    port = -1;
  }
  if (port < 0) {
    const int err = errno;
    return make_error(ErrorCode::Io,
                      "cannot listen on " + listen_url(host, impl_->options.port) +
                          (err != 0 ? std::string(": ") + std::strerror(err) : std::string()),
                      "pick another --port, or --port 0 for a free one");
  }
  // cpp-httplib 0.11 listens with a backlog of 5, compiled into Debian's shared
  // library. Under a burst of new connections the kernel would drop SYNs and clients
  // would stall for a 1 s retransmit; Linux lets listen() be called again to widen it.
  ::listen(http.listening_socket(), SOMAXCONN);
  return port;
}

Status TargetServer::run() {
  if (!impl_->http.listen_after_bind()) {
    return make_error(ErrorCode::Io, "accepting connections failed: " +
                                         std::string(std::strerror(errno)));
  }
  return Ok{};
}

std::string listen_url(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void TargetServer::stop() {
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->http.stop();
}

}  // namespace lp::target
