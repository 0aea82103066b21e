#include "engine/worker.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
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

nanoseconds secs(double s) { return duration_cast<nanoseconds>(std::chrono::duration<double>(s)); }

std::uint64_t us_between(Clock::time_point from, Clock::time_point to) {
  auto d = duration_cast<microseconds>(to - from).count();
  return d > 0 ? static_cast<std::uint64_t>(d) : 0;
}

}  // namespace

Worker::Worker(const CompiledPlan& plan, WorkerConfig config, TimeSource time)
    : plan_(plan),
      config_(std::move(config)),
      time_(time),
      lease_secs_(config_.lease_secs),
      picker_(plan.weights),
      timeout_(std::chrono::milliseconds(plan.plan.settings.timeout_ms)),
      recv_buf_(new char[kRecvBufferSize]),
      free_(plan.endpoints.size()),
      open_per_endpoint_(plan.endpoints.size(), 0),
      stats_(plan.task_names.size()),
      published_(plan.task_names.size()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  idle_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  LP_CHECK(epoll_fd_ >= 0 && idle_fd_ >= 0 && wake_fd_ >= 0);  // only fails when out of file descriptors
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered in both sets: whichever wait sees it, the harvest reads it
  ev.data.u64 = kWakeTag;
  LP_CHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
  LP_CHECK(::epoll_ctl(idle_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
  // A FakeClock's time is not the kernel's, and OpenSSL reads TLS records itself.
  const double thread_rate = plan.plan.rps / std::max<std::uint32_t>(1, config_.thread_count);
  kernel_stamps_ = !time_.is_fake() && thread_rate <= kMaxStampedRate &&
                   std::none_of(plan.endpoints.begin(), plan.endpoints.end(), [](const auto& e) { return e.tls; });
  bool chains = false;
  for (const auto& task : plan.variants) {
    for (const Variant& v : task) chains = chains || v.calls.size() > 1;
  }
  may_defer_ = kernel_stamps_ && !chains;
  // Connections are created on demand but the vectors never reallocate under the loop.
  std::size_t max_slots = std::size_t{config_.max_connections} * std::max<std::size_t>(1, plan.endpoints.size());
  conns_.reserve(max_slots);
  iters_.reserve(max_slots);
  for (auto& f : free_) f.reserve(config_.max_connections);
  if (config_.slot_count == 0) config_.slot_count = 1;
  if (config_.thread_count == 0) config_.thread_count = 1;
  lanes_.reserve(std::max<std::size_t>(4, config_.slots.size()));
  for (const SlotStart& s : config_.slots) add_lane(s.slot, s.from_index, Clock::time_point::min());
}

Worker::~Worker() {
  conns_.clear();  // closes sockets before the epoll fd
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (idle_fd_ >= 0) ::close(idle_fd_);
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

void Worker::post(const Command& command) {
  {
    std::lock_guard lock(commands_mu_);
    commands_.push_back(command);
    has_commands_.store(true, std::memory_order_release);
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Worker::adopt(std::uint32_t slot, std::uint64_t from_index) {
  post({Command::Kind::Adopt, slot, from_index, 0, 0});
}

void Worker::set_lease(double until_secs) { post({Command::Kind::Lease, 0, 0, until_secs, 0}); }

void Worker::cap(std::uint32_t slot, std::uint64_t end_index) { post({Command::Kind::Cap, slot, end_index, 0, 0}); }

std::uint64_t Worker::request_freeze(std::uint32_t slot) {
  std::uint64_t ticket = 0;
  {
    std::lock_guard lock(commands_mu_);
    ticket = ++next_ticket_;
  }
  post({Command::Kind::Freeze, slot, 0, 0, ticket});
  return ticket;
}

Worker::FreezeAnswer Worker::freeze_answer(std::uint64_t ticket) const {
  std::lock_guard lock(commands_mu_);
  if (freeze_answered_ < ticket) return {};
  return {true, freeze_answer_};
}

std::optional<std::uint64_t> Worker::freeze(std::uint32_t slot, std::chrono::milliseconds timeout) {
  const std::uint64_t ticket = request_freeze(slot);
  std::unique_lock lock(commands_mu_);
  const bool answered = commands_cv_.wait_for(lock, timeout, [&] { return freeze_answered_ >= ticket || finished(); });
  if (answered && freeze_answered_ >= ticket) return freeze_answer_;
  lock.unlock();
  if (!finished()) return std::nullopt;
  // A finished worker fires nothing any more: its lanes' last positions are the answer.
  std::optional<std::uint64_t> last;
  for (const LaneProgress& p : published_lanes()) {
    if (p.slot == slot) last = std::max(last.value_or(0), p.next_index);
  }
  return last;
}

std::vector<LaneProgress> Worker::published_lanes() const {
  std::lock_guard lock(published_mu_);
  return published_lanes_;
}

std::optional<Clock::time_point> Worker::began_at() const {
  std::lock_guard lock(published_mu_);
  return published_began_;
}

void Worker::add_lane(std::uint32_t slot, std::uint64_t from_index, Clock::time_point now) {
  for (Lane& old : lanes_) {
    if (old.slot == slot && old.pacer.finished()) old.superseded = true;
  }
  const std::uint64_t slots = config_.slot_count;
  const std::uint64_t residue = slot + slots * config_.thread_index;
  Lane& lane = lanes_.emplace_back(Lane{slot, Pacer(plan_.profile, residue, slots * config_.thread_count, from_index)});
  lane.pacer.set_lease(lease_secs_);
  if (started_) {
    lane.pacer.start_at(start_);
    if (phase_ != Phase::Sending || lease_over_) {
      lane.pacer.close(now);  // too late: the run is no longer sending
    } else {
      lane.pacer.shed(now);   // adopted late: what waited past the lag bound is dropped now
    }
  }
}

void Worker::apply_commands(Clock::time_point now) {
  std::vector<Command> todo;
  {
    std::lock_guard lock(commands_mu_);
    todo.swap(commands_);
    has_commands_.store(false, std::memory_order_relaxed);
  }
  for (const Command& c : todo) {
    switch (c.kind) {
      case Command::Kind::Adopt:
        add_lane(c.slot, c.index, now);
        break;
      case Command::Kind::Lease:
        // Never backwards: a stale renewal arriving late cannot shorten nor extend
        // anything. A newer one after an expiry covers slots adopted from now on; the
        // lanes the expiry closed stay closed (others may fire them by now).
        if (c.secs > lease_secs_ || !std::isfinite(lease_secs_)) {
          lease_secs_ = c.secs;
          if (started_) lease_end_ = std::isfinite(lease_secs_) ? start_ + secs(lease_secs_) : Clock::time_point::max();
          for (Lane& lane : lanes_) lane.pacer.set_lease(lease_secs_);
          lease_over_ = false;
          lease_expired_.store(false, std::memory_order_release);
        }
        break;
      case Command::Kind::Freeze: {
        std::optional<std::uint64_t> next;
        for (Lane& lane : lanes_) {
          if (lane.slot != c.slot || lane.superseded) continue;
          lane.frozen = true;
          next = std::max(next.value_or(0), lane.pacer.next_index());
        }
        std::lock_guard lock(commands_mu_);
        freeze_answered_ = std::max(freeze_answered_, c.ticket);
        freeze_answer_ = next;
        commands_cv_.notify_all();
        break;
      }
      case Command::Kind::Cap:
        for (Lane& lane : lanes_) {
          if (lane.slot != c.slot) continue;
          lane.pacer.limit_to(c.index);
          lane.frozen = false;
        }
        break;
    }
  }
}

void Worker::expire_lease(Clock::time_point now) noexcept {
  // Exactly what the lease covered was ours: the rest of each lane belongs to whoever
  // adopts the slot from the lease's index, so it is neither sent nor counted here.
  for (Lane& lane : lanes_) lane.pacer.expire_lease();
  lease_over_ = true;
  lease_expired_.store(true, std::memory_order_release);
  lease_end_ = Clock::time_point::max();
}

void Worker::close_lanes(Clock::time_point now) noexcept {
  for (Lane& lane : lanes_) lane.pacer.close(now);
}

Worker::Lane* Worker::next_due_lane(Clock::time_point now) noexcept {
  Lane* best = nullptr;
  for (Lane& lane : lanes_) {
    if (lane.frozen || !lane.pacer.due(now)) continue;
    if (best == nullptr || lane.pacer.next_due() < best->pacer.next_due()) best = &lane;
  }
  return best;
}

void Worker::sync_counters() noexcept {
  std::uint64_t sent = 0, late = 0, dropped = 0;
  for (const Lane& lane : lanes_) {
    sent += lane.pacer.sent();
    late += lane.pacer.late();
    dropped += lane.pacer.dropped();
  }
  stats_.iterations = sent;
  stats_.late = late;
  stats_.dropped = dropped + chain_dropped_;
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
    publish_lanes();
  }
  published_epoch_.store(want, std::memory_order_release);
}

void Worker::publish_lanes() {
  published_lanes_.clear();
  for (const Lane& lane : lanes_) {
    if (!lane.superseded) published_lanes_.push_back({lane.slot, lane.pacer.next_index(), lane.pacer.finished()});
  }
  published_began_ = began_;
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
  start_ = start;
  started_ = true;
  for (Lane& lane : lanes_) lane.pacer.start_at(start);
  end_ = start + secs(plan_.profile.total_secs());  // as Pacer::end()
  if (std::isfinite(lease_secs_)) lease_end_ = start + secs(lease_secs_);
  now_ = start;
  phase_ = Phase::Sending;
}

Worker::Phase Worker::turn(Clock::time_point now) noexcept {
  now_ = now;
  if (has_commands_.load(std::memory_order_acquire)) apply_commands(now);
  apply_stop(now);
  if (phase_ == Phase::Sending) {
    // Checked before sending: a worker that wakes long after its lease ran out (the
    // process was stopped) sends nothing of what the lease no longer covers.
    if (now >= lease_end_) expire_lease(now);
    if (!first_turn_done_) {
      // A start already past (an agent whose shard came late) is caught up within the
      // lag bound, not with a burst of everything due since.
      for (Lane& lane : lanes_) lane.pacer.shed(now);
      first_turn_done_ = true;
    }
    dispatch(now);
    // The run lasts the whole profile even when its last iteration came early (0.5 rps
    // over 4 s fires at 0 s and 2 s): the elapsed time and rates then mean what they say.
    if (now >= end_) {
      close_lanes(now);  // due before the end and never sent: dropped
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
    if (phase_ == Phase::Sending) {
      for (Lane& lane : lanes_) lane.pacer.stop(now);  // already late and unsent: dropped
    }
    phase_ = Phase::Interrupting;
    stopping_ = true;
    grace_end_ = now + config_.grace;
  }
  if (level >= 2) grace_end_ = std::min(grace_end_, now);
}

Clock::time_point Worker::next_send() const noexcept {
  Clock::time_point first = Clock::time_point::max();
  for (const Lane& lane : lanes_) {
    if (!lane.frozen) first = std::min(first, lane.pacer.next_due());
  }
  return first;
}

Clock::time_point Worker::wake_at(Clock::time_point now) const noexcept {
  Clock::time_point until = now + kMaxSleep;
  // The scan for timeouts runs at any turn past next_timeout_scan_; the loop wakes for
  // it alone only when nothing else woke it for another interval (at a fixed rate the
  // sends do), so it adds no wake-up of its own.
  if (in_flight_ > 0) until = std::min(until, next_timeout_scan_ + kTimeoutScanEvery);
  if (phase_ == Phase::Sending) {
    until = std::min({until, end_, lease_end_});
    if (!starved_) until = std::min(until, next_send());  // starved: a response frees a connection
  } else if (phase_ == Phase::Interrupting) {
    until = std::min(until, grace_end_);
  }
  return std::max(until, now);
}

bool Worker::all_written() noexcept {
  if (unwritten_ == 0) return true;
  unwritten_ = 0;  // rare (a new connection, a short write): count again
  for (const auto& c : conns_) unwritten_ += c->busy() && c->state() != http::Connection::State::Reading;
  return unwritten_ == 0;
}

bool Worker::defers_responses(std::chrono::nanoseconds wait) noexcept {
  // A connect or a short write needs its event now: the request is not on the wire yet.
  // Starved: a response is what frees a connection for what is due.
  return may_defer_ && phase_ == Phase::Sending && !starved_ && wait <= kMaxDeferral && all_written();
}

void Worker::poll(std::chrono::nanoseconds wait) noexcept {
  epoll_event events[kMaxEvents];
  int n = 0;
  if (defers_responses(wait)) {
    // At a steady rate every request would cost two wake-ups, one to send it and one
    // for its response. Sleep until the next send instead, on a set that only control
    // commands can end, then take whatever arrived meanwhile: each response keeps its
    // arrival time (the kernel's stamp), and its connection was not needed before.
    const int woken = wait_for_events(idle_fd_, events, 1, wait);
    if (woken == 0) {
      // The wait ran out: a send is due. It goes first; the responses can wait the few
      // µs their reading takes (their arrival is stamped), the schedule cannot.
      now_ = time_.now();
      dispatch(now_);
    }
    if (in_flight_ > 0 || woken > 0) n = wait_for_events(epoll_fd_, events, kMaxEvents, std::chrono::nanoseconds(0));
  } else {
    n = wait_for_events(epoll_fd_, events, kMaxEvents, wait);
  }
  if (n <= 0) return;
  // One clock read per batch: every response in it was complete when epoll returned.
  now_ = time_.now();
  if (kernel_stamps_) {
    timespec real{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    real_minus_steady_ns_ = std::int64_t{real.tv_sec} * 1'000'000'000 + real.tv_nsec -
                            std::chrono::duration_cast<nanoseconds>(now_.time_since_epoch()).count();
  }
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
    publish_lanes();
  }
  published_epoch_.store(publish_requested_.load(std::memory_order_acquire), std::memory_order_release);
  {
    std::lock_guard lock(commands_mu_);  // a freeze() waiting on this worker sees it finish
    finished_.store(true, std::memory_order_release);
  }
  commands_cv_.notify_all();
}

void Worker::dispatch(Clock::time_point now) noexcept {
  if (in_dispatch_ || phase_ != Phase::Sending) return;  // in_dispatch_: a callback inside launch()
  // A stop or the lease's end takes effect at the next turn(); a batch of responses read
  // before it (poll, on_response) sends nothing meanwhile.
  if (now >= lease_end_ || stop_level_.load(std::memory_order_relaxed) != 0) return;
  in_dispatch_ = true;
  starved_ = false;
  const std::size_t users = plan_.vuser_count();
  const std::uint64_t slots = config_.slot_count;
  // What is due within kSendAhead goes now: the wake-up this turn paid for serves it.
  while (Lane* lane = next_due_lane(now + kSendAhead)) {
    if (next_task_ == SIZE_MAX) next_task_ = picker_.next();
    // Users rotate along the slot's own sequence (k / S), so an agent's slot walks
    // through every user of its slice even when S and the slice size share a factor.
    const Variant& v = plan_.variants[next_task_][(lane->pacer.next_index() / slots) % users];
    http::Connection* conn = acquire(v.calls.front().endpoint);
    if (!conn) {
      // Every connection is busy. Due iterations wait with their due times (the wait
      // shows in their latency), within the Pacer's lag bound; older ones are dropped.
      starved_ = false;
      for (Lane& l : lanes_) {
        if (l.frozen) continue;
        l.pacer.shed(now);
        starved_ = starved_ || l.pacer.due(now);
      }
      break;
    }
    Iteration it;
    it.variant = &v;
    it.task = static_cast<std::uint32_t>(next_task_);
    const Clock::time_point due = lane->pacer.take(now);
    next_task_ = SIZE_MAX;
    // Read per send, not once per turn: the sends of one turn go out one after another.
    const Clock::time_point sent = time_.now();
    // The start, moved by the first send's lateness (sent ahead: on time).
    if (!began_) began_ = start_ + std::max(sent - due, Clock::duration::zero());
    // `now` is never ahead of the clock (the turn's or the batch's reading), so sent -
    // due >= -kSendAhead: nothing goes more than the bound early.
    if (sent >= due) {
      it.intended = due;
      stats_.send_lag.record(us_between(due, sent));
    } else {
      it.intended = sent;  // its wait starts when it is sent
      stats_.send_early.record(us_between(sent, due));
    }
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
  conns_.back()->set_rx_timestamps(kernel_stamps_);
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
  unwritten_ += conn.busy() && conn.state() != http::Connection::State::Reading;
}

Clock::time_point Worker::arrival_of(const http::Connection& conn) const noexcept {
  const std::int64_t stamp = conn.rx_stamp_ns();
  if (!kernel_stamps_ || stamp == 0) return now_;
  const Clock::time_point at{std::chrono::duration_cast<Clock::duration>(nanoseconds(stamp - real_minus_steady_ns_))};
  // The kernel stamps with the wall clock; a step of it (NTP, an operator) between the
  // stamp and our reading of both clocks must not put an arrival before its send or
  // after we read it.
  return std::clamp(at, std::min(conn.write_started(), now_), now_);
}

void Worker::on_response(http::Connection& conn, const http::ResponseParser& response) noexcept {
  const Clock::time_point arrived = arrival_of(conn);
  std::uint32_t slot = http::Connection::slot_of(conn.tag());
  Iteration& it = iters_[slot];
  --in_flight_;
  metrics::TaskStats& ts = stats_.tasks[it.task];
  std::uint64_t latency = us_between(it.intended, arrived);
  std::uint64_t service = us_between(conn.write_started(), arrived);
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
    next.intended = arrived;  // the next call of a chain is due when the previous one ends
    const RenderedCall& call = next.variant->calls[next.call];
    if (plan_.endpoints.data() + call.endpoint == &conn.endpoint()) return launch(conn, next, now_);
    release(conn);
    if (http::Connection* other = acquire(call.endpoint)) return launch(*other, next, now_);
    ++chain_dropped_;  // the rest of the chain found no connection to its host
  } else {
    release(conn);
  }
  dispatch(now_);
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
    unwritten_ += conn.busy() && conn.state() != http::Connection::State::Reading;
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
