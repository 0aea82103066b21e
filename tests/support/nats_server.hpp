#pragma once
// Starts a real nats-server (Debian's package) for tests: bound to 127.0.0.1, on a
// free port the server picks itself (-p -1, read back from its log) or on a given one
// (restarts), with a config file for the limits tests need. Stopped by pid; the child
// is killed if the test process dies (PR_SET_PDEATHSIG).

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace lp::testing {

struct NatsServerConfig {
  std::string token;                      ///< --auth: CONNECT must carry it
  std::chrono::milliseconds ping_interval{0};  ///< 0 = nats-server's default (2 min)
  int ping_max = 0;                       ///< 0 = default (2)
  std::size_t max_payload = 0;            ///< 0 = default (1 MiB)
  std::size_t max_pending = 0;            ///< bytes queued per client before "slow consumer"; 0 = default
  /// A write blocked this long also makes a slow consumer; nats-server only closes a
  /// client it found slow when its blocked write gives up, so this bounds that too.
  std::chrono::milliseconds write_deadline{0};
  std::string tls_cert, tls_key;          ///< PEM files: serve TLS only (tls://)
};

class NatsServerProcess {
 public:
  /// The nats-server binary, or "" when it is not installed.
  static std::string binary() {
    for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
      if (::access(p, X_OK) == 0) return p;
    }
    if (const char* path = std::getenv("PATH")) {
      std::stringstream dirs(path);
      std::string dir;
      while (std::getline(dirs, dir, ':')) {
        const std::string p = dir + "/nats-server";
        if (!dir.empty() && ::access(p.c_str(), X_OK) == 0) return p;
      }
    }
    return {};
  }

  explicit NatsServerProcess(NatsServerConfig config = {}) : config_(std::move(config)) {
    char tmpl[] = "/tmp/lp-nats-server-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }

  ~NatsServerProcess() {
    kill_hard();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  NatsServerProcess(const NatsServerProcess&) = delete;
  NatsServerProcess& operator=(const NatsServerProcess&) = delete;

  /// Starts the server: on a port it picks (port 0) or on `port`. Waits (at most 10 s)
  /// for it to listen. Returns false with why() set on failure.
  bool start(std::uint16_t port = 0) {
    if (pid_ > 0) return true;
    const std::string bin = binary();
    if (bin.empty()) return failed("nats-server is not installed");
    if (dir_.empty()) return failed("cannot create a temporary directory");
    const std::string conf = dir_ + "/server.conf";
    const std::string log = dir_ + "/server.log";
    {
      std::ofstream out(conf);
      if (config_.ping_interval.count() > 0) out << "ping_interval: \"" << config_.ping_interval.count() << "ms\"\n";
      if (config_.ping_max > 0) out << "ping_max: " << config_.ping_max << "\n";
      if (config_.max_payload > 0) out << "max_payload: " << config_.max_payload << "\n";
      if (config_.max_pending > 0) out << "max_pending: " << config_.max_pending << "\n";
      if (config_.write_deadline.count() > 0) out << "write_deadline: \"" << config_.write_deadline.count() << "ms\"\n";
      if (!config_.token.empty()) out << "authorization { token: \"" << config_.token << "\" }\n";
      if (!config_.tls_cert.empty()) {
        out << "tls { cert_file: \"" << config_.tls_cert << "\"\n key_file: \"" << config_.tls_key << "\" }\n";
      }
    }
    std::error_code ec;
    const auto log_offset = std::filesystem::exists(log, ec) ? std::filesystem::file_size(log, ec) : 0;
    const std::string port_arg = port == 0 ? "-1" : std::to_string(port);
    std::vector<std::string> args = {bin, "-a", "127.0.0.1", "-p", port_arg, "-c", conf, "-l", log};
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return failed("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int devnull = ::open("/dev/null", O_RDWR);
      const int errors = ::open((dir_ + "/stderr.txt").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(errors >= 0 ? errors : devnull, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    // "[INF] Listening for client connections on 127.0.0.1:PORT" once it listens.
    const std::string marker = "Listening for client connections on 127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return failed("nats-server exited at start; its log: " + read_log());
      }
      const std::string all = read_log();
      const std::string text = all.substr(std::min<std::size_t>(log_offset, all.size()));
      if (const auto at = text.find(marker); at != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + marker.size())));
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill_hard();
    return failed("nats-server did not listen within 10 s; its log: " + read_log());
  }

  /// SIGKILL, as a crash would, and reap it. The port stays known for restart().
  void kill_hard() { stop_with(SIGKILL); }

  /// SIGTERM (a clean shutdown) and reap it.
  void stop() { stop_with(SIGTERM); }

  /// Starts again on the same port.
  bool restart() { return start(port_); }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return (config_.tls_cert.empty() ? "nats://127.0.0.1:" : "tls://127.0.0.1:") + std::to_string(port_); }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }

  /// Its log file, then anything it wrote to stderr (config errors go there).
  std::string read_log() const {
    std::stringstream ss;
    for (const char* name : {"/server.log", "/stderr.txt"}) {
      std::ifstream in(dir_ + name);
      ss << in.rdbuf();
    }
    return ss.str();
  }

 private:
  bool failed(std::string why) {
    why_ = std::move(why);
    return false;
  }

  // Signals and reaps; a server that ignores SIGTERM for 5 s gets SIGKILL.
  void stop_with(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  NatsServerConfig config_;
  std::string dir_;
  std::string why_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace lp::testing
