#include "engine/http_client.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/check.hpp"
#include "http/connection.hpp"
#include "http/request_bytes.hpp"
#include "http/tls_context.hpp"
#include "http/url.hpp"

namespace lp::engine {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

constexpr std::uint64_t kWakeTag = UINT64_MAX;
constexpr std::size_t kRecvBufferSize = 64 * 1024;
constexpr int kMaxEvents = 128;

struct PendingCall {
  const CallRequest* request = nullptr;
  CallResponse* out = nullptr;
  std::atomic<int>* remaining = nullptr;  ///< the caller waits for it to reach 0
  const http::Endpoint* endpoint = nullptr;
  std::string bytes;
  Clock::time_point intended{};
  Clock::time_point deadline{};
  bool retried = false;
};

metrics::ErrorKind kind_of(http::Failure f) {
  switch (f) {
    case http::Failure::Connect: return metrics::ErrorKind::Connect;
    case http::Failure::Timeout: return metrics::ErrorKind::Timeout;
    case http::Failure::Reset: return metrics::ErrorKind::Reset;
    case http::Failure::Tls: return metrics::ErrorKind::Tls;
    case http::Failure::Protocol: return metrics::ErrorKind::Protocol;
  }
  return metrics::ErrorKind::Reset;
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

class HttpClient::Impl final : public http::ConnectionObserver {
 public:
  Impl(const ClientOptions& options, std::shared_ptr<http::TlsContext> tls)
      : options_(options), tls_(std::move(tls)), recv_buf_(new char[kRecvBufferSize]), load_(options.task_count) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    LP_CHECK(epoll_fd_ >= 0 && wake_fd_ >= 0);  // only fails when out of file descriptors
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    LP_CHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
    thread_ = std::thread([this] { loop(); });
  }

  ~Impl() {
    stop_.store(true);
    wake();
    thread_.join();
    conns_.clear();
    ::close(wake_fd_);
    ::close(epoll_fd_);
  }

  void submit(std::vector<PendingCall>& calls) {
    bool was_empty;
    {
      std::lock_guard lock(inbox_mu_);
      was_empty = inbox_.empty();
      for (auto& c : calls) inbox_.push_back(&c);
    }
    if (was_empty) wake();  // the loop drains the whole inbox per wake-up
  }

  /// Resolves (once per origin) on the caller's thread: blocking DNS stays off the loop.
  Result<const http::Endpoint*> endpoint_for(const http::Url& url) {
    std::string key = url.origin();
    std::lock_guard lock(endpoints_mu_);
    if (auto it = endpoints_.find(key); it != endpoints_.end()) return it->second.get();
    auto ep = http::resolve_endpoint(url);
    if (!ep) return std::move(ep).error();
    auto& slot = endpoints_[key];
    slot = std::make_unique<http::Endpoint>(std::move(*ep));
    return slot.get();
  }

  metrics::RunStats load_stats() const {
    std::lock_guard lock(stats_mu_);
    return load_;
  }
  metrics::TaskStats setup_stats() const {
    std::lock_guard lock(stats_mu_);
    return setup_;
  }
  void record_check_failure(std::uint32_t task) {
    std::lock_guard lock(stats_mu_);
    if (task >= load_.tasks.size()) return;
    auto& ts = load_.tasks[task];
    ++ts.errors;
    ++ts.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Check)];
  }
  void expire_in_flight() {
    expire_requested_.store(true);
    wake();
  }
  const ClientOptions& options() const { return options_; }
  bool has_tls() const { return tls_ != nullptr; }

 private:
  struct Pool {
    std::vector<http::Connection*> free;
    std::uint32_t open = 0;
    std::deque<PendingCall*> waiting;
  };

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

  void loop() {
    epoll_event events[kMaxEvents];
    auto next_scan = Clock::now();
    for (;;) {
      int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, 10);
      for (int i = 0; i < n; ++i) {
        std::uint64_t tag = events[i].data.u64;
        if (tag == kWakeTag) {
          std::uint64_t v;
          while (::read(wake_fd_, &v, sizeof v) > 0) {
          }
          drain_inbox();
          continue;
        }
        std::uint32_t slot = http::Connection::slot_of(tag);
        if (slot < conns_.size() && conns_[slot]->tag() == tag) conns_[slot]->on_event(events[i].events);
      }
      if (expire_requested_.exchange(false)) fail_everything();
      auto now = Clock::now();
      if (now >= next_scan) {
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
        next_scan = now + std::chrono::milliseconds(10);
      }
      if (stop_.load()) {
        drain_inbox();
        fail_everything();
        return;
      }
    }
  }

  void fail_everything() {
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

  void drain_inbox() {
    std::vector<PendingCall*> batch;
    {
      std::lock_guard lock(inbox_mu_);
      batch.swap(inbox_);
    }
    for (PendingCall* call : batch) start(*call);
  }

  void start(PendingCall& call) {
    Pool& pool = pools_[call.endpoint];
    http::Connection* conn = nullptr;
    for (std::size_t i = pool.free.size(); i-- > 0;) {
      if (pool.free[i]->open()) {
        conn = pool.free[i];
        pool.free.erase(pool.free.begin() + static_cast<std::ptrdiff_t>(i));
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
      calls_.push_back(nullptr);
      conn = conns_.back().get();
    }
    if (!conn) {
      pool.waiting.push_back(&call);
      return;
    }
    launch(*conn, call);
  }

  void launch(http::Connection& conn, PendingCall& call) {
    calls_[http::Connection::slot_of(conn.tag())] = &call;
    conn.deadline = call.deadline;
    conn.send(call.bytes.data(), call.bytes.size());
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

  void on_response(http::Connection& conn, const http::ResponseParser& response) noexcept override {
    auto now = Clock::now();
    PendingCall& call = *calls_[http::Connection::slot_of(conn.tag())];
    CallResponse& out = *call.out;
    out.status = response.status();
    out.headers.assign(response.headers().begin(), response.headers().end());
    out.body = response.body();
    out.elapsed_ms = double(us_between(conn.write_started(), now)) / 1000.0;
    {
      std::lock_guard lock(stats_mu_);
      metrics::TaskStats& ts = stats_for(call.request->tag.task);
      std::uint64_t latency = us_between(call.intended, now), service = us_between(conn.write_started(), now);
      if (out.status >= 400 && call.request->tag.status_is_error) {
        ts.record_error(out.status >= 500 ? metrics::ErrorKind::Http5xx : metrics::ErrorKind::Http4xx);
        ts.latency.record(latency);
        ts.service.record(service);
      } else {
        ts.record_ok(latency, service);
      }
    }
    complete(call);
    release(conn);
  }

  void on_failure(http::Connection& conn, http::Failure failure, bool retryable) noexcept override {
    PendingCall& call = *calls_[http::Connection::slot_of(conn.tag())];
    if (retryable && !call.retried && !stop_.load()) {
      call.retried = true;  // an idle keep-alive connection was closed under us
      conn.send(call.bytes.data(), call.bytes.size());
      return;
    }
    fail_call(call, failure);
    release(conn);
  }

  void fail_call(PendingCall& call, http::Failure failure) {
    CallResponse& out = *call.out;
    out.failure = kind_of(failure);
    std::uint32_t timeout = call.request->timeout_ms ? call.request->timeout_ms : options_.timeout_ms;
    out.error = describe(failure, *call.endpoint, timeout);
    {
      std::lock_guard lock(stats_mu_);
      stats_for(call.request->tag.task).record_error(*out.failure);
    }
    complete(call);
  }

  metrics::TaskStats& stats_for(std::uint32_t task) {
    if (task == CallTag::kSetup || task >= load_.tasks.size()) return setup_;
    return load_.tasks[task];
  }

  static void complete(PendingCall& call) {
    if (call.remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) call.remaining->notify_all();
  }

  ClientOptions options_;
  std::shared_ptr<http::TlsContext> tls_;
  std::unique_ptr<char[]> recv_buf_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> expire_requested_{false};

  std::mutex inbox_mu_;
  std::vector<PendingCall*> inbox_;
  std::mutex endpoints_mu_;
  std::map<std::string, std::unique_ptr<http::Endpoint>> endpoints_;

  // Loop thread only.
  std::unordered_map<const http::Endpoint*, Pool> pools_;
  std::vector<std::unique_ptr<http::Connection>> conns_;
  std::vector<PendingCall*> calls_;  ///< slot → call in flight

  mutable std::mutex stats_mu_;
  metrics::RunStats load_;
  metrics::TaskStats setup_;
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(const ClientOptions& options) {
  auto tls = http::TlsContext::create(!options.insecure_tls);
  if (!tls) return std::move(tls).error();
  return std::unique_ptr<HttpClient>(new HttpClient(std::make_unique<Impl>(options, std::move(*tls))));
}

std::vector<CallResponse> HttpClient::execute_batch(const std::vector<CallRequest>& requests) {
  std::vector<CallResponse> out(requests.size());
  std::vector<PendingCall> calls;
  calls.reserve(requests.size());
  std::atomic<int> remaining{0};
  auto now = Clock::now();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const CallRequest& r = requests[i];
    auto url = http::parse_url(r.url);
    if (!url) {
      out[i].failure = metrics::ErrorKind::Connect;
      out[i].error = "not an http(s) URL: '" + r.url + "'";
      continue;
    }
    auto ep = impl_->endpoint_for(*url);
    if (!ep) {
      out[i].failure = metrics::ErrorKind::Connect;
      out[i].error = ep.error().message;
      continue;
    }
    PendingCall call;
    call.request = &r;
    call.out = &out[i];
    call.remaining = &remaining;
    call.endpoint = *ep;
    call.bytes = http::render_request(r.method, *url, r.headers, r.body);
    call.intended = r.tag.intended.value_or(now);
    std::uint32_t timeout = r.timeout_ms ? r.timeout_ms : impl_->options().timeout_ms;
    call.deadline = now + std::chrono::milliseconds(timeout);
    calls.push_back(std::move(call));
  }
  if (calls.empty()) return out;
  remaining.store(static_cast<int>(calls.size()));
  impl_->submit(calls);
  for (int v = remaining.load(std::memory_order_acquire); v != 0; v = remaining.load(std::memory_order_acquire)) {
    remaining.wait(v, std::memory_order_acquire);
  }
  return out;
}

CallResponse HttpClient::execute(const CallRequest& request) {
  std::vector<CallRequest> one{request};
  return std::move(execute_batch(one).front());
}

metrics::RunStats HttpClient::load_stats() const { return impl_->load_stats(); }
metrics::TaskStats HttpClient::setup_stats() const { return impl_->setup_stats(); }
void HttpClient::record_check_failure(std::uint32_t task) { impl_->record_check_failure(task); }
void HttpClient::expire_in_flight() { impl_->expire_in_flight(); }

}  // namespace lp::engine
