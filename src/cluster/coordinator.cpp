#include "cluster/coordinator.hpp"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "broker/broker.hpp"
#include "cluster/run_session.hpp"

namespace lp::cluster {

namespace {

using namespace std::chrono_literals;
using detail::Known;
using detail::Member;
using detail::Steady;

constexpr int kClockSamples = 5;
constexpr auto kClockTimeout = 2s;
constexpr std::size_t kClockThreads = 16;
/// A registration counts while fresher than this: agents re-announce every 3 s.
constexpr auto kRegistrationFresh = 7s;
constexpr auto kWaitingLineEvery = 5s;

std::string random_run_id() {
  std::random_device rd;
  std::mt19937_64 rng((std::uint64_t{rd()} << 32) ^ rd());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// The first few names, and how many more: a line stays readable with 1,000 agents.
std::string join_some(const std::vector<std::string>& items, std::size_t shown = 8) {
  if (items.size() <= shown + 1) return join(items);
  std::vector<std::string> head(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(shown));
  return join(head) + " and " + std::to_string(items.size() - shown) + " more";
}

}  // namespace

struct Coordinator::Impl {
  CoordinatorOptions options;
  WallClock clock;
  broker::Broker broker;
  bool broker_running = false;
  NatsClient nats;
  std::vector<NatsSubscription> subs;
  std::shared_ptr<detail::Inbox> inbox = std::make_shared<detail::Inbox>();
  bool connected = false;
  std::atomic<bool> closing{false};  ///< quiet: the disconnect of our own close is not news
  std::string next_run_id;           ///< the next run's id, when the caller chose it

  void status(const std::string& line) {
    if (options.on_status) {
      options.on_status(line);
    } else {
      std::fprintf(stderr, "loadpilot-coordinator: %s\n", line.c_str());
    }
  }

  bool stop_requested() const { return options.stop != nullptr && options.stop->load(); }

  /// A copy of what is known of every agent; no run yet, so queued messages are stale.
  std::map<std::string, Known> known() {
    std::lock_guard lock(inbox->mu);
    inbox->registrations.clear();
    inbox->stats.clear();
    inbox->releases.clear();
    return inbox->registry;
  }

  /// Idle agents heard from recently, in the order they first came.
  std::vector<Known> ready(const std::map<std::string, Known>& known) const {
    const auto now = Steady::now();
    std::vector<Known> out;
    for (const auto& [id, k] : known) {
      const bool expected = options.expected_ids.empty() ||
                            std::find(options.expected_ids.begin(), options.expected_ids.end(), id) !=
                                options.expected_ids.end();
      if (expected && k.registration.state == metrics::AgentState::Idle && now - k.seen < kRegistrationFresh) {
        out.push_back(k);
      }
    }
    // Agents in the order they came; expected ones (local agents) in their own order,
    // so agent-i gets slot i.
    auto rank = [&](const Known& k) -> std::uint64_t {
      const auto& ids = options.expected_ids;
      const auto at = std::find(ids.begin(), ids.end(), k.registration.agent_id);
      return at == ids.end() ? k.order : static_cast<std::uint64_t>(at - ids.begin());
    };
    std::sort(out.begin(), out.end(), [&](const Known& a, const Known& b) { return rank(a) < rank(b); });
    return out;
  }

  Result<std::vector<Member>> wait_for_agents() {
    const auto deadline = Steady::now() + options.wait_for_agents;
    std::string last_line;
    auto last_print = Steady::time_point{};
    for (;;) {
      const auto all = known();
      const auto ready_now = ready(all);
      std::vector<std::string> ids;
      for (const Known& k : ready_now) ids.push_back(k.registration.agent_id);
      if (ids.size() >= options.agents) {
        std::vector<Member> members;
        for (std::size_t i = 0; i < options.agents; ++i) {
          Member m;
          m.id = ready_now[i].registration.agent_id;
          m.instance = ready_now[i].registration.instance;
          members.push_back(std::move(m));
        }
        ids.resize(options.agents);
        status("agents ready: " + std::to_string(options.agents) + "/" + std::to_string(options.agents) + " (" +
               join_some(ids) + ")");
        return members;
      }
      const std::string line = "waiting for agents: " + std::to_string(ids.size()) + "/" +
                               std::to_string(options.agents) + (ids.empty() ? "" : " (" + join_some(ids) + ")");
      // On every change, at most once a second (1,000 agents arrive in a burst), and
      // every 5 s while nothing changes.
      const auto since = Steady::now() - last_print;
      if ((line != last_line && since >= 1s) || since >= kWaitingLineEvery) {
        status(line);
        last_line = line;
        last_print = Steady::now();
      }
      if (options.agents_failed) {
        if (auto why = options.agents_failed()) return make_error(ErrorCode::Unavailable, *why);
      }
      if (stop_requested()) return make_error(ErrorCode::Unavailable, "stopped while waiting for agents");
      if (Steady::now() >= deadline) return timeout_error(ids, all);
      detail::Inbox& in = *inbox;
      in.wait(100ms);
    }
  }

  Error timeout_error(const std::vector<std::string>& came, const std::map<std::string, Known>& known) const {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(options.wait_for_agents).count();
    std::string message = "only " + std::to_string(came.size()) + " of " + std::to_string(options.agents) +
                          " agents registered within " + std::to_string(secs) + " s";
    message += came.empty() ? ": none came" : ": " + join_some(came) + " came";
    std::vector<std::string> missing;
    for (const auto& id : options.expected_ids) {
      if (std::find(came.begin(), came.end(), id) == came.end()) missing.push_back(id);
    }
    if (!missing.empty()) message += "; " + join_some(missing) + " did not";
    std::vector<std::string> busy;
    for (const auto& [id, k] : known) {
      if (k.registration.state != metrics::AgentState::Idle && Steady::now() - k.seen < kRegistrationFresh) {
        busy.push_back(id + " (still in run " + k.registration.run_id + ")");
      }
    }
    if (!busy.empty()) message += "; busy: " + join(busy);
    return make_error(ErrorCode::Unavailable, message,
                      "start the missing agents (loadpilot-agent --coordinator " + agent_url() +
                          " --agent-id ID) with the same token, or lower the agent count");
  }

  Status measure_clocks(std::vector<Member>& members) {
    std::atomic<std::size_t> next{0};
    std::mutex errors_mu;
    std::vector<std::string> errors;
    auto work = [&] {
      for (std::size_t i = next++; i < members.size(); i = next++) {
        Member& m = members[i];
        std::optional<double> best_rtt;
        for (int s = 0; s < kClockSamples; ++s) {
          const double t_send = clock.now_ms();
          auto reply = nats.request(subject::clock(m.id), "{}", kClockTimeout);
          const double t_recv = clock.now_ms();
          auto agent_ms = reply ? decode_clock_reply(reply->data) : Result<double>(reply.error());
          if (!agent_ms) {
            std::lock_guard lock(errors_mu);
            errors.push_back(m.id + " did not answer its clock request: " + agent_ms.error().message);
            break;
          }
          const double rtt = t_recv - t_send;
          if (!best_rtt || rtt < *best_rtt) {
            best_rtt = rtt;
            m.offset_ms = *agent_ms - (t_send + t_recv) / 2;
            m.rtt_ms = rtt;
          }
        }
        m.last_heard = Steady::now();
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < std::min(kClockThreads, members.size()); ++t) threads.emplace_back(work);
    for (auto& t : threads) t.join();
    if (!errors.empty()) return make_error(ErrorCode::Unavailable, errors.front(), "is that agent still running?");
    if (members.size() <= 8) {
      for (const Member& m : members) {
        char line[160];
        std::snprintf(line, sizeof line, "%s: clock offset %+.3f ms, round trip %.3f ms", m.id.c_str(), m.offset_ms,
                      m.rtt_ms);
        status(line);
      }
    } else {
      double worst = 0, lo = 0, hi = 0;
      for (const Member& m : members) {
        worst = std::max(worst, m.rtt_ms);
        lo = std::min(lo, m.offset_ms);
        hi = std::max(hi, m.offset_ms);
      }
      char line[200];
      std::snprintf(line, sizeof line, "clocks of %zu agents measured: offsets %+.3f .. %+.3f ms, worst round trip %.3f ms",
                    members.size(), lo, hi, worst);
      status(line);
    }
    return Ok{};
  }

  std::string agent_url() const {
    if (!options.nats_urls.empty()) return options.nats_urls.front();
    return broker_running ? broker.url() : std::string();
  }
};

Coordinator::Coordinator(CoordinatorOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Coordinator::~Coordinator() {
  impl_->closing.store(true);
  impl_->subs.clear();
  impl_->nats.close();
  impl_->broker.stop();
}

Status Coordinator::connect() {
  Impl& d = *impl_;
  if (d.options.agents == 0) return make_error(ErrorCode::Invalid, "the agent count must be at least 1");
  std::vector<std::string> urls = d.options.nats_urls;
  if (urls.empty()) {
    broker::BrokerOptions b;
    b.bind_addr = d.options.broker_addr;
    b.port = d.options.broker_port;
    b.token = d.options.token;
    b.thread_init = [] { ::pthread_setname_np(::pthread_self(), "lp-broker"); };
    // A connection per agent: 1,000 agents need more descriptors than the usual soft limit.
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    if (auto s = d.broker.start(b); !s) return s;
    d.broker_running = true;
    urls = {d.broker.url()};
    d.status("embedded NATS broker listening on " + d.options.broker_addr + ":" + std::to_string(d.broker.port()));
  }
  NatsOptions n;
  n.urls = urls;
  n.token = d.options.token;
  n.name = "loadpilot-coordinator";
  n.on_disconnected = [&d] {
    if (!d.closing.load()) d.status("disconnected from NATS; reconnecting");
  };
  n.on_reconnected = [&d] {
    if (!d.closing.load()) d.status("reconnected to NATS");
  };
  auto client = NatsClient::connect(std::move(n));
  if (!client) return std::move(client).error();
  d.nats = std::move(*client);

  auto inbox = d.inbox;
  auto reg = d.nats.subscribe(subject::register_all(), [inbox](const NatsMessage& m) {
    auto r = decode_registration(m.data);
    std::lock_guard lock(inbox->mu);
    if (r) {
      auto [it, fresh] = inbox->registry.try_emplace(r->agent_id);
      if (fresh) it->second.order = ++inbox->registered;
      it->second.registration = *r;
      it->second.seen = Steady::now();
      inbox->registrations.push_back(std::move(*r));
    } else {
      ++inbox->bad_messages;
      inbox->last_bad = r.error().message;
    }
    inbox->cv.notify_all();
  });
  if (!reg) return std::move(reg).error();
  auto stats = d.nats.subscribe(subject::metrics_all(), [inbox](const NatsMessage& m) {
    auto s = metrics::decode_stats(m.data);  // on this thread, not the loop's
    std::lock_guard lock(inbox->mu);
    if (s) {
      inbox->stats.push_back(std::move(*s));
    } else {
      ++inbox->bad_messages;
      inbox->last_bad = m.subject + ": " + s.error().message;
    }
    inbox->cv.notify_all();
  });
  if (!stats) return std::move(stats).error();
  d.subs.push_back(std::move(*reg));
  d.subs.push_back(std::move(*stats));
  d.connected = true;
  return d.nats.flush(5s);
}

std::string Coordinator::agent_url() const { return impl_->agent_url(); }

std::vector<std::string> Coordinator::idle_agents() const {
  std::map<std::string, Known> copy;
  {
    std::lock_guard lock(impl_->inbox->mu);
    copy = impl_->inbox->registry;  // a copy: the queues belong to a run in progress
  }
  std::vector<std::string> ids;
  for (const Known& k : impl_->ready(copy)) ids.push_back(k.registration.agent_id);
  return ids;
}

Result<DistributedResult> Coordinator::run(const core::Plan& plan, std::uint32_t agents, const std::string& run_id) {
  if (agents == 0) return make_error(ErrorCode::Invalid, "the agent count must be at least 1");
  impl_->options.agents = agents;
  impl_->next_run_id = run_id;
  return run(plan);
}

Result<DistributedResult> Coordinator::run(const core::Plan& plan) {
  Impl& d = *impl_;
  if (!d.connected) {
    if (auto s = connect(); !s) return s.error();
  }
  auto members = d.wait_for_agents();
  if (!members) return std::move(members).error();
  {
    // Their idle announcements are spent: idle_agents() does not offer them during the run.
    std::lock_guard lock(d.inbox->mu);
    for (const Member& m : *members) d.inbox->registry[m.id].seen = {};
  }
  if (auto s = d.measure_clocks(*members); !s) return s.error();
  detail::SessionContext ctx{d.nats, d.inbox, d.options, d.clock, [&d](const std::string& s) { d.status(s); }};
  const auto sharded = Steady::now();
  std::string run_id = d.next_run_id.empty() ? random_run_id() : d.next_run_id;
  d.next_run_id.clear();
  auto result = detail::run_session(ctx, plan, run_id, std::move(*members));
  {
    // What agents said before the run is stale; they announce again once idle.
    std::lock_guard lock(d.inbox->mu);
    for (auto& [id, k] : d.inbox->registry) {
      if (k.seen < sharded) k.seen = {};
    }
  }
  return result;
}

}  // namespace lp::cluster
