// `loadpilot`: the CLI users run (run, version). Everything happens in cli/cli_main.cpp.

#include "cli/cli_main.hpp"

int main(int argc, char** argv) { return lp::cli::cli_main(argc, argv); }
