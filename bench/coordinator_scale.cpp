// The coordinator at scale: 1,000 simulated agents against one loadpilot-coordinator
// (its embedded broker included), each sending per-task cumulative stats every second.
//
//   cmake --build build --target coordinator_scale && build/bin/coordinator_scale [--agents N] [--seconds S]
//
// The agents are light: raw NATS-protocol sockets in this process (one epoll loop), doing
// what loadpilot-agent does on the wire — register, answer the clock requests, take the
// shard, then on every whole second of the run publish binary cumulative stats (5 tasks,
// histograms that fill as a real run's do) and a final one — but firing no HTTP. The
// coordinator is the real binary, `--external-agents N`, with a plan on stdin.
//
// Measured: the coordinator process's CPU (utime + stime from /proc, per thread: main loop,
// broker, the rest) over the steady part of the run, and for every second the delay from
// the moment the last agent's stats for it were written to the moment the merged snapshot
// line for it came out on the coordinator's stdout.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/stats_codec.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Args {
  int agents = 1000;
  int seconds = 30;
  int tasks = 5;
  int samples_per_second = 100;  ///< per agent, over its tasks: a 100,000 rps run over 1,000 agents
  std::string bin = "build/bin";
};

double wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// utime + stime in seconds of a process or one of its threads (/proc/<pid>[/task/<tid>]/stat).
double cpu_of(const std::string& stat_path, std::string* comm = nullptr) {
  std::ifstream in(stat_path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stat.empty()) return 0;
  const auto open = stat.find('('), close = stat.rfind(')');
  if (comm) *comm = stat.substr(open + 1, close - open - 1);
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// CPU seconds per thread group of `pid`: "main" (the loop), "lp-broker", "other".
std::map<std::string, double> cpu_by_thread(pid_t pid) {
  std::map<std::string, double> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string comm;
    const double s = cpu_of(dir + "/" + e->d_name + "/stat", &comm);
    const std::string group = std::to_string(pid) == e->d_name ? "main" : (comm == "lp-broker" ? "lp-broker" : "other");
    out[group] += s;
  }
  ::closedir(d);
  return out;
}

struct Agent {
  int fd = -1;
  std::string id;
  std::uint64_t instance = 0;
  std::string in, out;  ///< bytes read not parsed yet; bytes to write
  bool sharded = false;
  std::string run_id;
  Clock::time_point start{};
  std::uint64_t seq = 0;
  bool final_sent = false;
};

class Sim {
 public:
  explicit Sim(const Args& a) : a_(a), cumulative_(static_cast<std::size_t>(a.tasks)) {
    wire_ = lp::metrics::to_wire(cumulative_);
  }

  int run() {
    const std::uint16_t port = free_port();
    if (!spawn_coordinator(port)) return 1;
    ep_ = ::epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, out_fd_, &ev);
    if (!connect_all(port)) return 1;
    std::fprintf(stderr, "%d agents connected; waiting for shards\n", a_.agents);
    const auto give_up = Clock::now() + std::chrono::seconds(a_.seconds + 120);
    auto next_register = Clock::now();
    while (Clock::now() < give_up && !coordinator_done_) {
      const auto now = Clock::now();
      if (now >= next_register) {
        for (auto& ag : agents_) {
          if (!ag.sharded) register_agent(ag);
        }
        next_register = now + 3s;
      }
      maybe_send_stats(now);
      flush_all();
      epoll_event events[256];
      const int n = ::epoll_wait(ep_, events, 256, 5);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == UINT64_MAX) {
          read_snapshots();
        } else {
          Agent& ag = agents_[events[i].data.u64];
          if (events[i].events & EPOLLIN) read_agent(ag);
          if (events[i].events & EPOLLOUT) flush(ag);
        }
      }
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    report();
    return 0;
  }

 private:
  bool spawn_coordinator(std::uint16_t port) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      const std::string bin = a_.bin + "/loadpilot-coordinator";
      const std::string agents = std::to_string(a_.agents);
      const std::string addr = "127.0.0.1:" + std::to_string(port);
      const int quiet = ::open("/dev/null", O_WRONLY);
      if (std::getenv("SCALE_VERBOSE") == nullptr) ::dup2(quiet, 2);
      ::execl(bin.c_str(), bin.c_str(), "--external-agents", agents.c_str(), "--broker-addr", addr.c_str(),
              "--wait-for-agents", "120s", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    nlohmann::json plan = {{"name", "scale"}, {"rps", 100'000}, {"duration_secs", a_.seconds}, {"ramp_up_secs", 0},
                           {"mode", "constant"}, {"target_url", "http://127.0.0.1:9"}, {"tasks", nlohmann::json::array()}};
    for (int t = 0; t < a_.tasks; ++t) plan["tasks"].push_back({{"name", "task" + std::to_string(t)}, {"url", "/t"}});
    const std::string text = plan.dump();
    [[maybe_unused]] auto w = ::write(in[1], text.data(), text.size());
    ::close(in[1]);
    out_fd_ = out[0];
    ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    return true;
  }

  bool connect_all(std::uint16_t port) {
    agents_.resize(static_cast<std::size_t>(a_.agents));
    std::mt19937_64 rng(42);
    const auto deadline = Clock::now() + 10s;
    for (int i = 0; i < a_.agents; ++i) {
      Agent& ag = agents_[static_cast<std::size_t>(i)];
      ag.id = "sim-" + std::to_string(i);
      ag.instance = rng();
      for (;;) {
        ag.fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(ag.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
        ::close(ag.fd);
        if (Clock::now() > deadline) {
          std::fprintf(stderr, "cannot connect to the coordinator's broker on %u\n", port);
          return false;
        }
        ::usleep(20'000);  // the coordinator is still starting its broker
      }
      int one = 1;
      ::setsockopt(ag.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(ag.fd, F_SETFL, O_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      ev.data.u64 = static_cast<std::uint64_t>(i);
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, ag.fd, &ev);
      ag.out += "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"name\":\"" +
                ag.id + "\"}\r\nPING\r\n";
      ag.out += "SUB loadpilot.clock." + ag.id + " 1\r\nSUB loadpilot.shard." + ag.id + " 2\r\nSUB loadpilot.control." +
                ag.id + " 3\r\nSUB loadpilot.control 4\r\n";
      flush(ag);
    }
    return true;
  }

  void publish(Agent& ag, const std::string& subject, const std::string& payload) {
    ag.out += "PUB " + subject + " " + std::to_string(payload.size()) + "\r\n";
    ag.out += payload;
    ag.out += "\r\n";
  }

  void register_agent(Agent& ag) {
    publish(ag, "loadpilot.register",
            nlohmann::json({{"agent_id", ag.id}, {"instance", ag.instance}, {"version", "sim"}, {"state", "idle"}}).dump());
  }

  void flush(Agent& ag) {
    while (!ag.out.empty()) {
      const ssize_t n = ::send(ag.fd, ag.out.data(), ag.out.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // EAGAIN: the writable edge comes back
      ag.out.erase(0, static_cast<std::size_t>(n));
    }
  }

  void flush_all() {
    for (auto& ag : agents_) {
      if (!ag.out.empty()) flush(ag);
    }
  }

  void read_agent(Agent& ag) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(ag.fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      ag.in.append(buf, static_cast<std::size_t>(n));
    }
    for (;;) {
      const auto eol = ag.in.find("\r\n");
      if (eol == std::string::npos) return;
      const std::string line = ag.in.substr(0, eol);
      if (line.rfind("MSG ", 0) == 0) {
        std::istringstream parts(line.substr(4));
        std::vector<std::string> f;
        for (std::string x; parts >> x;) f.push_back(x);
        const std::size_t size = std::stoul(f.back());
        if (ag.in.size() < eol + 2 + size + 2) return;  // the payload is not all here yet
        const std::string payload = ag.in.substr(eol + 2, size);
        ag.in.erase(0, eol + 2 + size + 2);
        on_message(ag, f[1], f.size() == 4 ? f[2] : std::string(), payload);
        continue;
      }
      ag.in.erase(0, eol + 2);
      if (line == "PING") ag.out += "PONG\r\n";
    }
  }

  void on_message(Agent& ag, const std::string& sid, const std::string& reply, const std::string& payload) {
    if (sid == "1" && !reply.empty()) {  // clock request
      publish(ag, reply, nlohmann::json({{"unix_ms", wall_ms()}}).dump());
    } else if (sid == "2") {  // shard
      const auto shard = nlohmann::json::parse(payload);
      ag.sharded = true;
      ag.run_id = shard["run_id"].get<std::string>();
      const double start_ms = shard["start_at_unix_ms"].get<double>();
      ag.start = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double, std::milli>(start_ms - wall_ms()));
      if (run_start_ == Clock::time_point{}) run_start_ = ag.start;
      ++sharded_;
      send_stats(ag, 0, false);  // as loadpilot-agent does: the shard was taken
    }
    // Leases and stops (sids 3, 4) need no answer.
  }

  using metrics_t = lp::metrics::WireStats;

  /// The stats every agent sends for second k: the same cumulative figures (as if each
  /// fired the same share), so every message is as large as a real agent's at that point.
  const metrics_t& stats_for(std::uint64_t k) {
    while (built_for_ < k) {
      ++built_for_;
      std::lognormal_distribution<double> latency(std::log(2000.0), 0.8);
      for (int s = 0; s < a_.samples_per_second; ++s) {
        const auto us = static_cast<std::uint64_t>(latency(rng_));
        cumulative_.tasks[static_cast<std::size_t>(s % a_.tasks)].record_ok(us, us * 9 / 10);
      }
      cumulative_.iterations += static_cast<std::uint64_t>(a_.samples_per_second);
      wire_ = lp::metrics::to_wire(cumulative_);
    }
    return wire_;
  }

  void maybe_send_stats(Clock::time_point now) {
    if (sharded_ < a_.agents || run_start_ == Clock::time_point{}) return;
    if (now < run_start_ + std::chrono::seconds(next_second_)) return;
    const std::uint64_t k = static_cast<std::uint64_t>(next_second_);
    const bool final = next_second_ >= a_.seconds;
    const metrics_t& stats = stats_for(k);
    std::size_t bytes = 0;
    for (auto& ag : agents_) {
      bytes = send_stats(ag, k, final, &stats);
      flush(ag);
    }
    // The burst is out once every socket has taken its bytes.
    for (int spin = 0; spin < 10'000; ++spin) {
      bool left = false;
      for (auto& ag : agents_) {
        if (!ag.out.empty()) {
          flush(ag);
          left = left || !ag.out.empty();
        }
      }
      if (!left) break;
      ::usleep(100);
    }
    last_sent_[k] = Clock::now();
    message_bytes_ = bytes;
    if (k == 5) cpu_at_5_ = cpu_by_thread(pid_);
    if (k == static_cast<std::uint64_t>(a_.seconds) - 5) {
      cpu_at_end_ = cpu_by_thread(pid_);
      cpu_secs_ = std::chrono::duration<double>(Clock::now() - last_sent_[5]).count();
    }
    ++next_second_;
  }

  std::size_t send_stats(Agent& ag, std::uint64_t k, bool final, const metrics_t* stats = nullptr) {
    lp::metrics::StatsMessage m;
    m.header.run_id = ag.run_id;
    m.header.agent_id = ag.id;
    m.header.instance = ag.instance;
    m.header.seq = ++ag.seq;
    m.header.final = final;
    m.header.elapsed_secs = static_cast<double>(k);
    m.header.start_unix_ms = k == 0 ? 0 : wall_ms() - 1000.0 * static_cast<double>(k);
    m.header.active_workers = final ? 0 : 1;
    m.stats = stats ? *stats : wire_;
    const std::string payload = lp::metrics::encode_stats(m);
    publish(ag, "loadpilot.metrics." + ag.id, payload);
    return payload.size();
  }

  void read_snapshots() {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n == 0) coordinator_done_ = true;
      if (n <= 0) break;
      lines_.append(buf, static_cast<std::size_t>(n));
    }
    const auto now = Clock::now();
    for (auto eol = lines_.find('\n'); eol != std::string::npos; eol = lines_.find('\n')) {
      const auto j = nlohmann::json::parse(lines_.substr(0, eol), nullptr, false);
      lines_.erase(0, eol + 1);
      if (!j.is_object()) continue;
      const auto k = static_cast<std::uint64_t>(std::llround(j["elapsed_secs"].get<double>()));
      if (j["phase"] == "done") {
        final_at_ = now;
        final_requests_ = j["requests_total"].get<std::uint64_t>();
      } else if (!snapshot_at_.count(k)) {
        snapshot_at_[k] = now;
      }
    }
  }

  void report() {
    std::vector<double> delays;
    for (const auto& [k, sent] : last_sent_) {
      auto it = snapshot_at_.find(k);
      if (it != snapshot_at_.end() && k >= 1) delays.push_back(std::chrono::duration<double, std::milli>(it->second - sent).count());
    }
    std::sort(delays.begin(), delays.end());
    auto pct = [&](double q) { return delays.empty() ? 0.0 : delays[std::min(delays.size() - 1, std::size_t(q * delays.size()))]; };
    double total = 0;
    std::printf("%d simulated agents, %d tasks, stats every second for %d s; %zu bytes per message at the end\n",
                a_.agents, a_.tasks, a_.seconds, message_bytes_);
    std::printf("| coordinator thread | CPU s | %% of one core |\n|---|---:|---:|\n");
    for (const auto& [group, end] : cpu_at_end_) {
      const double used = end - cpu_at_5_[group];
      total += used;
      std::printf("| %s | %.2f | %.1f %% |\n", group.c_str(), used, 100 * used / cpu_secs_);
    }
    std::printf("| **total** (seconds 5 .. %d, %.1f s) | %.2f | **%.1f %%** |\n", a_.seconds - 5, cpu_secs_, total,
                100 * total / cpu_secs_);
    std::printf("delay from the last agent's stats to the merged snapshot, over %zu seconds: p50 %.1f ms, p90 %.1f ms, max %.1f ms\n",
                delays.size(), pct(0.5), pct(0.9), delays.empty() ? 0 : delays.back());
    if (final_at_ != Clock::time_point{} && last_sent_.count(static_cast<std::uint64_t>(a_.seconds))) {
      std::printf("final snapshot %.1f ms after the last final stats; requests_total %llu\n",
                  std::chrono::duration<double, std::milli>(final_at_ - last_sent_[static_cast<std::uint64_t>(a_.seconds)]).count(),
                  static_cast<unsigned long long>(final_requests_));
    }
  }

  Args a_;
  pid_t pid_ = -1;
  int ep_ = -1, out_fd_ = -1;
  std::vector<Agent> agents_;
  int sharded_ = 0;
  Clock::time_point run_start_{};
  int next_second_ = 0;
  std::mt19937_64 rng_{7};
  lp::metrics::RunStats cumulative_;
  metrics_t wire_;
  std::uint64_t built_for_ = 0;
  std::size_t message_bytes_ = 0;
  std::map<std::uint64_t, Clock::time_point> last_sent_, snapshot_at_;
  Clock::time_point final_at_{};
  std::uint64_t final_requests_ = 0;
  std::map<std::string, double> cpu_at_5_, cpu_at_end_;
  double cpu_secs_ = 1;
  std::string lines_;
  bool coordinator_done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--agents") a.agents = std::atoi(argv[i + 1]);
    if (k == "--seconds") a.seconds = std::atoi(argv[i + 1]);
    if (k == "--bin") a.bin = argv[i + 1];
    if (k == "--samples") a.samples_per_second = std::atoi(argv[i + 1]);
  }
  ::signal(SIGPIPE, SIG_IGN);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {  // a socket per simulated agent
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  Sim sim(a);
  return sim.run();
}
