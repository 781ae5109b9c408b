#pragma once

#include <csignal>
#include <functional>

#include <memory>
#include <string>

#include "audit/store.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"

namespace lgsp::app {

/// The audit writer's Kafka settings and its store, from the config (shared by
/// `lgsp audit writer` and `lgsp dev`).
audit::WriterOptions audit_writer_options(const config::Config& cfg, const std::string& bootstrap);
std::unique_ptr<audit::AuditStore> open_audit_store(const config::Config& cfg);

/// Parses the command line and runs the chosen subcommand; returns the exit code.
int run_cli(int argc, char** argv);

/// Blocks SIGINT/SIGTERM/SIGHUP in the calling thread (call before starting threads, so
/// they inherit the mask) and returns the set; wait_for_signal() then sigwaits on it.
sigset_t block_stop_signals();
/// Returns at SIGINT or SIGTERM; each SIGHUP calls `on_reload` (if any) and waits on.
int wait_for_signal(const sigset_t& set, const std::function<void()>& on_reload = {});

/// `lgsp dev`: embedded cluster + seeded registry + connectors + gateway in one process.
int run_dev(const char* config_path);

}  // namespace lgsp::app
