#pragma once
// The `loadpilot` command line: parses arguments with CLI11 and dispatches to the
// subcommands. The only place where CLI11's exceptions are caught.

namespace lp::cli {

/// Runs `loadpilot` with main's arguments and returns the process exit code: 0 ok,
/// 1 a threshold was breached, 2 usage, validation or scenario error.
int cli_main(int argc, char** argv);

}  // namespace lp::cli
