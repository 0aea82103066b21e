#pragma once
// The block printed after a run: what was sent, how fast it came back, what failed,
// and the thresholds table that decides the exit code.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/thresholds.hpp"
#include "metrics/snapshot.hpp"

namespace lp::cli {

/// HTTP calls made by on_start/on_stop (logins, cleanup), reported apart from the load
/// so they neither inflate the achieved rate nor count against thresholds.
struct SetupStats {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;

  friend bool operator==(const SetupStats&, const SetupStats&) = default;
};

/// Writes the summary of a finished run to `out` (UTF-8: the table uses ✓ and ✗).
/// `duration_secs` is the wall time of the load, used for the achieved rate; when it is
/// not > 0, `final.elapsed_secs` is used instead. Errors by kind, the per-task table and
/// the late/dropped line appear only when they have something to say; the setup line
/// only when `setup` is non-null. Ends with "All thresholds passed",
/// "N of M thresholds failed" or "No thresholds set".
void print_summary(std::FILE* out, const std::string& scenario, const metrics::Snapshot& final,
                   double duration_secs, const std::vector<ThresholdResult>& thresholds,
                   const SetupStats* setup);

}  // namespace lp::cli
