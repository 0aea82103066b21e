#pragma once
// The block printed after a run: what was sent, how fast it came back, what failed,
// and the thresholds table that decides the exit code.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "metrics/snapshot.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cli {

/// HTTP calls made by on_start/on_stop (logins, cleanup), reported apart from the load
/// so they neither inflate the achieved rate nor count against thresholds.
struct SetupStats {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;

  friend bool operator==(const SetupStats&, const SetupStats&) = default;
};

/// Writes the summary of a finished run to `out` (UTF-8: the table uses ✓ and ✗).
/// `duration_secs` is the wall time of the run ("ran 1m"); the achieved rate is
/// requests / final.load_secs (the load duration: until the profile's end or the stop),
/// falling back to `duration_secs` and then final.elapsed_secs for a snapshot without
/// load_secs. The latency table has a row for every response and timeout ("all"), one
/// for successes alone and one for service time. Errors by kind, the per-task table, the
/// late/dropped line and the stop line appear only when they have something to say; the
/// setup line only when `setup` is non-null; the agents table (id, state, requests,
/// start skew in ms with 3 decimals, "-" before an agent began) and the run's start skew
/// only for a distributed run (final.agents). Ends with "All thresholds passed",
/// "N of M thresholds failed" or "No thresholds set".
void print_summary(std::FILE* out, const std::string& scenario, const metrics::Snapshot& final,
                   double duration_secs, const std::vector<metrics::ThresholdResult>& thresholds,
                   const SetupStats* setup);

}  // namespace lp::cli
