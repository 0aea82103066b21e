// The embedded NATS broker vs nats-server, same run, same clients, over loopback.
//
//   cmake --build build --target broker_bench && build/bin/broker_bench [--messages N] [--agents N] [--seconds S]
//
// 1. Throughput: 1 publisher -> 1 subscriber (two libnats connections in this process),
//    1 KiB payloads, at most `window` messages in flight (so neither server has to drop
//    a slow consumer): messages/s, and the server's CPU per million messages.
// 2. Coordinator load: `agents` raw-socket clients each publishing one ~20 KiB message a
//    second (spread over the second, as agents sending stats would) to one libnats
//    subscriber on `stats.*`: the server's CPU as % of one core, and messages delivered.
//
// Each server runs in its own process (the embedded broker in a forked child) so its CPU
// is read the same way for both: utime + stime from /proc/<pid>/stat.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.hpp"
#include "support/nats_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  long messages = 300'000;
  int payload = 1024;
  long window = 20'000;
  int agents = 1000;
  int agent_payload = 20 * 1024;
  int seconds = 10;
};

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A server under test, in its own process.
struct Server {
  std::string name;
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::unique_ptr<lp::testing::NatsServerProcess> nats;

  void stop() {
    if (nats) {
      nats->stop();
    } else if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    pid = -1;
  }
};

Server start_embedded() {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(2);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    lp::broker::Broker broker;
    lp::broker::BrokerOptions o;
    o.bind_addr = "127.0.0.1";
    auto started = broker.start(o);
    const std::uint16_t port = started.ok() ? broker.port() : 0;
    [[maybe_unused]] ssize_t w = ::write(fds[1], &port, sizeof port);
    int sig = 0;
    sigwait(&set, &sig);
    broker.stop();
    ::_exit(0);
  }
  ::close(fds[1]);
  Server s;
  s.name = "embedded broker";
  s.pid = pid;
  if (::read(fds[0], &s.port, sizeof s.port) != sizeof s.port || s.port == 0) {
    std::fprintf(stderr, "broker_bench: the embedded broker did not start\n");
    std::exit(2);
  }
  ::close(fds[0]);
  return s;
}

Server start_nats_server() {
  Server s;
  s.name = "nats-server " ;
  s.nats = std::make_unique<lp::testing::NatsServerProcess>();
  if (!s.nats->start()) {
    std::fprintf(stderr, "broker_bench: %s\n", s.nats->why().c_str());
    std::exit(2);
  }
  s.pid = s.nats->pid();
  s.port = s.nats->port();
  s.name = "nats-server 2.9";
  return s;
}

natsConnection* connect(std::uint16_t port) {
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsOptions_SetURL(o, url.c_str());
  natsOptions_SetMaxPendingMsgs(o, 1'000'000);
  natsConnection* nc = nullptr;
  if (natsConnection_Connect(&nc, o) != NATS_OK) {
    std::fprintf(stderr, "broker_bench: cannot connect to %s\n", url.c_str());
    std::exit(2);
  }
  natsOptions_Destroy(o);
  return nc;
}

struct Counter {
  std::atomic<long> received{0};
};

void count_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<Counter*>(closure)->received.fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(msg);
}

struct Throughput {
  double msgs_per_sec = 0;
  double cpu_us_per_msg = 0;
};

Throughput throughput(const Server& server, const Args& a) {
  natsConnection* pub = connect(server.port);
  natsConnection* sub = connect(server.port);
  Counter counter;
  natsSubscription* s = nullptr;
  natsConnection_Subscribe(&s, sub, "bench.tp", count_message, &counter);
  natsSubscription_SetPendingLimits(s, -1, -1);
  natsConnection_Flush(sub);
  const std::string payload(static_cast<std::size_t>(a.payload), 'x');

  const double cpu0 = cpu_seconds(server.pid);
  const auto t0 = Clock::now();
  for (long sent = 0; sent < a.messages; ++sent) {
    while (sent - counter.received.load(std::memory_order_relaxed) >= a.window) std::this_thread::yield();
    natsConnection_Publish(pub, "bench.tp", payload.data(), a.payload);
  }
  natsConnection_Flush(pub);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (counter.received.load() < a.messages && Clock::now() < deadline) std::this_thread::yield();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds(server.pid) - cpu0;
  if (counter.received.load() != a.messages) {
    std::fprintf(stderr, "broker_bench: %s delivered %ld of %ld\n", server.name.c_str(), counter.received.load(), a.messages);
  }
  natsSubscription_Destroy(s);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub);
  return {static_cast<double>(counter.received.load()) / secs, cpu * 1e6 / static_cast<double>(a.messages)};
}

// A raw-socket "agent": CONNECT once, then PUB of a stats-sized payload.
int raw_agent(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char buf[4096];
  [[maybe_unused]] ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // INFO
  const char hello[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
  n = ::send(fd, hello, sizeof hello - 1, MSG_NOSIGNAL);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

struct Load {
  double cpu_percent = 0;
  long delivered = 0;
  long expected = 0;
};

Load coordinator_load(const Server& server, const Args& a) {
  natsConnection* coordinator = connect(server.port);
  Counter counter;
  natsSubscription* s = nullptr;
  natsConnection_Subscribe(&s, coordinator, "stats.*", count_message, &counter);
  natsSubscription_SetPendingLimits(s, -1, -1);
  natsConnection_Flush(coordinator);
  std::vector<int> agents;
  std::vector<std::string> messages;
  for (int i = 0; i < a.agents; ++i) {
    const int fd = raw_agent(server.port);
    if (fd < 0) {
      std::fprintf(stderr, "broker_bench: agent %d could not connect\n", i);
      std::exit(2);
    }
    agents.push_back(fd);
    messages.push_back("PUB stats.agent-" + std::to_string(i) + " " + std::to_string(a.agent_payload) + "\r\n" +
                       std::string(static_cast<std::size_t>(a.agent_payload), 's') + "\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // handshakes settle

  const double cpu0 = cpu_seconds(server.pid);
  const auto t0 = Clock::now();
  long sent = 0;
  char sink[65536];
  for (int second = 0; second < a.seconds; ++second) {
    for (int i = 0; i < a.agents; ++i) {
      // Agent i sends at i/agents of each second.
      std::this_thread::sleep_until(t0 + std::chrono::seconds(second) + std::chrono::microseconds(1'000'000LL * i / a.agents));
      const std::string& m = messages[static_cast<std::size_t>(i)];
      std::size_t off = 0;
      while (off < m.size()) {
        const ssize_t n = ::send(agents[static_cast<std::size_t>(i)], m.data() + off, m.size() - off, MSG_NOSIGNAL);
        if (n > 0) off += static_cast<std::size_t>(n);
        else std::this_thread::yield();
      }
      while (::recv(agents[static_cast<std::size_t>(i)], sink, sizeof sink, 0) > 0) {
      }  // the server's PINGs, unanswered is fine for a short run
      ++sent;
    }
  }
  natsConnection_Flush(coordinator);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (counter.received.load() < sent && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds(server.pid) - cpu0;
  for (int fd : agents) ::close(fd);
  natsSubscription_Destroy(s);
  natsConnection_Destroy(coordinator);
  return {100.0 * cpu / wall, counter.received.load(), sent};
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::atol(argv[i + 1]);
    if (k == "--messages") a.messages = v;
    else if (k == "--agents") a.agents = static_cast<int>(v);
    else if (k == "--seconds") a.seconds = static_cast<int>(v);
    else if (k == "--payload") a.payload = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: broker_bench [--messages N] [--payload BYTES] [--agents N] [--seconds S]\n");
      return 2;
    }
  }
  rlimit fds{};
  ::getrlimit(RLIMIT_NOFILE, &fds);
  fds.rlim_cur = fds.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &fds);
  if (lp::testing::NatsServerProcess::binary().empty()) {
    std::fprintf(stderr, "broker_bench: nats-server is not installed\n");
    return 2;
  }

  // Forks before any libnats thread exists.
  Server embedded = start_embedded();
  Server real = start_nats_server();

  std::printf("1 publisher -> 1 subscriber, %d-byte payloads, %ld messages, <= %ld in flight\n", a.payload, a.messages,
              a.window);
  std::printf("  %-18s %14s %22s\n", "server", "messages/s", "server CPU µs/message");
  for (Server* s : {&embedded, &real, &embedded, &real}) {  // twice each, interleaved
    const Throughput t = throughput(*s, a);
    std::printf("  %-18s %14.0f %22.2f\n", s->name.c_str(), t.msgs_per_sec, t.cpu_us_per_msg);
    std::fflush(stdout);
  }
  std::printf("%d agents x 1 message/s of %d bytes for %d s -> 1 subscriber\n", a.agents, a.agent_payload, a.seconds);
  std::printf("  %-18s %22s %14s\n", "server", "server CPU % of a core", "delivered");
  for (Server* s : {&embedded, &real}) {
    const Load l = coordinator_load(*s, a);
    std::printf("  %-18s %22.1f %8ld/%ld\n", s->name.c_str(), l.cpu_percent, l.delivered, l.expected);
    std::fflush(stdout);
  }
  embedded.stop();
  real.stop();
  return 0;
}
