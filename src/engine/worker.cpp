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

Worker::Worker(const CompiledPlan& plan, WorkerConfig config)
    : plan_(plan),
      config_(config),
      schedule_(plan.profile, config.residue, config.stride),
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

void Worker::request_stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
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

void Worker::publish() {
  std::uint64_t want = publish_requested_.load(std::memory_order_acquire);
  if (want == published_epoch_.load(std::memory_order_relaxed)) return;
  std::uint64_t in_flight = 0, open = 0;
  for (const auto& c : conns_) {
    in_flight += c->busy();
    open += c->open();
  }
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
  start_ = start;
  const auto profile_end = start_ + duration_cast<nanoseconds>(std::chrono::duration<double>(plan_.profile.total_secs()));
  Clock::time_point drain_deadline = Clock::time_point::max();
  epoll_event events[kMaxEvents];

  for (;;) {
    Clock::time_point now = Clock::now();
    if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) {
      stopping_ = true;
      drain_deadline = now + config_.drain;
    }
    if (!stopping_) dispatch(now);
    if (!stopping_ && now >= profile_end && !schedule_.exhausted()) {
      stats_.dropped += schedule_.drop_rest();  // the profile is over: late ones are not sent
    }
    if (now >= next_timeout_scan_) {
      expire_overdue(now);
      next_timeout_scan_ = now + kTimeoutScanEvery;
    }
    publish();

    bool sending_done = stopping_ || schedule_.exhausted();
    std::size_t in_flight = in_flight_;
    if (sending_done) {
      if (!stopping_ && drain_deadline == Clock::time_point::max()) {
        drain_deadline = std::max(now, profile_end) + config_.drain;
      }
      // The run lasts the whole profile even when its last iteration came early (0.5 rps
      // over 4 s fires at 0 s and 2 s): the elapsed time and rates then mean what they say.
      if (in_flight == 0 && (stopping_ || now >= profile_end)) break;
      if (now >= drain_deadline) {
        expire_all();  // still unanswered: counted as timeouts, never silently forgotten
        break;
      }
    }

    Clock::time_point until = now + kMaxSleep;
    if (in_flight > 0) until = std::min(until, next_timeout_scan_);
    if (sending_done) until = std::min(until, in_flight ? drain_deadline : std::max(now, profile_end));
    if (!sending_done && !starved_) {  // starved: a response (an event) frees a connection
      auto due = start_ + duration_cast<nanoseconds>(std::chrono::duration<double>(schedule_.next_due()));
      until = std::min(until, due);
    }
    int n = wait_for_events(epoll_fd_, events, kMaxEvents, until - now);
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

  for (auto& c : conns_) c->close();
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
  if (in_dispatch_) return;  // a callback inside launch(): the outer loop goes on
  in_dispatch_ = true;
  starved_ = false;
  double t = std::chrono::duration<double>(now - start_).count();
  while (!schedule_.exhausted() && schedule_.next_due() <= t) {
    if (next_task_ == SIZE_MAX) next_task_ = picker_.next();
    std::size_t users = plan_.vuser_count();
    const Variant& v = plan_.variants[next_task_][schedule_.next_index() % users];
    http::Connection* conn = acquire(v.calls.front().endpoint);
    if (!conn) {
      // Every connection is busy. Due iterations wait, keeping their due times, for at
      // most kMaxLagSecs; older ones are dropped and counted. Never sent late quietly,
      // never queued without limit.
      stats_.dropped += schedule_.drop_due_before(t - kMaxLagSecs);
      starved_ = true;
      break;
    }
    auto intended = start_ + duration_cast<nanoseconds>(std::chrono::duration<double>(schedule_.next_due()));
    if (now - intended >= metrics::kLateAfter) ++stats_.late;
    ++stats_.iterations;
    schedule_.advance();
    Iteration it;
    it.variant = &v;
    it.task = static_cast<std::uint32_t>(next_task_);
    it.intended = intended;
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
  Clock::time_point now = Clock::now();
  std::uint32_t slot = http::Connection::slot_of(conn.tag());
  Iteration& it = iters_[slot];
  --in_flight_;
  metrics::TaskStats& ts = stats_.tasks[it.task];
  std::uint64_t latency = us_between(it.intended, now);
  std::uint64_t service = us_between(conn.write_started(), now);
  int status = response.status();
  if (status >= 400) {
    ts.record_error(status >= 500 ? metrics::ErrorKind::Http5xx : metrics::ErrorKind::Http4xx);
    ts.latency.record(latency);
    ts.service.record(service);
  } else {
    ts.record_ok(latency, service);
  }

  if (it.call + 1 < it.variant->calls.size()) {
    Iteration next = it;
    ++next.call;
    next.retried = false;
    next.intended = now;  // the next call of a chain is due when the previous one ends
    const RenderedCall& call = next.variant->calls[next.call];
    if (plan_.endpoints.data() + call.endpoint == &conn.endpoint()) return launch(conn, next, now);
    release(conn);
    if (http::Connection* other = acquire(call.endpoint)) return launch(*other, next, now);
    ++stats_.dropped;  // the rest of the chain found no connection to its host
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
  stats_.tasks[it.task].record_error(kind_of(failure));
  release(conn);
  dispatch(Clock::now());
}

void Worker::expire_overdue(Clock::time_point now) noexcept {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    http::Connection& c = *conns_[i];
    if (c.busy() && c.deadline <= now) c.expire();
  }
}

void Worker::expire_all() noexcept {
  bool was = stopping_;
  stopping_ = true;  // no retries, no new sends from the callbacks
  in_dispatch_ = true;
  for (auto& c : conns_) {
    if (c->busy()) c->expire();
  }
  in_dispatch_ = false;
  stopping_ = was;
}

}  // namespace lp::engine
