#include "cluster/run_session.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

#include "cluster/aggregator.hpp"
#include "core/profile.hpp"
#include "engine/snapshot_builder.hpp"

namespace lp::cluster::detail {

const char* to_string(Member::State s) {
  switch (s) {
    case Member::State::Waiting: return "waiting";
    case Member::State::Running: return "running";
    case Member::State::Suspect: return "suspect";
    case Member::State::TimedOut: return "timed_out";
    case Member::State::Rejoined: return "rejoined";
    case Member::State::Done: return "done";
  }
  return "running";
}

namespace {

using namespace std::chrono_literals;
using std::chrono::duration;
using std::chrono::duration_cast;

/// An agent's lease runs this long past the last time we heard from it; silent that
/// long, it is suspect and its slots move.
constexpr double kLeaseSecs = 3.0;
constexpr auto kTimedOutAfter = 15s;  ///< the seed's agent timeout
constexpr auto kRenewEvery = 1s;
constexpr auto kLoopWait = 20ms;
/// A second's snapshot is emitted once every running agent has reported that second,
/// or this long after it at the latest.
constexpr auto kReportWait = 300ms;
constexpr auto kFinalsBound = 5s;  ///< after the end (plus timeout_ms), missing finals are given up
constexpr auto kReleaseTimeout = 2s;
constexpr auto kShardPublishEach = 200us;  ///< start_at headroom per agent for publishing the shards

std::string short_id(const std::string& id) { return id.substr(0, 8); }

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

bool live(Member::State s) {
  return s == Member::State::Waiting || s == Member::State::Running || s == Member::State::Rejoined;
}

class Session {
 public:
  Session(SessionContext& ctx, const core::Plan& plan, std::string run_id, std::vector<Member> members)
      : ctx_(ctx),
        plan_(plan),
        profile_(plan),
        run_id_(std::move(run_id)),
        m_(std::move(members)),
        book_(profile_, static_cast<std::uint32_t>(m_.size())),
        agg_(plan.tasks.size()) {
    for (const auto& t : plan.tasks) names_.push_back(t.name);
    for (std::size_t i = 0; i < m_.size(); ++i) by_id_[m_[i].id] = i;
  }

  ~Session() {
    for (auto& t : releases_) t.join();
  }

  Result<DistributedResult> run() {
    if (auto s = send_shards(); !s) {
      broadcast_stop();
      return s.error();
    }
    for (;;) {
      ctx_.inbox->wait(kLoopWait);
      const auto now = Steady::now();
      drain(now);
      if (fatal_) {
        broadcast_stop();
        return *fatal_;
      }
      apply_stop(now);
      check_liveness(now);
      if (now >= next_renew_) {
        for (std::size_t i = 0; i < m_.size(); ++i) renew(i);
        next_renew_ = now + kRenewEvery;
      }
      if (done(now)) break;
      maybe_snapshot(now);
    }
    return finish();
  }

 private:
  double rel_secs(Steady::time_point t) const { return duration<double>(t - start_).count(); }
  /// The lease as the agent computes it: the same numbers, the same arithmetic.
  double lease_secs(const Member& m) const { return (m.lease_sent_ms - m.start_at_ms) / 1000.0; }
  Steady::time_point lease_end(const Member& m) const {
    return start_ + duration_cast<Steady::duration>(duration<double>(lease_secs(m)));
  }

  Status send_shards() {
    double worst_rtt_ms = 0;
    for (const Member& m : m_) worst_rtt_ms = std::max(worst_rtt_ms, m.rtt_ms);
    const auto margin = std::max<Steady::duration>(1s, duration_cast<Steady::duration>(duration<double, std::milli>(3 * worst_rtt_ms)));
    start_ = Steady::now() + margin + kShardPublishEach * m_.size();
    start_at_ms_ = ctx_.clock.to_unix_ms(start_);
    end_ = start_ + duration_cast<Steady::duration>(duration<double>(profile_.total_secs()));
    deadline_ = end_ + std::chrono::milliseconds(plan_.settings.timeout_ms) + kFinalsBound;
    builder_.emplace(profile_, names_, start_, start_at_ms_ / 1000.0);

    const std::size_t pool = plan_.vuser_configs.size();
    const std::size_t n = m_.size();
    if (pool > 0 && pool < n) {
      ctx_.status("the pre-auth pool has " + std::to_string(pool) + " virtual user(s) for " + std::to_string(n) +
                  " agents: agents share them (agent i gets user i mod " + std::to_string(pool) + ")");
    }
    for (std::size_t i = 0; i < n; ++i) {
      Member& m = m_[i];
      Shard shard;
      shard.run_id = run_id_;
      shard.plan = plan_;
      shard.plan.vuser_configs.clear();
      if (pool >= n) {
        // Disjoint, contiguous slices, as even as can be.
        for (std::size_t u = i * pool / n; u < (i + 1) * pool / n; ++u) shard.plan.vuser_configs.push_back(plan_.vuser_configs[u]);
      } else if (pool > 0) {
        shard.plan.vuser_configs.push_back(plan_.vuser_configs[i % pool]);
      }
      shard.slot_count = static_cast<std::uint32_t>(n);
      shard.slots = {ShardSlot{static_cast<std::uint32_t>(i), 0}};
      m.start_at_ms = start_at_ms_ + m.offset_ms;
      // The clock reply is the last we heard, maybe seconds before the start when there
      // are many agents: the first lease runs from the start at the earliest, so an
      // agent is never written off before it could report.
      m.lease_sent_ms = m.start_at_ms + (std::max(0.0, rel_secs(m.last_heard)) + kLeaseSecs) * 1000.0;
      shard.start_at_unix_ms = m.start_at_ms;
      shard.lease_until_unix_ms = m.lease_sent_ms;
      if (auto s = ctx_.nats.publish(subject::shard(m.id), encode(shard)); !s) {
        return make_error(s.error().code, "cannot send " + m.id + " its shard: " + s.error().message, s.error().hint);
      }
    }
    ctx_.status("run " + short_id(run_id_) + " on " + std::to_string(n) + " agents: starting in " +
                fmt("%.3f s", duration<double>(start_ - Steady::now()).count()));
    next_renew_ = Steady::now() + kRenewEvery;
    return Ok{};
  }

  void drain(Steady::time_point now) {
    std::deque<Registration> regs;
    std::deque<metrics::StatsMessage> stats;
    std::deque<ReleaseAnswer> releases;
    {
      std::lock_guard lock(ctx_.inbox->mu);
      regs.swap(ctx_.inbox->registrations);
      stats.swap(ctx_.inbox->stats);
      releases.swap(ctx_.inbox->releases);
    }
    for (const Registration& r : regs) handle(r, now);
    for (metrics::StatsMessage& s : stats) handle(std::move(s), now);
    for (const ReleaseAnswer& a : releases) handle(a, now);
  }

  Member* member(const std::string& id) {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &m_[it->second];
  }

  void handle(const Registration& r, Steady::time_point now) {
    Member* m = member(r.agent_id);
    if (m == nullptr) return;
    if (r.run_id == run_id_ && !r.error.empty()) {
      fatal_ = make_error(ErrorCode::Unavailable, m->id + " cannot run the plan: " + r.error,
                          "every agent must reach the target; check the target URL from the agent machines");
      return;
    }
    if (r.instance != m->instance) {
      if (restarted_.insert(m->id).second) {
        ctx_.status(m->id + " restarted (a new process): it is not part of this run any more; its earlier figures stay in the totals");
      }
      return;
    }
    m->last_heard = now;
    if (r.run_id == run_id_ && r.state == metrics::AgentState::Paused) paused(index_of(*m), now, nullptr);
  }

  void handle(metrics::StatsMessage s, Steady::time_point now) {
    if (s.header.run_id != run_id_) return;  // another run's: stale, harmless
    Member* m = member(s.header.agent_id);
    if (m == nullptr) return;
    auto added = agg_.add(std::move(s));
    if (!added) {
      if (bad_stats_++ == 0) ctx_.status("ignoring stats: " + added.error().message);
      return;
    }
    if (!added->has_value()) return;  // older, repeated or partial
    const metrics::StatsHeader& h = **added;
    if (h.instance != m->instance) return;
    m->last_heard = now;
    if (m->state == Member::State::Waiting && (h.elapsed_secs > 0 || h.start_unix_ms > 0)) {
      m->state = Member::State::Running;
    }
    if (h.final) {
      m->final_seen = true;
      m->state = Member::State::Done;
      return;
    }
    if (h.state == metrics::AgentState::Paused) {
      paused(index_of(*m), now, &h);
    } else if (live(m->state)) {
      reopen_closed(index_of(*m), h, now);
    }
  }

  void handle(const ReleaseAnswer& a, Steady::time_point now) {
    Member& to = m_[a.request.to];
    to.release_pending = false;
    if (!a.error.empty()) {
      book_.release_failed(a.request);
      ctx_.status("could not take slot " + std::to_string(a.request.slot) + " back from " + m_[a.request.holder].id +
                  ": " + a.error + " (will ask again)");
      return;
    }
    const SlotBook::Adopt adopt = book_.released(a.request, a.next_index.value_or(book_.from(a.request.slot)));
    rejoined(a.request.to, adopt, now);
  }

  std::size_t index_of(const Member& m) const { return static_cast<std::size_t>(&m - m_.data()); }

  bool sending(Steady::time_point now) const { return now < end_ && !stopping_; }

  /// `i` says its lease ran out: if we had written it off, it is back; if not, its lanes
  /// closed under it (a renewal came too late) and it takes them up again.
  void paused(std::size_t i, Steady::time_point now, const metrics::StatsHeader* h) {
    Member& m = m_[i];
    if (!sending(now)) return;
    if (m.state == Member::State::Suspect || m.state == Member::State::TimedOut) {
      if (m.release_pending) return;
      auto step = book_.rejoin(static_cast<std::uint32_t>(i));
      if (auto* adopt = std::get_if<SlotBook::Adopt>(&step)) {
        rejoined(i, *adopt, now);
      } else if (auto* release = std::get_if<SlotBook::Release>(&step)) {
        m.release_pending = true;
        ctx_.status(m.id + " is back; asking " + m_[release->holder].id + " to hand slot " +
                    std::to_string(release->slot) + " back");
        ask_release(*release);
      } else {
        m.state = Member::State::Rejoined;
        renew(i);
      }
    } else if (h != nullptr) {
      reopen_closed(i, *h, now);
    }
  }

  void reopen_closed(std::size_t i, const metrics::StatsHeader& h, Steady::time_point now) {
    if (!sending(now)) return;
    for (const metrics::SlotProgress& p : h.slots) {
      if (!p.closed) continue;
      if (auto adopt = book_.closed_by_holder(static_cast<std::uint32_t>(i), p.slot, p.next_index, rel_secs(now))) {
        renew(i);
        send_adopt(*adopt, now);
      }
    }
  }

  void rejoined(std::size_t i, const SlotBook::Adopt& adopt, Steady::time_point now) {
    Member& m = m_[i];
    m.state = Member::State::Rejoined;
    renew(i);  // a fresh lease first: the adoption comes after it on the same subject
    send_adopt(adopt, now);
    ctx_.status(m.id + " rejoined: slot " + std::to_string(adopt.slot) + " from index " + std::to_string(adopt.from));
  }

  void ask_release(const SlotBook::Release& r) {
    ReleaseRequest request{run_id_, r.slot};
    const std::string holder = m_[r.holder].id;
    auto inbox = ctx_.inbox;
    NatsClient& nats = ctx_.nats;
    releases_.emplace_back([&nats, inbox, r, holder, payload = encode(request)] {
      ReleaseAnswer answer{r, std::nullopt, {}};
      auto reply = nats.request(subject::release(holder), payload, kReleaseTimeout);
      if (!reply) {
        answer.error = reply.error().message;
      } else if (auto parsed = decode_release_reply(reply->data); !parsed) {
        answer.error = parsed.error().message;
      } else if (!parsed->error.empty()) {
        answer.error = parsed->error;
      } else {
        answer.next_index = parsed->next_index;
      }
      std::lock_guard lock(inbox->mu);
      inbox->releases.push_back(std::move(answer));
      inbox->cv.notify_all();
    });
  }

  void send_adopt(const SlotBook::Adopt& a, Steady::time_point now) {
    Control c{run_id_, Control::Type::Adopt, 0, a.slot, a.from};
    ctx_.nats.publish(subject::control(m_[a.agent].id), encode(c));
    book_.adoption_sent(a, rel_secs(now));
  }

  /// A lease for `i` running kLeaseSecs past the last time we heard from it (never back).
  void renew(std::size_t i) {
    Member& m = m_[i];
    if (!live(m.state)) return;
    const double until = m.start_at_ms + (std::max(0.0, rel_secs(m.last_heard)) + kLeaseSecs) * 1000.0;
    if (!(until > m.lease_sent_ms)) return;
    m.lease_sent_ms = until;
    ctx_.nats.publish(subject::control(m.id), encode(Control{run_id_, Control::Type::Lease, until, 0, 0}));
  }

  void check_liveness(Steady::time_point now) {
    for (std::size_t i = 0; i < m_.size(); ++i) {
      Member& m = m_[i];
      if (live(m.state) && now >= lease_end(m)) {
        lose(i, now);
      } else if (m.state == Member::State::Suspect && now - m.last_heard >= kTimedOutAfter) {
        m.state = Member::State::TimedOut;
        ctx_.status(m.id + " timed out: nothing from it for " +
                    std::to_string(duration_cast<std::chrono::seconds>(kTimedOutAfter).count()) + " s");
      }
    }
  }

  void lose(std::size_t i, Steady::time_point now) {
    Member& m = m_[i];
    m.state = Member::State::Suspect;
    const std::string silent = fmt("%.1f s", duration<double>(now - m.last_heard).count());
    if (!sending(now)) {
      ctx_.status(m.id + " silent for " + silent + ": suspect");
      return;
    }
    std::vector<std::uint32_t> others;
    for (std::size_t j = 0; j < m_.size(); ++j) {
      if (j != i && live(m_[j].state)) others.push_back(static_cast<std::uint32_t>(j));
    }
    const auto adopts = book_.lose(static_cast<std::uint32_t>(i), lease_secs(m), others);
    std::string moves;
    for (const auto& a : adopts) {
      send_adopt(a, now);
      moves += (moves.empty() ? "" : ", ") + ("slot " + std::to_string(a.slot) + " to " + m_[a.agent].id + " from index " +
                                              std::to_string(a.from));
    }
    ctx_.status(m.id + " silent for " + silent + ": suspect; " +
                (others.empty() ? std::string("no agent left to take its slots: they wait for one to come back")
                                : moves));
  }

  void broadcast_stop() { ctx_.nats.publish(subject::control_all(), encode(Control{run_id_, Control::Type::Stop, 0, 0, 0})); }

  void apply_stop(Steady::time_point now) {
    const auto& o = ctx_.options;
    if (!stopping_ && o.stop != nullptr && o.stop->load()) {
      stopping_ = true;
      stopped_early_ = true;
      builder_->stopped_at(now);
      broadcast_stop();
      deadline_ = std::min(deadline_, now + duration_cast<Steady::duration>(duration<double>(o.grace_secs)) + kFinalsBound);
      ctx_.status("stopping run " + short_id(run_id_) + ": agents stop sending; in-flight requests get " +
                  fmt("%.0f s", o.grace_secs));
    }
    if (stopping_ && !stop_now_sent_ && o.stop_now != nullptr && o.stop_now->load()) {
      stop_now_sent_ = true;
      broadcast_stop();  // a second stop cuts the agents' grace short
    }
  }

  bool done(Steady::time_point now) const {
    if (now >= deadline_) return true;
    if (now < end_ && !stopping_) return false;
    return std::all_of(m_.begin(), m_.end(), [](const Member& m) { return !live(m.state) || m.final_seen; });
  }

  std::uint32_t active_workers() const {
    std::uint32_t n = 0;
    for (const Member& m : m_) {
      if (const auto* h = agg_.latest(m.id); h != nullptr && h->instance == m.instance && !h->final) n += h->active_workers;
    }
    return n;
  }

  /// Each agent's start in our clock (its own start, less its offset); nullopt until it began.
  std::vector<std::optional<double>> starts() const {
    std::vector<std::optional<double>> out;
    for (const Member& m : m_) {
      const double s = agg_.first_start_unix_ms(m.id);
      out.push_back(s > 0 ? std::optional<double>(s - m.offset_ms) : std::nullopt);
    }
    return out;
  }

  void fill_agents(metrics::Snapshot& snap, bool final) const {
    const auto begun = starts();
    std::optional<double> earliest, latest;
    for (const auto& s : begun) {
      if (!s) continue;
      earliest = earliest ? std::min(*earliest, *s) : *s;
      latest = latest ? std::max(*latest, *s) : *s;
    }
    for (std::size_t i = 0; i < m_.size(); ++i) {
      const Member& m = m_[i];
      metrics::AgentSnapshot a;
      a.id = m.id;
      a.state = to_string(m.state);
      if (final && !m.final_seen) a.state = m.state == Member::State::TimedOut ? "timed_out" : "lost";
      a.requests = agg_.requests(m.id);
      if (begun[i] && earliest) a.start_skew_ms = *begun[i] - *earliest;
      snap.agents.push_back(std::move(a));
    }
    if (earliest) snap.start_skew_ms = *latest - *earliest;
  }

  void maybe_snapshot(Steady::time_point now) {
    const auto due = start_ + tick_ * 1s;
    if (now < due) return;
    bool all_in = true;
    for (const Member& m : m_) {
      if (!live(m.state) || m.state == Member::State::Waiting) continue;
      const auto* h = agg_.latest(m.id);
      if (h == nullptr || h->instance != m.instance || h->elapsed_secs + 0.1 < double(tick_)) all_in = false;
    }
    if (!all_in && now < due + kReportWait) return;
    const auto stage = (stopping_ || now >= end_) ? engine::SnapshotBuilder::Stage::Draining
                                                  : engine::SnapshotBuilder::Stage::Sending;
    const metrics::RunStats merged = agg_.merged();
    metrics::Snapshot snap = builder_->build(merged, now, active_workers(), stage);
    fill_agents(snap, false);
    if (ctx_.options.on_snapshot) ctx_.options.on_snapshot(snap);
    if (ctx_.options.on_stats) ctx_.options.on_stats(snap, merged);
    tick_ = static_cast<std::uint64_t>(std::floor(rel_secs(now))) + 1;
  }

  Result<DistributedResult> finish() {
    DistributedResult r;
    r.stats = agg_.merged();
    r.final_snapshot = builder_->build(r.stats, Steady::now(), 0, engine::SnapshotBuilder::Stage::Done);
    fill_agents(r.final_snapshot, true);
    r.start_skew_ms = r.final_snapshot.start_skew_ms;
    r.stopped_early = stopped_early_;
    r.thresholds = metrics::evaluate_thresholds(plan_.thresholds, r.final_snapshot);
    for (std::size_t i = 0; i < m_.size(); ++i) {
      const Member& m = m_[i];
      const metrics::AgentSnapshot& row = r.final_snapshot.agents[i];
      r.agents.push_back({m.id, row.state, row.requests, row.start_skew_ms, m.offset_ms, m.rtt_ms});
      if (!m.final_seen) r.missing.push_back(m.id);
    }
    if (ctx_.options.on_snapshot) ctx_.options.on_snapshot(r.final_snapshot);
    if (ctx_.options.on_stats) ctx_.options.on_stats(r.final_snapshot, r.stats);
    std::string line = "run " + short_id(run_id_) + " done: " + std::to_string(r.final_snapshot.requests_total) +
                       " requests from " + std::to_string(m_.size()) + " agents";
    if (r.start_skew_ms) line += ", start skew " + fmt("%.3f ms", *r.start_skew_ms);
    if (!r.missing.empty()) {
      std::string names;
      for (const auto& id : r.missing) names += (names.empty() ? "" : ", ") + id;
      line += "; no final stats from " + names;
    }
    ctx_.status(line);
    return r;
  }

  SessionContext& ctx_;
  const core::Plan& plan_;
  core::Profile profile_;
  std::vector<std::string> names_;
  std::string run_id_;
  std::vector<Member> m_;
  std::map<std::string, std::size_t> by_id_;
  SlotBook book_;
  Aggregator agg_;
  Steady::time_point start_{}, end_{}, deadline_{};
  double start_at_ms_ = 0;  ///< start_ in our wall clock
  std::optional<engine::SnapshotBuilder> builder_;
  Steady::time_point next_renew_{};
  std::uint64_t tick_ = 1;
  bool stopping_ = false, stop_now_sent_ = false, stopped_early_ = false;
  std::optional<Error> fatal_;
  std::uint64_t bad_stats_ = 0;
  std::set<std::string> restarted_;
  std::vector<std::thread> releases_;
};

}  // namespace

Result<DistributedResult> run_session(SessionContext& ctx, const core::Plan& plan, const std::string& run_id,
                                      std::vector<Member> members) {
  Session session(ctx, plan, run_id, std::move(members));
  return session.run();
}

}  // namespace lp::cluster::detail
