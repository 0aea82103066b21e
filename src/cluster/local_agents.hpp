#pragma once
// `--agents N`: N loadpilot-agent processes on this machine, started from a given bin
// directory (next to the loadpilot or loadpilot-coordinator binary) and stopped on
// every path: stop() or the destructor sends SIGTERM, then SIGKILL to any still there
// after 5 s, and reaps them. Each child also gets SIGTERM if its parent dies
// (PR_SET_PDEATHSIG), so even a killed coordinator leaves none behind. The token
// travels in the environment (NATS_TOKEN), never on a command line.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace lp::cluster {

struct LocalAgentsOptions {
  std::filesystem::path bin_dir;  ///< where loadpilot-agent is
  std::uint32_t count = 1;
  std::string coordinator_url;    ///< what the agents connect to
  std::string token;
  std::string id_prefix = "agent-";  ///< agents are <prefix>0 .. <prefix>N-1
  /// Where the agents' log lines go: empty = this process's stderr.
  std::filesystem::path log_file;
  std::chrono::milliseconds kill_after{std::chrono::seconds(5)};  ///< SIGTERM → SIGKILL
};

class LocalAgents {
 public:
  /// Starts the agents. Fails (having stopped any already started) when the binary is
  /// missing or a process cannot be created.
  static Result<LocalAgents> spawn(const LocalAgentsOptions& options);

  LocalAgents() = default;
  ~LocalAgents();  ///< stop()
  LocalAgents(LocalAgents&& other) noexcept;
  LocalAgents& operator=(LocalAgents&& other) noexcept;
  LocalAgents(const LocalAgents&) = delete;
  LocalAgents& operator=(const LocalAgents&) = delete;

  /// SIGTERM to each, SIGKILL after kill_after to any left, and reaps all. Idempotent.
  void stop();

  const std::vector<std::string>& ids() const noexcept { return ids_; }
  const std::vector<pid_t>& pids() const noexcept { return pids_; }
  /// Agents that have exited already (reaped), e.g. one that could not connect; with
  /// their exit status, for an error message.
  std::vector<std::pair<std::string, int>> exited();

 private:
  std::vector<std::string> ids_;
  std::vector<pid_t> pids_;  ///< -1 once reaped
  std::chrono::milliseconds kill_after_{std::chrono::seconds(5)};
};

}  // namespace lp::cluster
