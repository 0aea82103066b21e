#pragma once
// The lines of `POST /run`'s response (the coordinator service's ndjson stream) and the
// JSON bodies of its errors: written by service::CoordinatorService, read by the CLI's
// `--coordinator-url` client (cli/remote_run.cpp). docs/distributed.md ("Coordinator
// HTTP API") documents every field.
//
// A line is one metrics::Snapshot as Snapshot::to_json() writes it (the same stream as
// `loadpilot-coordinator < plan.json`), plus:
//   "stats"    when the client asked (`POST /run?stats=1`): the merged cumulative stats
//              behind the snapshot, base64 of metrics::encode_stats (histograms
//              included), so the client can write the same results, steps and report
//              as a local run;
//   "verdict"  on the last line (phase "done"): {"passed", "thresholds": [...]}, the
//              plan's thresholds judged by the coordinator on the exact final figures.
// A run that fails after the stream began ends with an error line instead:
//   {"phase": "error", "error": {"message": "...", "hint": "..."}}.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"
#include "metrics/thresholds.hpp"

namespace lp::service {

/// Content-Type of the stream (not compressed by cpp-httplib, so each line leaves at once).
inline constexpr const char* kStreamContentType = "application/x-ndjson";

/// One interval's line, ending in '\n'. `stats` null: no "stats" key.
std::string snapshot_line(const metrics::Snapshot& snapshot, const metrics::RunStats* stats);

/// The last line, ending in '\n': the final snapshot (phase "done") with its verdict.
std::string final_line(const metrics::Snapshot& snapshot, const metrics::RunStats* stats,
                       const std::vector<metrics::ThresholdResult>& thresholds);

/// The last line of a run that failed after the stream began, ending in '\n'.
std::string error_line(const Error& error);

/// A JSON error body: {"error": message, "hint": hint (when set)}, plus `extra`'s keys
/// when it is a JSON object text (e.g. R"({"problems": [...]})"). No trailing newline.
std::string error_body(const Error& error, std::string_view extra = {});

/// One line of the stream, read back.
struct StreamLine {
  enum class Kind { Snapshot, Final, Error };
  Kind kind = Kind::Snapshot;
  metrics::Snapshot snapshot;               ///< Snapshot and Final
  std::optional<metrics::RunStats> stats;   ///< when the line carried "stats"
  /// Final only: the coordinator's verdict; nullopt when the line carried none (then
  /// judge the snapshot yourself).
  std::optional<std::vector<metrics::ThresholdResult>> thresholds;
  Error error;                              ///< Error only (code Unavailable)
};

/// Parses one line (without its '\n'). Errors: not a JSON object, "stats" that do not
/// decode (named, with why). Never throws.
Result<StreamLine> parse_stream_line(std::string_view line);

/// An error body (error_body()'s form) read back.
struct ErrorBody {
  std::string message;                ///< "error"
  std::string hint;                   ///< "hint"; empty when absent
  std::vector<std::string> problems;  ///< "problems" (400: every validation problem)
};
/// nullopt when `body` is not a JSON object with a string "error".
std::optional<ErrorBody> parse_error_body(std::string_view body);

/// Standard base64 (RFC 4648 §4, with padding).
std::string base64_encode(std::string_view bytes);
/// nullopt on a character outside the alphabet or a length that is not a multiple of 4.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace lp::service
