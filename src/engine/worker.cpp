#include "engine/worker.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "core/check.hpp"
#include "engine/epoll_wait.hpp"
#include "engine/failure_kind.hpp"

namespace lp::engine {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::nanoseconds;

constexpr int kMaxEvents = 256;
constexpr std::uint64_t kWakeTag = UINT64_MAX;
constexpr nanoseconds kTimeoutScanEvery = std::chrono::milliseconds(10);
constexpr nanoseconds kMaxSleep = std::chrono::milliseconds(250);

std::uint64_t us_between(Clock::time_point from, Clock::time_point to) {
  auto d = duration_cast<microseconds>(to - from).count();
  return d > 0 ? static_cast<std::uint64_t>(d) : 0;
}

}  // namespace

Worker::Worker(const CompiledPlan& plan, WorkerConfig config, TimeSource time)
    : plan_(plan),
      config_(config),
      time_(time),
      pacer_(plan.profile, config.residue, config.stride),
      picker_(plan.weights),
      timeout_(std::chrono::milliseconds(plan.plan.settings.timeout_ms)),
      recv_buf_(new char[kRecvBufferSize]),
      free_(plan.endpoints.size()),
      open_per_endpoint_(plan.endpoints.size(), 0),
      stats_(plan.task_names.size()),
      published_(plan.task_names.size()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  LP_CHECK(epoll_fd_ >= 0 && wake_fd_ >= 0);  // only fails when out of file descriptors
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  LP_CHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
  // Connections are created on demand but the vectors never reallocate under the loop.
  std::size_t max_slots = std::size_t{config_.max_connections} * std::max<std::size_t>(1, plan.endpoints.size());
  conns_.reserve(max_slots);
  iters_.reserve(max_slots);
  for (auto& f : free_) f.reserve(config_.max_connections);
}

Worker::~Worker() {
  conns_.clear();  // closes sockets before the epoll fd
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void Worker::request_stop(bool now) noexcept {
  const int want = now ? 2 : 1;
  int level = stop_level_.load(std::memory_order_relaxed);
  while (level < want && !stop_level_.compare_exchange_weak(level, want, std::memory_order_release)) {
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Worker::request_publish(std::uint64_t epoch) noexcept {
  publish_requested_.store(epoch, std::memory_order_release);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Worker::merge_published(metrics::RunStats& into) const {
  std::lock_guard lock(published_mu_);
  into.merge(published_);
}

void Worker::sync_counters() noexcept {
  stats_.iterations = pacer_.sent();
  stats_.late = pacer_.late();
  stats_.dropped = pacer_.dropped() + chain_dropped_;
}

const metrics::RunStats& Worker::stats() noexcept {
  sync_counters();
  return stats_;
}

void Worker::publish() {
  std::uint64_t want = publish_requested_.load(std::memory_order_acquire);
  if (want == published_epoch_.load(std::memory_order_relaxed)) return;
  std::uint64_t in_flight = 0, open = 0;
  for (const auto& c : conns_) {
    in_flight += c->busy();
    open += c->open();
  }
  sync_counters();
  stats_.in_flight = in_flight;
  stats_.connections = open;
  {
    std::lock_guard lock(published_mu_);
    published_ = stats_;
  }
  published_epoch_.store(want, std::memory_order_release);
}

void Worker::handle_wakeup() {
  std::uint64_t value;
  while (::read(wake_fd_, &value, sizeof value) > 0) {
  }
}

void Worker::run(Clock::time_point start) {
  ::prctl(PR_SET_TIMERSLACK, 1UL);  // wake at the due time, not up to 50 µs later
  begin(start);
  while (turn(time_.now()) != Phase::Done) poll(wake_at(now_) - now_);
  end();
}

void Worker::begin(Clock::time_point start) {
  pacer_.start_at(start);
  now_ = start;
  phase_ = Phase::Sending;
}

Worker::Phase Worker::turn(Clock::time_point now) noexcept {
  now_ = now;
  apply_stop(now);
  if (phase_ == Phase::Sending) {
    dispatch(now);
    // The run lasts the whole profile even when its last iteration came early (0.5 rps
    // over 4 s fires at 0 s and 2 s): the elapsed time and rates then mean what they say.
    if (now >= pacer_.end()) {
      pacer_.close(now);  // due before the end and never sent: dropped
      phase_ = Phase::Draining;
    }
  }
  if (in_flight_ > 0 && now >= next_timeout_scan_) {
    expire_overdue(now);  // the drain too: every request keeps its own timeout_ms
    next_timeout_scan_ = now + kTimeoutScanEvery;
  }
  if (phase_ == Phase::Interrupting && in_flight_ > 0 && now >= grace_end_) cut_off();
  if ((phase_ == Phase::Draining || phase_ == Phase::Interrupting) && in_flight_ == 0) phase_ = Phase::Done;
  publish();
  return phase_;
}

void Worker::apply_stop(Clock::time_point now) noexcept {
  const int level = stop_level_.load(std::memory_order_acquire);
  if (level == 0 || phase_ == Phase::Done) return;
  if (phase_ != Phase::Interrupting) {
    if (phase_ == Phase::Sending) pacer_.close(now);  // due by now and unsent: dropped
    phase_ = Phase::Interrupting;
    stopping_ = true;
    grace_end_ = now + config_.grace;
  }
  if (level >= 2) grace_end_ = std::min(grace_end_, now);
}

Clock::time_point Worker::wake_at(Clock::time_point now) const noexcept {
  Clock::time_point until = now + kMaxSleep;
  if (in_flight_ > 0) until = std::min(until, next_timeout_scan_);
  if (phase_ == Phase::Sending) {
    until = std::min(until, pacer_.end());
    if (!starved_) until = std::min(until, pacer_.next_due());  // starved: a response frees a connection
  } else if (phase_ == Phase::Interrupting) {
    until = std::min(until, grace_end_);
  }
  return std::max(until, now);
}

void Worker::poll(std::chrono::nanoseconds wait) noexcept {
  epoll_event events[kMaxEvents];
  int n = wait_for_events(epoll_fd_, events, kMaxEvents, wait);
  if (n <= 0) return;
  // One clock read per batch: every response in it was complete when epoll returned.
  now_ = time_.now();
  for (int i = 0; i < n; ++i) {
    std::uint64_t tag = events[i].data.u64;
    if (tag == kWakeTag) {
      handle_wakeup();
      continue;
    }
    std::uint32_t slot = http::Connection::slot_of(tag);
    if (slot >= conns_.size() || conns_[slot]->tag() != tag) continue;  // stale: socket replaced
    conns_[slot]->on_event(events[i].events);
  }
}

void Worker::end() {
  for (auto& c : conns_) c->close();
  sync_counters();
  stats_.in_flight = 0;
  stats_.connections = 0;
  {
    std::lock_guard lock(published_mu_);
    published_ = stats_;
  }
  published_epoch_.store(publish_requested_.load(std::memory_order_acquire), std::memory_order_release);
  finished_.store(true, std::memory_order_release);
}

void Worker::dispatch(Clock::time_point now) noexcept {
  if (in_dispatch_ || phase_ != Phase::Sending) return;  // in_dispatch_: a callback inside launch()
  in_dispatch_ = true;
  starved_ = false;
  const std::size_t users = plan_.vuser_count();
  while (pacer_.due(now)) {
    if (next_task_ == SIZE_MAX) next_task_ = picker_.next();
    const Variant& v = plan_.variants[next_task_][pacer_.next_index() % users];
    http::Connection* conn = acquire(v.calls.front().endpoint);
    if (!conn) {
      // Every connection is busy. Due iterations wait with their due times (the wait
      // shows in their latency), within the Pacer's lag bound; older ones are dropped.
      pacer_.shed(now);
      starved_ = pacer_.due(now);
      break;
    }
    Iteration it;
    it.variant = &v;
    it.task = static_cast<std::uint32_t>(next_task_);
    it.intended = pacer_.take(now);
    next_task_ = SIZE_MAX;
    launch(*conn, it, now);
  }
  in_dispatch_ = false;
}

http::Connection* Worker::acquire(std::uint32_t endpoint) noexcept {
  auto& pool = free_[endpoint];
  if (!pool.empty()) {
    // Prefer a connection that is still open: reusing it skips a handshake.
    for (std::size_t i = pool.size(); i-- > 0;) {
      if (pool[i]->open()) {
        http::Connection* c = pool[i];
        pool[i] = pool.back();
        pool.pop_back();
        return c;
      }
    }
    http::Connection* c = pool.back();
    pool.pop_back();
    return c;
  }
  if (open_per_endpoint_[endpoint] >= config_.max_connections) return nullptr;
  ++open_per_endpoint_[endpoint];
  auto slot = static_cast<std::uint32_t>(conns_.size());
  conns_.push_back(std::make_unique<http::Connection>(
      epoll_fd_, slot, plan_.endpoints[endpoint], plan_.tls ? plan_.tls->native() : nullptr, *this,
      recv_buf_.get(), kRecvBufferSize, /*capture=*/false));
  iters_.emplace_back();
  return conns_.back().get();
}

void Worker::release(http::Connection& conn) noexcept {
  auto& pool = free_[&conn.endpoint() - plan_.endpoints.data()];
  pool.push_back(&conn);
}

void Worker::launch(http::Connection& conn, Iteration it, Clock::time_point now) noexcept {
  std::uint32_t slot = http::Connection::slot_of(conn.tag());
  iters_[slot] = it;
  ++in_flight_;
  conn.deadline = now + timeout_;
  const RenderedCall& call = it.variant->calls[it.call];
  conn.send(call.bytes.data(), call.bytes.size(), call.method);
}

void Worker::on_response(http::Connection& conn, const http::ResponseParser& response) noexcept {
  const Clock::time_point now = now_;
  std::uint32_t slot = http::Connection::slot_of(conn.tag());
  Iteration& it = iters_[slot];
  --in_flight_;
  metrics::TaskStats& ts = stats_.tasks[it.task];
  std::uint64_t latency = us_between(it.intended, now);
  std::uint64_t service = us_between(conn.write_started(), now);
  int status = response.status();
  if (status >= 400) {
    ts.record_http_error(status >= 500 ? metrics::ErrorKind::Http5xx : metrics::ErrorKind::Http4xx, latency,
                         service);
  } else {
    ts.record_ok(latency, service);
  }

  if (it.call + 1 < it.variant->calls.size() && !stopping_) {
    Iteration next = it;
    ++next.call;
    next.retried = false;
    next.intended = now;  // the next call of a chain is due when the previous one ends
    const RenderedCall& call = next.variant->calls[next.call];
    if (plan_.endpoints.data() + call.endpoint == &conn.endpoint()) return launch(conn, next, now);
    release(conn);
    if (http::Connection* other = acquire(call.endpoint)) return launch(*other, next, now);
    ++chain_dropped_;  // the rest of the chain found no connection to its host
  } else {
    release(conn);
  }
  dispatch(now);
}

void Worker::on_failure(http::Connection& conn, http::Failure failure, bool retryable) noexcept {
  std::uint32_t slot = http::Connection::slot_of(conn.tag());
  Iteration& it = iters_[slot];
  if (retryable && !it.retried && !stopping_) {
    // The server closed an idle keep-alive connection as we wrote, and the connection
    // says resending is safe (nothing written, or an idempotent method): send it again
    // on a fresh connection, once, and count it.
    it.retried = true;
    ++stats_.retries;
    const RenderedCall& call = it.variant->calls[it.call];
    conn.send(call.bytes.data(), call.bytes.size(), call.method);
    return;
  }
  --in_flight_;
  record_failure(it, failure);
  release(conn);
  dispatch(now_);
}

void Worker::record_failure(const Iteration& it, http::Failure failure) noexcept {
  // Cut off by a stop: its own kind, never a timeout (it might still have been answered).
  const metrics::ErrorKind kind = cutting_off_ ? metrics::ErrorKind::Interrupted : kind_of(failure);
  stats_.tasks[it.task].record_failure(kind, us_between(it.intended, now_));
}

void Worker::expire_overdue(Clock::time_point now) noexcept {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    http::Connection& c = *conns_[i];
    if (c.busy() && c.deadline <= now) c.expire();
  }
}

void Worker::cut_off() noexcept {
  cutting_off_ = true;
  in_dispatch_ = true;  // no new sends from the callbacks
  for (auto& c : conns_) {
    if (c->busy()) c->expire();
  }
  in_dispatch_ = false;
  cutting_off_ = false;
}

}  // namespace lp::engine
