#include "engine/call_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <unordered_map>

#include "core/check.hpp"
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
  Clock::time_point intended{};
  Clock::time_point deadline{};
  bool retried = false;
};

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
    call->id = ++last_id_;
    auto now = Clock::now();
    call->intended = request.tag.intended.value_or(now);
    std::uint32_t timeout = request.timeout_ms ? request.timeout_ms : options_.timeout_ms;
    call->deadline = now + std::chrono::milliseconds(timeout);
    call->request = std::move(request);
    PendingCall* raw = call.get();
    calls_.emplace(raw->id, std::move(call));
    ++pending_;

    auto url = http::parse_url(raw->request.url);
    if (!url) {
      fail_early(*raw, "not an http(s) URL: '" + raw->request.url + "'");
      return raw->id;
    }
    auto ep = endpoint_for(*url);
    if (!ep) {
      fail_early(*raw, ep.error().message);
      return raw->id;
    }
    raw->endpoint = *ep;
    raw->bytes = http::render_request(raw->request.method, *url, raw->request.headers, raw->request.body);
    start(*raw);
    return raw->id;
  }

  std::vector<Completion> poll(Clock::time_point until) {
    run_until(until, [&] { return !done_.empty(); });
    std::vector<Completion> out;
    out.swap(done_);
    pending_ -= out.size();
    return out;
  }

  /// Runs the loop until `id` completed; other completions stay for the next poll().
  CallResponse wait_for(std::uint64_t id) {
    auto find = [&] {
      return std::find_if(done_.begin(), done_.end(), [&](const Completion& c) { return c.id == id; });
    };
    run_until(Clock::time_point::max(), [&] { return find() != done_.end(); });
    auto it = find();
    CallResponse out = std::move(it->response);
    done_.erase(it);
    --pending_;
    return out;
  }

  void expire_in_flight() {
    for (auto& [ep, pool] : pools_) {
      while (!pool.waiting.empty()) {
        PendingCall* call = pool.waiting.front();
        pool.waiting.pop_front();
        fail_call(*call, http::Failure::Timeout);
      }
    }
    for (auto& c : conns_) {
      if (c->busy()) c->expire();
    }
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
    auto& ts = load_.tasks[task];
    ++ts.errors;
    ++ts.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Check)];
  }

 private:
  struct Pool {
    std::vector<http::Connection*> free;
    std::uint32_t open = 0;
    std::deque<PendingCall*> waiting;
  };

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

  void start(PendingCall& call) {
    Pool& pool = pools_[call.endpoint];
    http::Connection* conn = nullptr;
    // Prefer a connection that is still open: reusing it skips a connect (and handshake).
    for (std::size_t i = pool.free.size(); i-- > 0;) {
      if (pool.free[i]->open()) {
        conn = pool.free[i];
        pool.free[i] = pool.free.back();
        pool.free.pop_back();
        break;
      }
    }
    if (!conn && !pool.free.empty()) {
      conn = pool.free.back();
      pool.free.pop_back();
    }
    if (!conn && pool.open < options_.max_connections) {
      ++pool.open;
      auto slot = static_cast<std::uint32_t>(conns_.size());
      conns_.push_back(std::make_unique<http::Connection>(epoll_fd_, slot, *call.endpoint,
                                                          tls_ ? tls_->native() : nullptr, *this,
                                                          recv_buf_.get(), kRecvBufferSize, /*capture=*/true));
      in_flight_.push_back(nullptr);
      conn = conns_.back().get();
    }
    if (!conn) {
      pool.waiting.push_back(&call);
      return;
    }
    launch(*conn, call);
  }

  void launch(http::Connection& conn, PendingCall& call) {
    in_flight_[http::Connection::slot_of(conn.tag())] = &call;
    conn.deadline = call.deadline;
    conn.send(call.bytes.data(), call.bytes.size(), http::method_traits(call.request.method));
  }

  void release(http::Connection& conn) {
    Pool& pool = pools_[&conn.endpoint()];
    if (!pool.waiting.empty()) {
      PendingCall* next = pool.waiting.front();
      pool.waiting.pop_front();
      return launch(conn, *next);
    }
    pool.free.push_back(&conn);
  }

  void scan_timeouts(Clock::time_point now) {
    for (auto& c : conns_) {
      if (c->busy() && c->deadline <= now) c->expire();
    }
    for (auto& [ep, pool] : pools_) {
      while (!pool.waiting.empty() && pool.waiting.front()->deadline <= now) {
        PendingCall* call = pool.waiting.front();
        pool.waiting.pop_front();
        fail_call(*call, http::Failure::Timeout);
      }
    }
  }

  void on_response(http::Connection& conn, const http::ResponseParser& response) noexcept override {
    auto now = Clock::now();
    PendingCall& call = *in_flight_[http::Connection::slot_of(conn.tag())];
    CallResponse out;
    out.status = response.status();
    out.headers.assign(response.headers().begin(), response.headers().end());
    out.body = response.body();
    std::uint64_t service = us_between(conn.write_started(), now);
    out.elapsed_ms = double(service) / 1000.0;
    metrics::TaskStats& ts = stats_for(call.request.tag.task);
    std::uint64_t latency = us_between(call.intended, now);
    if (out.status >= 400 && call.request.tag.status_is_error) {
      ts.record_error(out.status >= 500 ? metrics::ErrorKind::Http5xx : metrics::ErrorKind::Http4xx);
      ts.latency.record(latency);
      ts.service.record(service);
    } else {
      ts.record_ok(latency, service);
    }
    complete(call, std::move(out));
    release(conn);
  }

  void on_failure(http::Connection& conn, http::Failure failure, bool retryable) noexcept override {
    PendingCall& call = *in_flight_[http::Connection::slot_of(conn.tag())];
    if (retryable && !call.retried) {
      call.retried = true;  // an idle keep-alive connection was closed under us
      conn.send(call.bytes.data(), call.bytes.size(), http::method_traits(call.request.method));
      return;
    }
    fail_call(call, failure);
    release(conn);
  }

  void fail_call(PendingCall& call, http::Failure failure) {
    CallResponse out;
    out.failure = kind_of(failure);
    std::uint32_t timeout = call.request.timeout_ms ? call.request.timeout_ms : options_.timeout_ms;
    out.error = describe(failure, *call.endpoint, timeout);
    stats_for(call.request.tag.task).record_error(*out.failure);
    complete(call, std::move(out));
  }

  void fail_early(PendingCall& call, std::string error) {
    CallResponse out;
    out.failure = metrics::ErrorKind::Connect;
    out.error = std::move(error);
    stats_for(call.request.tag.task).record_error(metrics::ErrorKind::Connect);
    complete(call, std::move(out));
  }

  void complete(PendingCall& call, CallResponse out) {
    std::uint64_t id = call.id;
    done_.push_back(Completion{id, std::move(out)});
    calls_.erase(id);  // `call` is gone from here on
  }

  metrics::TaskStats& stats_for(std::uint32_t task) {
    if (task == CallTag::kSetup || task >= load_.tasks.size()) return setup_;
    return load_.tasks[task];
  }

  ClientOptions options_;
  std::shared_ptr<http::TlsContext> tls_;
  std::unique_ptr<char[]> recv_buf_;
  int epoll_fd_ = -1;
  std::uint64_t last_id_ = 0;
  std::size_t pending_ = 0;
  Clock::time_point next_scan_{};

  std::map<std::string, std::unique_ptr<http::Endpoint>> endpoints_;
  std::unordered_map<const http::Endpoint*, Pool> pools_;
  std::unordered_map<std::uint64_t, std::unique_ptr<PendingCall>> calls_;
  std::vector<std::unique_ptr<http::Connection>> conns_;
  std::vector<PendingCall*> in_flight_;  ///< slot → call on that connection
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
void CallLoop::expire_in_flight() { impl_->expire_in_flight(); }
std::size_t CallLoop::pending() const { return impl_->pending(); }
const metrics::RunStats& CallLoop::load_stats() const { return impl_->load_stats(); }
const metrics::TaskStats& CallLoop::setup_stats() const { return impl_->setup_stats(); }
void CallLoop::record_check_failure(std::uint32_t task) { impl_->record_check_failure(task); }

CallResponse CallLoop::execute(CallRequest request) { return impl_->wait_for(submit(std::move(request))); }

}  // namespace lp::engine
