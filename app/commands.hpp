#pragma once

#include <csignal>
#include <functional>

#include <memory>
#include <string>

#include "audit/store.hpp"
#include "audit/writer.hpp"
#include "bus/embedded_cluster.hpp"
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

/// librdkafka's mock cluster with the config's topics (requests and bulk requests of every
/// registry, replies, audit); writes its bootstrap list to kafka.bootstrap_file, where the
/// other processes of a config with `bootstrap: embedded` find it.
std::unique_ptr<bus::EmbeddedCluster> start_embedded_cluster(const config::Config& cfg);
/// `lgsp broker`: the embedded cluster alone, in a process of its own, until a stop signal
/// (so gateways and connectors in other processes can be killed and restarted around it).
int run_broker(const std::string& config_path);

/// `lgsp dev`: embedded cluster + seeded registry + connectors + gateway in one process.
int run_dev(const char* config_path);

}  // namespace lgsp::app
