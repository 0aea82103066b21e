#include "cluster/agent.hpp"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "cluster/messages.hpp"
#include "cluster/nats_client.hpp"
#include "cluster/wall_clock.hpp"
#include "engine/controlled_run.hpp"
#include "metrics/stats_codec.hpp"

namespace lp::cluster {
namespace {

using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kDefaultMaxPayload = 1024 * 1024;
constexpr auto kLoopWait = 50ms;
constexpr auto kStopBound = 5s;  // after a stop, in-flight requests get 2 s; this bounds the rest

std::string short_id(const std::string& run_id) { return run_id.size() > 8 ? run_id.substr(0, 8) + "\u2026" : run_id; }

std::string slots_text(const std::vector<engine::LaneProgress>& slots) {
  std::string out = "[";
  for (const auto& s : slots) {
    if (s.closed) continue;
    if (out.size() > 1) out += ", ";
    out += std::to_string(s.slot);
  }
  return out + "]";
}

std::uint64_t random_instance() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd() ^ static_cast<std::uint64_t>(Steady::now().time_since_epoch().count());
}

/// One run the agent is part of.
struct ActiveRun {
  std::string run_id;
  std::shared_ptr<engine::ControlledRun> run;
  double start_at_ms = 0;  ///< agent clock, as the shard said
  Steady::time_point start{};
  std::uint64_t seq = 0;
  Steady::time_point next_stats{};
  Steady::time_point next_register{};
  Steady::duration silent_for{};
  Steady::time_point stop_deadline = Steady::time_point::max();
  bool stop_requested = false;
  bool abandoned = false;
  bool started_logged = false;
  bool split_logged = false;
  metrics::AgentState state = metrics::AgentState::Running;
  std::string slots;  ///< as last logged
};

struct Event {
  enum class Kind : std::uint8_t { Shard, Control };
  Kind kind = Kind::Control;
  Shard shard;
  Control control;
};

// Held by shared_ptr: every subscription handler keeps the agent alive, so a handler
// finishing its last message after the loop ended never touches a destroyed agent.
class Agent : public std::enable_shared_from_this<Agent> {
 public:
  Agent(const AgentOptions& options, const std::atomic<bool>& stop)
      : o_(options), stop_(stop), clock_(options.clock_offset_ms), instance_(random_instance()) {}

  Status run() {
    if (auto valid = validate_agent_id(o_.agent_id); !valid) return valid;
    NatsOptions n;
    n.urls = o_.coordinator;
    n.token = o_.token;
    n.name = "loadpilot-agent " + o_.agent_id;
    n.retry_initial_connect = true;  // the coordinator may come later
    n.on_disconnected = [this] {
      if (!closing_.load()) log("disconnected from NATS; reconnecting");
    };
    n.on_reconnected = [this] {  // the loop logs it: nats_ may not be assigned yet
      reconnected_.store(true);
      wake();
    };
    n.on_error = [this](const Error& e) { log("NATS: " + e.message); };
    auto client = NatsClient::connect(std::move(n));
    if (!client) return std::move(client).error();
    nats_ = std::move(*client);
    if (auto s = subscribe(); !s) return s;
    log(nats_.connected() ? "connected to NATS at " + nats_.connected_url() + "; waiting for a plan"
                          : "waiting for the coordinator's NATS; will connect when it is up");
    loop();
    nats_.flush(1s);
    closing_.store(true);
    subs_.clear();
    nats_.close();
    return Ok{};
  }

 private:
  void log(const std::string& line) {
    const std::string text = "agent " + o_.agent_id + ": " + line;
    if (o_.log) {
      o_.log(text);
    } else {
      std::fprintf(stderr, "%s\n", text.c_str());
    }
  }

  void wake() { cv_.notify_all(); }

  Status subscribe() {
    auto add = [&](const std::string& subject, NatsClient::Handler h) -> Status {
      auto sub = nats_.subscribe(subject, std::move(h));
      if (!sub) return std::move(sub).error();
      subs_.push_back(std::move(*sub));
      return Ok{};
    };
    auto self = shared_from_this();
    if (auto s = add(subject::clock(o_.agent_id), [self](const NatsMessage& m) { self->on_clock(m); }); !s) return s;
    if (auto s = add(subject::shard(o_.agent_id), [self](const NatsMessage& m) { self->on_shard(m); }); !s) return s;
    if (auto s = add(subject::control(o_.agent_id), [self](const NatsMessage& m) { self->on_control(m); }); !s) {
      return s;
    }
    if (auto s = add(subject::control_all(), [self](const NatsMessage& m) { self->on_control(m); }); !s) return s;
    return add(subject::release(o_.agent_id), [self](const NatsMessage& m) { self->on_release(m); });
  }

  // Handlers run on libnats's threads: they answer or queue, never block the loop.
  void on_clock(const NatsMessage& m) {
    if (!m.reply.empty()) nats_.publish(m.reply, encode_clock_reply(clock_.now_ms()));
  }

  void on_shard(const NatsMessage& m) {
    auto shard = decode_shard(m.data);
    if (!shard) {
      log("ignoring a shard that does not parse: " + shard.error().message);
      return;
    }
    push(Event{Event::Kind::Shard, std::move(*shard), {}});
  }

  void on_control(const NatsMessage& m) {
    auto control = decode_control(m.data);
    if (!control) {
      log("ignoring a control message that does not parse: " + control.error().message);
      return;
    }
    push(Event{Event::Kind::Control, {}, std::move(*control)});
  }

  void on_release(const NatsMessage& m) {
    ReleaseReply reply;
    auto request = decode_release_request(m.data);
    std::shared_ptr<ActiveRun> active;
    {
      std::lock_guard lock(run_mu_);
      active = active_;
    }
    if (!request) {
      reply.error = request.error().message;
    } else {
      reply.run_id = request->run_id;
      reply.slot = request->slot;
      if (!active || active->run_id != request->run_id) {
        reply.error = "not in run " + request->run_id;
      } else {
        heard_.store(true);
        reply.next_index = active->run->release(request->slot);
        if (reply.next_index) {
          log("released slot " + std::to_string(request->slot) + " of run " + short_id(reply.run_id) + " at index " +
              std::to_string(*reply.next_index));
        }
      }
    }
    if (!m.reply.empty()) nats_.publish(m.reply, encode(reply));
  }

  void push(Event e) {
    {
      std::lock_guard lock(events_mu_);
      events_.push_back(std::move(e));
    }
    wake();
  }

  void loop() {
    Steady::time_point next_register = Steady::now();
    Steady::time_point last_tick = Steady::now();
    for (;;) {
      std::deque<Event> events;
      {
        std::unique_lock lock(events_mu_);
        cv_.wait_for(lock, kLoopWait, [&] { return !events_.empty() || stop_.load() || reconnected_.load(); });
        events.swap(events_);
      }
      const auto now = Steady::now();
      const auto awake = std::min<Steady::duration>(now - last_tick, 500ms);
      last_tick = now;
      for (Event& e : events) handle(e, now);
      const bool reconnected = reconnected_.exchange(false);
      if (reconnected) log("connected to NATS at " + nats_.connected_url());

      std::shared_ptr<ActiveRun> active = current();
      if (!active) {
        if (stop_.load()) break;
        if (now >= next_register || reconnected) {
          send_register(metrics::AgentState::Idle, {}, {});
          next_register = now + o_.register_interval;
        }
        continue;
      }
      if (stop_.load() && !active->stop_requested) request_stop(*active, now, "stopping: this agent was asked to exit");
      tick(*active, now, awake, reconnected);
      if (!current()) next_register = now;  // the run ended: announce at once
    }
  }

  std::shared_ptr<ActiveRun> current() {
    std::lock_guard lock(run_mu_);
    return active_;
  }

  void handle(Event& e, Steady::time_point now) {
    std::shared_ptr<ActiveRun> active = current();
    if (e.kind == Event::Kind::Shard) {
      if (active) {
        if (active->run_id != e.shard.run_id) {
          log("ignoring a shard for run " + short_id(e.shard.run_id) + ": busy with run " + short_id(active->run_id));
        }
        return;
      }
      start(e.shard, now);
      return;
    }
    const Control& c = e.control;
    if (!active || c.run_id != active->run_id) return;  // another run's: stale, harmless
    heard_.store(true);
    switch (c.type) {
      case Control::Type::Lease:
        active->run->set_lease((c.lease_until_unix_ms - active->start_at_ms) / 1000.0);
        break;
      case Control::Type::Adopt:
        active->run->adopt(c.slot, c.from_index);
        log("adopted slot " + std::to_string(c.slot) + " of run " + short_id(c.run_id) + " from index " +
            std::to_string(c.from_index));
        break;
      case Control::Type::Stop:
        if (!active->stop_requested) {
          request_stop(*active, now, "stopping run " + short_id(c.run_id) + " (coordinator's stop)");
        } else {
          active->run->stop(/*now=*/true);  // a second stop cuts the grace short
        }
        break;
    }
  }

  void start(const Shard& shard, Steady::time_point now) {
    engine::ControlOptions options;
    options.slot_count = shard.slot_count;
    options.slots.clear();
    for (const ShardSlot& s : shard.slots) options.slots.push_back({s.slot, s.from_index});
    options.start = clock_.to_steady(shard.start_at_unix_ms);
    // The same arithmetic on the same numbers as the coordinator, so both find the
    // same index where the lease ends.
    options.lease_secs = (shard.lease_until_unix_ms - shard.start_at_unix_ms) / 1000.0;
    auto run = engine::ControlledRun::start(shard.plan, options);
    if (!run) {
      log("cannot start run " + short_id(shard.run_id) + ": " + run.error().message);
      send_register(metrics::AgentState::Idle, shard.run_id, run.error().message);
      return;
    }
    auto active = std::make_shared<ActiveRun>();
    active->run_id = shard.run_id;
    active->run = std::shared_ptr<engine::ControlledRun>(std::move(*run));
    active->start_at_ms = shard.start_at_unix_ms;
    active->start = *options.start;
    active->next_stats = now;  // the first message says the shard was taken
    active->next_register = now + o_.register_interval;
    std::string slots = "[";
    for (const ShardSlot& s : shard.slots) slots += (slots.size() > 1 ? ", " : "") + std::to_string(s.slot);
    active->slots = slots + "]";
    heard_.store(true);
    char when[64];
    std::snprintf(when, sizeof when, "%.3f s", std::chrono::duration<double>(active->start - now).count());
    log("got run " + short_id(shard.run_id) + " (slots " + active->slots + " of " + std::to_string(shard.slot_count) +
        ", " + std::to_string(shard.plan.vuser_configs.size()) + " virtual users); starting in " + when);
    std::lock_guard lock(run_mu_);
    active_ = std::move(active);
  }

  void request_stop(ActiveRun& a, Steady::time_point now, const std::string& why, bool at_once = false) {
    a.run->stop(at_once);
    a.stop_requested = true;
    a.stop_deadline = now + kStopBound;
    log(why);
  }

  void tick(ActiveRun& a, Steady::time_point now, Steady::duration awake, bool reconnected) {
    if (heard_.exchange(false)) {
      a.silent_for = {};
    } else {
      a.silent_for += awake;
    }
    if (!a.abandoned && a.silent_for >= o_.abandon_after) {
      a.abandoned = true;
      request_stop(a, now,
                   "abandoning run " + short_id(a.run_id) + ": no word from the coordinator for " +
                       std::to_string(o_.abandon_after.count() / 1000) + " s",
                   /*at_once=*/true);
    }
    if (a.stop_requested && now >= a.stop_deadline) a.run->stop(/*now=*/true);
    const bool finished = a.run->finished();
    if (!finished && now < a.next_stats && !reconnected) return;

    engine::RunProgress p = a.run->progress();
    const metrics::AgentState state = p.lease_expired ? metrics::AgentState::Paused : metrics::AgentState::Running;
    const bool final = p.finished;
    send_stats(a, p, state, final, now);
    if (final) {
      a.run->join();
      log(std::string(a.abandoned ? "left" : "done with") + " run " + short_id(a.run_id) + ": " +
          std::to_string(p.stats.total().requests) + " requests; waiting for a plan");
      std::lock_guard lock(run_mu_);
      active_.reset();
      return;
    }
    const std::string slots = slots_text(p.slots);
    if (now >= a.start && (!a.started_logged || state != a.state || slots != a.slots)) {
      log(std::string(state == metrics::AgentState::Paused ? "paused (lease expired) in" : "running") + " run " +
          short_id(a.run_id) + " slots " + slots);
      a.started_logged = true;
      a.state = state;
      a.slots = slots;
    }
    if (state == metrics::AgentState::Paused && now >= a.next_register) {
      send_register(metrics::AgentState::Paused, a.run_id, {});
      a.next_register = now + o_.register_interval;
    }
    // Stats on the run's whole seconds, so every agent reports at the same moment and
    // the coordinator can merge a second as soon as the last agent's message is in.
    const auto every = o_.stats_interval;
    if (now < a.start) {
      a.next_stats = std::min(a.start, now + every);
    } else {
      const auto k = (now - a.start) / every + 1;
      a.next_stats = a.start + k * every;
    }
  }

  void send_stats(ActiveRun& a, const engine::RunProgress& p, metrics::AgentState state, bool final,
                  Steady::time_point now) {
    metrics::StatsMessage m;
    m.header.run_id = a.run_id;
    m.header.agent_id = o_.agent_id;
    m.header.instance = instance_;
    m.header.seq = ++a.seq;
    m.header.final = final;
    m.header.state = state;
    m.header.elapsed_secs = std::max(0.0, std::chrono::duration<double>(now - a.start).count());
    m.header.start_unix_ms = p.began ? clock_.to_unix_ms(*p.began) : 0;
    m.header.active_workers = p.active_workers;
    for (const auto& s : p.slots) m.header.slots.push_back({s.slot, s.next_index, s.closed});
    m.stats = metrics::to_wire(p.stats);
    const std::size_t limit = nats_.max_payload() ? nats_.max_payload() : kDefaultMaxPayload;
    auto parts = metrics::encode_stats_parts(m, limit);
    if (!parts) {
      log("cannot send stats: " + parts.error().message);
      return;
    }
    if (parts->size() > 1 && !a.split_logged) {
      a.split_logged = true;
      log("stats above the server's max_payload of " + std::to_string(limit) + " bytes: sent in " +
          std::to_string(parts->size()) + " parts");
    }
    for (const std::string& part : *parts) nats_.publish(subject::metrics(o_.agent_id), part);
  }

  void send_register(metrics::AgentState state, const std::string& run_id, const std::string& error) {
    Registration r;
    r.agent_id = o_.agent_id;
    r.instance = instance_;
    r.version = LOADPILOT_VERSION;
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    r.hostname = host;
    r.pid = ::getpid();
    r.state = state;
    r.run_id = run_id;
    r.error = error;
    nats_.publish(subject::register_all(), encode(r));
  }

  AgentOptions o_;
  const std::atomic<bool>& stop_;
  WallClock clock_;
  std::uint64_t instance_;
  NatsClient nats_;
  std::vector<NatsSubscription> subs_;
  std::atomic<bool> reconnected_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> heard_{false};  ///< something came from the coordinator for the current run

  std::mutex events_mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;

  std::mutex run_mu_;
  std::shared_ptr<ActiveRun> active_;  ///< the loop's; the release handler reads it
};

}  // namespace

std::string default_agent_id() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string id = host;
  for (char& c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '-';
  }
  if (id.empty()) id = "agent";
  if (id.size() > 100) id.resize(100);
  return id + "-" + std::to_string(::getpid());
}

Status run_agent(const AgentOptions& options, const std::atomic<bool>& stop) {
  AgentOptions o = options;
  if (o.agent_id.empty()) o.agent_id = default_agent_id();
  auto agent = std::make_shared<Agent>(o, stop);
  return agent->run();
}

}  // namespace lp::cluster
