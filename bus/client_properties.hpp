#pragma once

#include <string>

#include <memory>
#include <vector>

#include "bus/kafka.hpp"
#include "config/config.hpp"
#include "util/sealing.hpp"

namespace lgsp::bus {

/// The bootstrap list to connect to. "embedded" in a process that does not host the
/// embedded cluster means "the one `lgsp dev` is running": read kafka.bootstrap_file.
/// Throws std::runtime_error with a hint when that file does not exist.
std::string resolve_bootstrap(const config::KafkaConfig& kafka);

/// The sealer of kafka.envelope_keys_dir's keys, or an unsealed one where none are set (the
/// config allowed that). Throws std::runtime_error naming the key file missing when a
/// domain in `needed` (the registries this process talks to, "audit") has no key.
std::shared_ptr<const util::Sealer> envelope_sealer(const config::KafkaConfig& kafka,
                                                    const std::vector<std::string>& needed);

/// librdkafka settings for one client: bootstrap, client.id, then kafka.properties, then the
/// role's own (producer_properties / consumer_properties); later entries win.
Properties producer_properties(const config::KafkaConfig& kafka, const std::string& bootstrap,
                               const std::string& client_id);
Properties consumer_properties(const config::KafkaConfig& kafka, const std::string& bootstrap,
                               const std::string& client_id);

/// The audit writer's consumer: kafka.* settings, then a fetch wait of 50 ms (nobody waits
/// for an audit append, and fewer fetches spare the brokers), then audit.consumer_properties.
Properties audit_consumer_properties(const config::KafkaConfig& kafka,
                                     const config::AuditConfig& audit, const std::string& bootstrap,
                                     const std::string& client_id);

/// A consumer group member that stores offsets by hand, only after its work is durable
/// (auto-commit then commits just those), and that starts a new group from the earliest
/// message so nothing waiting is skipped. `p` (the config's) is appended and wins.
Properties at_least_once_consumer(Properties p);

/// Turns on librdkafka's statistics (the source of consumer lag) every 5 s, unless `p`
/// sets statistics.interval.ms itself.
Properties with_statistics(const Properties& p);

/// `p` with fetch.wait.max.ms raised to at least `ms` where it sets a lower value (the
/// embedded profile's 1 ms). For consumers whose latency matters less than the CPU an idle
/// fetch loop burns: on the embedded broker every empty fetch is held for exactly that long,
/// so 1 ms means a thousand fetches a second per idle consumer. librdkafka's default (500 ms,
/// answered early when data arrives on a real broker) is left alone.
Properties with_fetch_wait_at_least(const Properties& p, int ms);

}  // namespace lgsp::bus
