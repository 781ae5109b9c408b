#pragma once

#include <csignal>

namespace lgsp::app {

/// Parses the command line and runs the chosen subcommand; returns the exit code.
int run_cli(int argc, char** argv);

/// Blocks SIGINT/SIGTERM in the calling thread (call before starting threads, so they
/// inherit the mask) and returns the set; wait_for_signal() then sigwaits on it.
sigset_t block_stop_signals();
int wait_for_signal(const sigset_t& set);

/// `lgsp dev`: embedded cluster + seeded registry + connectors + gateway in one process.
int run_dev(const char* config_path);

}  // namespace lgsp::app
