// bench/uring_probe.cpp - does io_uring make LoadPilot's fixed-rate loop cheaper? (issue 6)
//
// One thread, N keep-alive HTTP/1.1 connections to a loopback server, GET /api/user at a
// fixed rate R (due_k = start + k/R) for D seconds, every response read (Content-Length
// framing, enough for nginx's fixed answer), one JSON line on stdout at the end:
//   {"mode", "rate", "sent", "responses", "errors", "pipelined", "lag_us": {p50, p99, max}, ...}
// Send lag = clock read just before the request is handed to the kernel − its due time
// (negative with --ahead-us: sent early on purpose).
//
// Modes (how the loop sleeps, sends and reads; the schedule is the same):
//   epoll         epoll_pwait2(timeout = next due) → send() each due request → one recv()
//                 per readable connection (what the engine does, minus its bookkeeping);
//   uring         one io_uring_enter per wake: the due sends as IORING_OP_SEND SQEs, the
//                 wait as the enter's timeout (IORING_ENTER_EXT_ARG), responses from one
//                 multishot recv per connection into a provided buffer ring
//                 (--recv single: one plain recv SQE outstanding per connection instead);
//                 ring set up SINGLE_ISSUER | DEFER_TASKRUN (--no-defer: neither);
//   uring-sqpoll  as uring with IORING_SETUP_SQPOLL, the kernel's submission thread pinned
//                 to --sq-cpu: it burns CPU the process's task-clock may not show, so
//                 charge it with that CPU's /proc/stat busy time.
// --ahead-us U: at each wake also send what is due within the next U µs (batching).
//
//   uring_probe --mode epoll|uring|uring-sqpoll --port P [--rate 10000] [--duration 5]
//               [--conns 64] [--ahead-us 0] [--recv multishot|single] [--no-defer]
//               [--sq-cpu 1]
// Loopback only (127.0.0.1). The loop is bounded: D seconds of sends, then at most 3 s
// to drain the responses still in flight.

#include <liburing.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

constexpr std::string_view kRequest = "GET /api/user HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
constexpr std::size_t kConnBufSize = 16 * 1024;   // per-connection reassembly buffer
constexpr unsigned kBufRingEntries = 256;          // provided buffers (power of two)
constexpr unsigned kBufSize = 4096;                // bytes per provided buffer
constexpr int kBufGroup = 1;
constexpr nanoseconds kDrainLimit = std::chrono::seconds(3);

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "uring_probe: %s: %s\n", what, std::strerror(err));
  std::exit(1);
}

struct Options {
  std::string mode = "epoll";
  int port = 0;
  double rate = 10000;
  double duration_secs = 5;
  int conns = 64;
  double ahead_us = 0;
  bool multishot = true;
  bool defer_taskrun = true;
  int sq_cpu = 1;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "uring_probe: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--mode") o.mode = value();
    else if (a == "--port") o.port = std::atoi(value());
    else if (a == "--rate") o.rate = std::atof(value());
    else if (a == "--duration") o.duration_secs = std::atof(value());
    else if (a == "--conns") o.conns = std::atoi(value());
    else if (a == "--ahead-us") o.ahead_us = std::atof(value());
    else if (a == "--recv") o.multishot = std::string_view(value()) != "single";
    else if (a == "--no-defer") o.defer_taskrun = false;
    else if (a == "--sq-cpu") o.sq_cpu = std::atoi(value());
    else {
      std::fprintf(stderr, "uring_probe: unknown option %s (see the comment at the top of bench/uring_probe.cpp)\n", argv[i]);
      std::exit(2);
    }
  }
  if (o.mode != "epoll" && o.mode != "uring" && o.mode != "uring-sqpoll") {
    std::fprintf(stderr, "uring_probe: --mode must be epoll, uring or uring-sqpoll, not %s\n", o.mode.c_str());
    std::exit(2);
  }
  if (o.port <= 0 || o.rate <= 0 || o.duration_secs <= 0 || o.conns <= 0 || o.conns > 4096 || o.ahead_us < 0) {
    std::fprintf(stderr, "uring_probe: need --port > 0, --rate > 0, --duration > 0, 0 < --conns <= 4096, --ahead-us >= 0\n");
    std::exit(2);
  }
  return o;
}

/// One keep-alive connection: bytes received but not yet framed, requests not yet answered.
struct Conn {
  int fd = -1;
  int outstanding = 0;
  std::size_t len = 0;
  char buf[kConnBufSize];
};

/// The schedule, the connections and the counts, shared by every mode.
struct Probe {
  Options opt;
  std::vector<Conn> conns;
  std::vector<int> idle;           // connections with nothing outstanding (a stack)
  std::size_t next_rr = 0;         // where to pipeline when none is idle
  std::uint64_t total = 0;         // requests in the schedule: floor(rate × duration)
  std::uint64_t sent = 0;
  std::uint64_t responses = 0;
  std::uint64_t errors = 0;        // non-200 answers and failed sends
  std::uint64_t pipelined = 0;     // sent on a connection that was still busy
  std::uint64_t wakes = 0;         // times the loop came back from its wait
  std::uint64_t syscalls = 0;      // the loop's own: send, recv, epoll_pwait2 / io_uring_enter
  std::vector<std::int64_t> lag_ns;
  Clock::time_point start;
  double period_ns = 0;

  Clock::time_point due(std::uint64_t k) const {
    return start + nanoseconds(static_cast<std::int64_t>(static_cast<double>(k) * period_ns));
  }

  /// Picks the connection for the next request and records its send lag.
  int take(Clock::time_point now) {
    int c;
    if (!idle.empty()) {
      c = idle.back();
      idle.pop_back();
    } else {
      c = static_cast<int>(next_rr++ % conns.size());
      ++pipelined;
    }
    ++conns[c].outstanding;
    lag_ns[sent] = (now - due(sent)).count();
    ++sent;
    return c;
  }

  /// Appends received bytes to connection `c` and counts the complete responses in it.
  void on_bytes(int c, const char* data, std::size_t n) {
    Conn& cn = conns[c];
    if (cn.len + n > sizeof cn.buf) {
      std::fprintf(stderr, "uring_probe: response larger than %zu bytes on one connection\n", sizeof cn.buf);
      std::exit(1);
    }
    std::memcpy(cn.buf + cn.len, data, n);
    cn.len += n;
    std::size_t pos = 0;
    for (;;) {
      std::string_view rest(cn.buf + pos, cn.len - pos);
      std::size_t end = rest.find("\r\n\r\n");
      if (end == std::string_view::npos) break;
      std::string_view head = rest.substr(0, end);
      // nginx writes "Content-Length: N" exactly so; other servers are not this probe's business.
      std::size_t cl = head.find("Content-Length: ");
      if (cl == std::string_view::npos) {
        std::fprintf(stderr, "uring_probe: response without Content-Length: %.*s\n", static_cast<int>(head.size()), head.data());
        std::exit(1);
      }
      std::size_t body = std::strtoul(head.data() + cl + 16, nullptr, 10);
      if (rest.size() < end + 4 + body) break;
      if (!head.starts_with("HTTP/1.1 200")) ++errors;
      ++responses;
      if (--cn.outstanding == 0) idle.push_back(c);
      pos += end + 4 + body;
    }
    std::memmove(cn.buf, cn.buf + pos, cn.len - pos);
    cn.len -= pos;
  }

  bool done(Clock::time_point now) const {
    return sent == total && (responses == sent || now - due(total) > kDrainLimit);
  }

  /// How long to wait: until the next due time, or (all sent) a slice of the drain limit.
  nanoseconds wait_for(Clock::time_point now) const {
    if (sent < total) return std::max(nanoseconds(0), due(sent) - now);
    return std::chrono::milliseconds(10);
  }

  nanoseconds ahead() const { return nanoseconds(static_cast<std::int64_t>(opt.ahead_us * 1000)); }
};

void connect_all(Probe& p) {
  p.conns = std::vector<Conn>(p.opt.conns);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(p.opt.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < p.opt.conns; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket", errno);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect to 127.0.0.1", errno);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p.conns[i].fd = fd;
    p.idle.push_back(i);
  }
}

void run_epoll(Probe& p) {
  int ep = ::epoll_create1(0);
  if (ep < 0) die("epoll_create1", errno);
  for (int i = 0; i < p.opt.conns; ++i) {
    int fd = p.conns[i].fd;
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl", errno);
  }
  epoll_event events[256];
  char rbuf[kBufSize];
  p.start = Clock::now();
  for (;;) {
    Clock::time_point now = Clock::now();
    while (p.sent < p.total && p.due(p.sent) <= now + p.ahead()) {
      int c = p.take(now);
      ++p.syscalls;
      ssize_t n = ::send(p.conns[c].fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
      if (n != static_cast<ssize_t>(kRequest.size())) ++p.errors;
      now = Clock::now();
    }
    if (p.done(now)) break;
    nanoseconds wait = p.wait_for(now);
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    ++p.syscalls;
    int n = ::epoll_pwait2(ep, events, 256, &ts, nullptr);
    if (n < 0 && errno != EINTR) die("epoll_pwait2", errno);
    ++p.wakes;
    for (int i = 0; i < n; ++i) {
      int c = static_cast<int>(events[i].data.u32);
      ++p.syscalls;
      ssize_t r = ::recv(p.conns[c].fd, rbuf, sizeof rbuf, 0);
      if (r > 0) p.on_bytes(c, rbuf, static_cast<std::size_t>(r));
      else if (r == 0 || (errno != EAGAIN && errno != EINTR)) die("recv (server closed a connection?)", r == 0 ? ECONNRESET : errno);
    }
  }
  ::close(ep);
}

enum : std::uint64_t { kSendTag = 1ull << 32, kRecvTag = 2ull << 32 };

struct Uring {
  io_uring ring{};
  io_uring_buf_ring* br = nullptr;
  char* bufs = nullptr;
  std::vector<char> single_bufs;   // --recv single: one kBufSize buffer per connection
};

io_uring_sqe* sqe_or_flush(Probe& p, io_uring& ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (sqe == nullptr) {
    ++p.syscalls;
    io_uring_submit(&ring);
    // SQPOLL: the kernel thread consumes the ring when it runs, not during the submit.
    if (p.opt.mode == "uring-sqpoll") io_uring_sqring_wait(&ring);
    sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) die("io_uring_get_sqe", EBUSY);
  }
  return sqe;
}

void arm_recv(Probe& p, Uring& u, int c) {
  io_uring_sqe* sqe = sqe_or_flush(p, u.ring);
  if (p.opt.multishot) {
    io_uring_prep_recv_multishot(sqe, p.conns[c].fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
  } else {
    io_uring_prep_recv(sqe, p.conns[c].fd, u.single_bufs.data() + static_cast<std::size_t>(c) * kBufSize, kBufSize, 0);
  }
  io_uring_sqe_set_data64(sqe, kRecvTag | static_cast<std::uint64_t>(c));
}

void run_uring(Probe& p, bool sqpoll) {
  Uring u;
  io_uring_params params{};
  if (sqpoll) {
    params.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
    params.sq_thread_cpu = static_cast<unsigned>(p.opt.sq_cpu);
    params.sq_thread_idle = 1000;   // ms without work before the thread sleeps
  } else if (p.opt.defer_taskrun) {
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  }
  unsigned entries = 1;
  while (entries < static_cast<unsigned>(p.opt.conns) * 4) entries <<= 1;
  if (int r = io_uring_queue_init_params(entries, &u.ring, &params); r < 0) die("io_uring_queue_init_params", -r);
  if (!(params.features & IORING_FEAT_EXT_ARG)) die("this kernel lacks IORING_FEAT_EXT_ARG (timeout in io_uring_enter)", ENOSYS);

  if (p.opt.multishot) {
    std::size_t ring_bytes = kBufRingEntries * sizeof(io_uring_buf);
    void* mem = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) die("mmap buffer ring", errno);
    u.br = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(u.br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
    reg.ring_entries = kBufRingEntries;
    reg.bgid = kBufGroup;
    if (int r = io_uring_register_buf_ring(&u.ring, &reg, 0); r < 0) die("io_uring_register_buf_ring", -r);
    u.bufs = static_cast<char*>(std::aligned_alloc(4096, kBufRingEntries * kBufSize));
    for (unsigned b = 0; b < kBufRingEntries; ++b)
      io_uring_buf_ring_add(u.br, u.bufs + b * kBufSize, kBufSize, static_cast<unsigned short>(b),
                            io_uring_buf_ring_mask(kBufRingEntries), static_cast<int>(b));
    io_uring_buf_ring_advance(u.br, kBufRingEntries);
  } else {
    u.single_bufs.resize(static_cast<std::size_t>(p.opt.conns) * kBufSize);
  }
  for (int c = 0; c < p.opt.conns; ++c) arm_recv(p, u, c);

  p.start = Clock::now();
  for (;;) {
    Clock::time_point now = Clock::now();
    while (p.sent < p.total && p.due(p.sent) <= now + p.ahead()) {
      int c = p.take(now);
      io_uring_sqe* sqe = sqe_or_flush(p, u.ring);
      io_uring_prep_send(sqe, p.conns[c].fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, kSendTag | static_cast<std::uint64_t>(c));
      // A send that completed posts no CQE: otherwise its CQE, posted inline during the
      // submit, would end the wait at once and cost a second io_uring_enter per request.
      sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
    if (p.done(now)) break;
    nanoseconds wait = p.wait_for(now);
    __kernel_timespec ts{wait.count() / 1'000'000'000, wait.count() % 1'000'000'000};
    io_uring_cqe* cqe = nullptr;
    // One io_uring_enter: submit the SQEs prepared above, then sleep until a completion or
    // the next due time, whichever is first.
    ++p.syscalls;   // one io_uring_enter with IORING_ENTER_EXT_ARG (SQPOLL: the wait's)
    int r = io_uring_submit_and_wait_timeout(&u.ring, &cqe, 1, &ts, nullptr);
    if (r < 0 && r != -ETIME && r != -EINTR) die("io_uring_submit_and_wait_timeout", -r);
    ++p.wakes;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&u.ring, head, cqe) {
      ++seen;
      std::uint64_t tag = io_uring_cqe_get_data64(cqe);
      int c = static_cast<int>(tag & 0xffffffffu);
      if ((tag & ~0xffffffffull) == kSendTag) {
        ++p.errors;   // only failed sends post a CQE (IOSQE_CQE_SKIP_SUCCESS)
        continue;
      }
      if (cqe->res == -ENOBUFS) {   // buffer ring ran dry: the multishot recv ended, arm again
        arm_recv(p, u, c);
        continue;
      }
      if (cqe->res <= 0) die("recv completion (server closed a connection?)", cqe->res == 0 ? ECONNRESET : -cqe->res);
      if (p.opt.multishot) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        p.on_bytes(c, u.bufs + bid * kBufSize, static_cast<std::size_t>(cqe->res));
        io_uring_buf_ring_add(u.br, u.bufs + bid * kBufSize, kBufSize, static_cast<unsigned short>(bid),
                              io_uring_buf_ring_mask(kBufRingEntries), 0);
        io_uring_buf_ring_advance(u.br, 1);
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_recv(p, u, c);
      } else {
        p.on_bytes(c, u.single_bufs.data() + static_cast<std::size_t>(c) * kBufSize, static_cast<std::size_t>(cqe->res));
        arm_recv(p, u, c);
      }
    }
    io_uring_cq_advance(&u.ring, seen);
  }
  io_uring_queue_exit(&u.ring);
}

double pct_us(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
  return static_cast<double>(sorted[i]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Probe p;
  p.opt = parse(argc, argv);
  p.total = static_cast<std::uint64_t>(p.opt.rate * p.opt.duration_secs);
  p.period_ns = 1e9 / p.opt.rate;
  p.lag_ns.resize(p.total);
  ::prctl(PR_SET_TIMERSLACK, 1UL);  // as the engine: wake at the due time, not up to 50 µs later
  connect_all(p);
  if (p.opt.mode == "epoll") run_epoll(p);
  else run_uring(p, p.opt.mode == "uring-sqpoll");

  rusage ru{};   // involuntary switches: the probe's CPU was taken by other work (noise)
  ::getrusage(RUSAGE_SELF, &ru);
  std::vector<std::int64_t> lag(p.lag_ns.begin(), p.lag_ns.begin() + static_cast<std::ptrdiff_t>(p.sent));
  std::sort(lag.begin(), lag.end());
  std::printf(
      "{\"mode\":\"%s\",\"recv\":\"%s\",\"defer_taskrun\":%s,\"ahead_us\":%g,\"rate\":%g,\"duration\":%g,"
      "\"conns\":%d,\"sent\":%llu,\"responses\":%llu,\"errors\":%llu,\"pipelined\":%llu,\"wakes\":%llu,\"syscalls\":%llu,"
      "\"voluntary_cs\":%ld,\"involuntary_cs\":%ld,"
      "\"lag_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
      p.opt.mode.c_str(), p.opt.mode == "epoll" ? "recv" : (p.opt.multishot ? "multishot" : "single"),
      p.opt.mode == "uring" && p.opt.defer_taskrun ? "true" : "false", p.opt.ahead_us, p.opt.rate, p.opt.duration_secs,
      p.opt.conns, static_cast<unsigned long long>(p.sent), static_cast<unsigned long long>(p.responses),
      static_cast<unsigned long long>(p.errors), static_cast<unsigned long long>(p.pipelined),
      static_cast<unsigned long long>(p.wakes),
      static_cast<unsigned long long>(p.syscalls), ru.ru_nvcsw, ru.ru_nivcsw, pct_us(lag, 0.5), pct_us(lag, 0.99),
      lag.empty() ? 0.0 : static_cast<double>(lag.back()) / 1000.0);
  for (Conn& c : p.conns) ::close(c.fd);
  return p.responses == p.sent && p.errors == 0 ? 0 : 1;
}
