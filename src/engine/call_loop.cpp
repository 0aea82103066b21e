#include "engine/call_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <unordered_map>

#include "core/check.hpp"
#include "core/validate.hpp"
#include "engine/epoll_wait.hpp"
#include "engine/failure_kind.hpp"
#include "http/connection.hpp"
#include "http/method.hpp"
#include "http/request_bytes.hpp"
#include "http/tls_context.hpp"
#include "http/url.hpp"

namespace lp::engine {

namespace {

using Clock = CallLoop::Clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::nanoseconds;

constexpr std::size_t kRecvBufferSize = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr auto kTimeoutScanEvery = std::chrono::milliseconds(10);

struct PendingCall {
  std::uint64_t id = 0;
  CallRequest request;
  const http::Endpoint* endpoint = nullptr;
  std::string bytes;
  http::MethodTraits method;
  Clock::time_point intended{};
  Clock::time_point deadline{};
  bool retried = false;
};

/// A call has exactly one owner at a time: the submit() that made it, its pool's
/// waiting queue, or the slot of the connection it is on; complete() takes it last
/// and frees it. Functions that may end a call take it by value, so a caller cannot
/// keep using what a callee freed.
using CallPtr = std::unique_ptr<PendingCall>;

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Why the call cannot be written as an HTTP/1.1 request; empty when it can. A method,
// header or request target that holds a line break would be read by the server as
// more headers or another request, so it is refused rather than sent.
std::string request_problem(const CallRequest& r, const http::Url& url) {
  if (!is_token(r.method)) return "method '" + r.method + "' is not a token (use GET, POST, PUT, ...)";
  for (const auto& [name, value] : r.headers) {
    if (auto problem = core::header_problem(name, value); !problem.empty()) return problem;
  }
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return "URL path has a space or control character (percent-encode it): '" + r.url + "'";
    }
  }
  return {};
}

std::string describe(http::Failure f, const http::Endpoint& ep, std::uint32_t timeout_ms) {
  switch (f) {
    case http::Failure::Connect: return "could not connect to " + ep.key;
    case http::Failure::Timeout: return "no response from " + ep.key + " within " + std::to_string(timeout_ms) + " ms";
    case http::Failure::Reset: return "connection to " + ep.key + " closed before the response was complete";
    case http::Failure::Tls: return "TLS failure with " + ep.key + " (use insecure_tls for self-signed certificates)";
    case http::Failure::Protocol: return "invalid HTTP response from " + ep.key;
  }
  return "request failed";
}

std::uint64_t us_between(Clock::time_point from, Clock::time_point to) {
  auto d = duration_cast<microseconds>(to - from).count();
  return d > 0 ? static_cast<std::uint64_t>(d) : 0;
}

}  // namespace

class CallLoop::Impl final : public http::ConnectionObserver {
 public:
  Impl(const ClientOptions& options, std::shared_ptr<http::TlsContext> tls)
      : options_(options), tls_(std::move(tls)), recv_buf_(new char[kRecvBufferSize]), load_(options.task_count) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    LP_CHECK(epoll_fd_ >= 0);  // only fails when out of file descriptors
  }

  ~Impl() {
    conns_.clear();
    ::close(epoll_fd_);
  }

  std::uint64_t submit(CallRequest request) {
    auto call = std::make_unique<PendingCall>();
    const std::uint64_t id = call->id = ++last_id_;
    auto now = Clock::now();
    call->intended = request.tag.intended.value_or(now);
    call->deadline = now + std::chrono::milliseconds(timeout_of(request));
    call->request = std::move(request);
    ++pending_;

    auto url = http::parse_url(call->request.url);
    if (!url) {
      std::string error = "not an http(s) URL: '" + call->request.url + "'";
      fail_early(std::move(call), metrics::ErrorKind::Connect, std::move(error));
      return id;
    }
    if (auto problem = request_problem(call->request, *url); !problem.empty()) {
      fail_early(std::move(call), metrics::ErrorKind::Protocol, "refused to send: " + problem);
      return id;
    }
    auto ep = endpoint_for(*url);
    if (!ep) {
      fail_early(std::move(call), metrics::ErrorKind::Connect, ep.error().message);
      return id;
    }
    call->endpoint = *ep;
    call->method = http::method_traits(call->request.method);
    call->bytes = http::render_request(call->request.method, *url, call->request.headers, call->request.body);
    start(std::move(call));  // may complete the call (a connect that fails at once)
    return id;
  }

  std::vector<Completion> poll(Clock::time_point until) {
    run_until(until, [&] { return !done_.empty(); });
    std::vector<Completion> out;
    out.swap(done_);
    pending_ -= out.size();
    return out;
  }

  /// Runs the loop until `id` completed; other completions stay for the next poll().
  /// Every call in flight ends by its deadline, so this ends too.
  CallResponse wait_for(std::uint64_t id) {
    auto find = [&] {
      return std::find_if(done_.begin(), done_.end(), [&](const Completion& c) { return c.id == id; });
    };
    run_until(Clock::time_point::max(), [&] { return find() != done_.end() || pending_ == done_.size(); });
    auto it = find();
    LP_CHECK(it != done_.end());  // `id` came from submit() and no poll() ran since
    CallResponse out = std::move(it->response);
    done_.erase(it);
    --pending_;
    return out;
  }

  void expire_in_flight(metrics::ErrorKind as) {
    expiring_as_ = as;
    for (auto& [ep, pool] : pools_) {
      while (!pool.waiting.empty()) {
        CallPtr call = std::move(pool.waiting.front());
        pool.waiting.pop_front();
        fail_call(std::move(call), http::Failure::Timeout);
      }
    }
    for (auto& c : conns_) {
      if (c->busy()) c->expire();
    }
    expiring_as_.reset();
  }

  std::size_t pending() const { return pending_; }

  template <typename Done>
  void run_until(Clock::time_point until, Done done) {
    epoll_event events[kMaxEvents];
    for (;;) {
      auto now = Clock::now();
      if (now >= next_scan_) {
        scan_timeouts(now);
        next_scan_ = now + kTimeoutScanEvery;
      }
      if (done()) return;
      // Past `until` the wait is zero, but the sockets are still read once: a caller
      // with work of its own (due iterations) still collects what already arrived.
      auto wake = std::min(until, pending_ > 0 ? next_scan_ : until);
      int n = wait_for_events(epoll_fd_, events, kMaxEvents, wake - now);
      for (int i = 0; i < n; ++i) {
        std::uint64_t tag = events[i].data.u64;
        std::uint32_t slot = http::Connection::slot_of(tag);
        if (slot < conns_.size() && conns_[slot]->tag() == tag) conns_[slot]->on_event(events[i].events);
      }
      if (Clock::now() >= until) return;
    }
  }
  const metrics::RunStats& load_stats() const { return load_; }
  const metrics::TaskStats& setup_stats() const { return setup_; }
  void record_check_failure(std::uint32_t task) {
    if (task >= load_.tasks.size()) return;
    load_.tasks[task].record_check_failure();
  }

 private:
  struct Pool {
    std::vector<http::Connection*> free;
    std::uint32_t open = 0;
    std::deque<CallPtr> waiting;
    bool pumping = false;  ///< pump() is running further up the stack
  };

  std::uint32_t timeout_of(const CallRequest& r) const { return r.timeout_ms ? r.timeout_ms : options_.timeout_ms; }

  /// Resolves once per origin. Blocking DNS, but only the first call to a host pays it.
  Result<const http::Endpoint*> endpoint_for(const http::Url& url) {
    std::string key = url.origin();
    if (auto it = endpoints_.find(key); it != endpoints_.end()) return it->second.get();
    auto ep = http::resolve_endpoint(url);
    if (!ep) return std::move(ep).error();
    auto& slot = endpoints_[key];
    slot = std::make_unique<http::Endpoint>(std::move(*ep));
    return slot.get();
  }

  void start(CallPtr call) {
    Pool& pool = pools_[call->endpoint];
    pool.waiting.push_back(std::move(call));
    pump(pool);
  }

  /// A free connection of the pool, or a new one while under max_connections; null
  /// when every one is busy.
  http::Connection* take_connection(Pool& pool, const http::Endpoint& endpoint) {
    // Prefer a connection that is still open: reusing it skips a connect (and handshake).
    for (std::size_t i = pool.free.size(); i-- > 0;) {
      if (pool.free[i]->open()) {
        http::Connection* conn = pool.free[i];
        pool.free[i] = pool.free.back();
        pool.free.pop_back();
        return conn;
      }
    }
    if (!pool.free.empty()) {
      http::Connection* conn = pool.free.back();
      pool.free.pop_back();
      return conn;
    }
    if (pool.open >= options_.max_connections) return nullptr;
    ++pool.open;
    auto slot = static_cast<std::uint32_t>(conns_.size());
    conns_.push_back(std::make_unique<http::Connection>(epoll_fd_, slot, endpoint, tls_ ? tls_->native() : nullptr,
                                                        *this, recv_buf_.get(), kRecvBufferSize, /*capture=*/true));
    in_flight_.emplace_back();
    return conns_.back().get();
  }

  /// Starts waiting calls while connections are free. A call can end inside launch()
  /// (a connect that fails at once) and free its connection again; that nested
  /// release only returns the connection, and this loop takes it for the next call,
  /// so a long queue failing at once does not recurse.
  void pump(Pool& pool) {
    if (pool.pumping) return;
    pool.pumping = true;
    while (!pool.waiting.empty()) {
      http::Connection* conn = take_connection(pool, *pool.waiting.front()->endpoint);
      if (!conn) break;
      CallPtr call = std::move(pool.waiting.front());
      pool.waiting.pop_front();
      launch(*conn, std::move(call));
    }
    pool.pumping = false;
  }

  void launch(http::Connection& conn, CallPtr call) {
    PendingCall& c = *call;
    in_flight_[http::Connection::slot_of(conn.tag())] = std::move(call);  // the slot owns it now
    conn.deadline = c.deadline;
    // May end the call (and free it) before returning: `c` is not used after this.
    conn.send(c.bytes.data(), c.bytes.size(), c.method);
  }

  void release(http::Connection& conn) {
    Pool& pool = pools_[&conn.endpoint()];
    pool.free.push_back(&conn);
    pump(pool);
  }

  void scan_timeouts(Clock::time_point now) {
    for (auto& c : conns_) {
      if (c->busy() && c->deadline <= now) c->expire();
    }
    for (auto& [ep, pool] : pools_) {
      // Calls may have their own timeouts, so the queue is not in deadline order.
      for (std::size_t i = 0; i < pool.waiting.size();) {
        if (pool.waiting[i]->deadline > now) {
          ++i;
          continue;
        }
        CallPtr call = std::move(pool.waiting[i]);
        pool.waiting.erase(pool.waiting.begin() + static_cast<std::ptrdiff_t>(i));
        fail_call(std::move(call), http::Failure::Timeout);
      }
    }
  }

  void on_response(http::Connection& conn, const http::ResponseParser& response) noexcept override {
    auto now = Clock::now();
    CallPtr call = std::move(in_flight_[http::Connection::slot_of(conn.tag())]);
    CallResponse out;
    out.status = response.status();
    out.headers.assign(response.headers().begin(), response.headers().end());
    out.body = response.body();
    std::uint64_t service = us_between(conn.write_started(), now);
    out.elapsed_ms = double(service) / 1000.0;
    metrics::TaskStats& ts = stats_for(call->request.tag.task);
    std::uint64_t latency = us_between(call->intended, now);
    if (out.status >= 400 && call->request.tag.status_is_error) {
      ts.record_error(out.status >= 500 ? metrics::ErrorKind::Http5xx : metrics::ErrorKind::Http4xx);
      ts.latency.record(latency);
      ts.service.record(service);
    } else {
      ts.record_ok(latency, service);
    }
    complete(std::move(call), std::move(out));
    release(conn);
  }

  void on_failure(http::Connection& conn, http::Failure failure, bool retryable) noexcept override {
    CallPtr& slot = in_flight_[http::Connection::slot_of(conn.tag())];
    if (retryable && !slot->retried) {
      // A reused connection was closed under us and the connection says resending is
      // safe (nothing written, or an idempotent method): once, on a fresh connection.
      slot->retried = true;
      if (is_load(slot->request.tag.task)) ++load_.retries;
      conn.send(slot->bytes.data(), slot->bytes.size(), slot->method);
      return;
    }
    CallPtr call = std::move(slot);
    fail_call(std::move(call), failure);
    release(conn);
  }

  void fail_call(CallPtr call, http::Failure failure) {
    CallResponse out;
    out.failure = expiring_as_.value_or(kind_of(failure));
    out.error = out.failure == metrics::ErrorKind::Interrupted ? "interrupted: the run was stopped"
                                                               : describe(failure, *call->endpoint, timeout_of(call->request));
    // A timeout keeps its wait as a latency sample (TaskStats::record_failure).
    stats_for(call->request.tag.task).record_failure(*out.failure, us_between(call->intended, Clock::now()));
    complete(std::move(call), std::move(out));
  }

  void fail_early(CallPtr call, metrics::ErrorKind kind, std::string error) {
    CallResponse out;
    out.failure = kind;
    out.error = std::move(error);
    stats_for(call->request.tag.task).record_error(kind);
    complete(std::move(call), std::move(out));
  }

  /// The call's last stop: its completion is queued for poll() and the call freed.
  void complete(CallPtr call, CallResponse out) { done_.push_back(Completion{call->id, std::move(out)}); }

  bool is_load(std::uint32_t task) const { return task != CallTag::kSetup && task < load_.tasks.size(); }

  metrics::TaskStats& stats_for(std::uint32_t task) { return is_load(task) ? load_.tasks[task] : setup_; }

  ClientOptions options_;
  std::shared_ptr<http::TlsContext> tls_;
  std::unique_ptr<char[]> recv_buf_;
  int epoll_fd_ = -1;
  std::uint64_t last_id_ = 0;
  std::optional<metrics::ErrorKind> expiring_as_;  ///< set while expire_in_flight() runs
  std::size_t pending_ = 0;  ///< submitted and not yet returned by poll() / wait_for()
  Clock::time_point next_scan_{};

  std::map<std::string, std::unique_ptr<http::Endpoint>> endpoints_;
  std::unordered_map<const http::Endpoint*, Pool> pools_;
  std::vector<std::unique_ptr<http::Connection>> conns_;
  std::vector<CallPtr> in_flight_;  ///< slot → the call on that connection (owner)
  std::vector<Completion> done_;

  metrics::RunStats load_;
  metrics::TaskStats setup_;
};

CallLoop::CallLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CallLoop::~CallLoop() = default;

Result<std::unique_ptr<CallLoop>> CallLoop::create(const ClientOptions& options) {
  auto tls = http::TlsContext::create(!options.insecure_tls);
  if (!tls) return std::move(tls).error();
  return std::unique_ptr<CallLoop>(new CallLoop(std::make_unique<Impl>(options, std::move(*tls))));
}

std::uint64_t CallLoop::submit(CallRequest request) { return impl_->submit(std::move(request)); }
std::vector<Completion> CallLoop::poll(Clock::time_point until) { return impl_->poll(until); }
void CallLoop::expire_in_flight(metrics::ErrorKind as) { impl_->expire_in_flight(as); }
std::size_t CallLoop::pending() const { return impl_->pending(); }
const metrics::RunStats& CallLoop::load_stats() const { return impl_->load_stats(); }
const metrics::TaskStats& CallLoop::setup_stats() const { return impl_->setup_stats(); }
void CallLoop::record_check_failure(std::uint32_t task) { impl_->record_check_failure(task); }

CallResponse CallLoop::execute(CallRequest request) { return impl_->wait_for(submit(std::move(request))); }

}  // namespace lp::engine
