#include "cluster/local_agents.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace lp::cluster {

namespace {

// Runs in the child between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_agent(const char* binary, char* const argv[], char* const envp[], int log_fd, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // the parent died before the prctl
  if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
  const int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
  }
  // Children must not inherit a blocked or ignored SIGTERM.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  ::execve(binary, argv, envp);
  ::_exit(127);
}

}  // namespace

Result<LocalAgents> LocalAgents::spawn(const LocalAgentsOptions& o) {
  const std::filesystem::path binary = o.bin_dir / "loadpilot-agent";
  if (::access(binary.c_str(), X_OK) != 0) {
    return make_error(ErrorCode::Io, "cannot run " + binary.string() + ": " + std::strerror(errno),
                      "build it (cmake --build build) or install loadpilot-agent next to this binary");
  }
  int log_fd = -1;
  if (!o.log_file.empty()) {
    log_fd = ::open(o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return make_error(ErrorCode::Io, "cannot open the agents' log " + o.log_file.string() + ": " + std::strerror(errno));
    }
  }

  // The environment: ours, without any NATS_TOKEN, plus the run's token.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NATS_TOKEN=", 11) != 0) env_strings.emplace_back(*e);
  }
  if (!o.token.empty()) env_strings.push_back("NATS_TOKEN=" + o.token);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  LocalAgents agents;
  agents.kill_after_ = o.kill_after;
  const pid_t parent = ::getpid();
  for (std::uint32_t i = 0; i < o.count; ++i) {
    std::string id = o.id_prefix + std::to_string(i);
    std::vector<std::string> args = {binary.string(), "--coordinator", o.coordinator_url, "--agent-id", id};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      const std::string why = std::strerror(errno);
      if (log_fd >= 0) ::close(log_fd);
      agents.stop();
      return make_error(ErrorCode::Io, "cannot start " + id + ": fork failed: " + why);
    }
    if (pid == 0) exec_agent(binary.c_str(), argv.data(), envp.data(), log_fd, parent);
    agents.ids_.push_back(std::move(id));
    agents.pids_.push_back(pid);
  }
  if (log_fd >= 0) ::close(log_fd);
  return agents;
}

LocalAgents::~LocalAgents() { stop(); }

LocalAgents::LocalAgents(LocalAgents&& other) noexcept
    : ids_(std::move(other.ids_)), pids_(std::move(other.pids_)), kill_after_(other.kill_after_) {
  other.pids_.clear();
}

LocalAgents& LocalAgents::operator=(LocalAgents&& other) noexcept {
  if (this != &other) {
    stop();
    ids_ = std::move(other.ids_);
    pids_ = std::move(other.pids_);
    kill_after_ = other.kill_after_;
    other.pids_.clear();
  }
  return *this;
}

void LocalAgents::stop() {
  for (pid_t pid : pids_) {
    if (pid > 0) ::kill(pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + kill_after_;
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid = -1;
  }
}

std::vector<std::pair<std::string, int>> LocalAgents::exited() {
  std::vector<std::pair<std::string, int>> out;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    int status = 0;
    if (::waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
      out.emplace_back(ids_[i], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      pids_[i] = -1;
    }
  }
  return out;
}

}  // namespace lp::cluster
