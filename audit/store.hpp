#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/record.hpp"
#include "config/config.hpp"

namespace lgsp::audit {

/// The persistent audit hash chain. The log table is the source of truth; the subject index
/// (subject hash -> seq) is derived from it for the citizen access-log query, and
/// verify_chain() checks both. Implementations are thread-safe; reads do not block appends.
/// Errors (database unreachable, unreadable row) are thrown: the audit path retries the
/// whole batch, and the event ids make the retry idempotent.
class AuditStore {
 public:
  virtual ~AuditStore() = default;

  /// What one append() did with its records.
  struct Appended {
    std::size_t appended = 0;    // new events, now in the chain
    std::size_t duplicates = 0;  // redeliveries: the id is stored with the same content
    /// The id is stored with different content (a forged or corrupted event, or an id that
    /// collided): kept in audit_conflict, never in the chain, and reported by verify.
    std::size_t conflicts = 0;
  };

  /// Appends the records whose event_id is not stored yet, in order, extending the chain
  /// (assigns seq, prev_hash, hash) in ONE transaction. Safe against concurrent appenders,
  /// in this process or others.
  virtual Appended append(std::vector<AuditRecord> records) = 0;

  /// How many conflicting events (see Appended::conflicts) the store has kept.
  virtual std::int64_t conflicts() = 0;

  /// The records touching one subject hash, newest first (seq descending), with
  /// seq < before_seq (0 = from the newest), at most `limit`. Reads of the access log itself
  /// (operation "audit.access-log") are in the chain but not listed: they access the trail,
  /// not the subject's data, and would otherwise crowd out what the citizen asks about.
  virtual std::vector<AuditRecord> by_subject(const std::string& subject_hash,
                                              std::int64_t before_seq, std::size_t limit) = 0;

  /// Every record in seq order (for verification); streams, does not load the whole table.
  /// The visitor may call this store's other methods.
  virtual void scan(const std::function<void(const AuditRecord&)>& visit) = 0;

  virtual std::int64_t count() = 0;

  /// Every row of the subject index, ordered by (seq, subject_hash) with subject hashes
  /// compared bytewise; streams. Lets verify_chain() notice an index row deleted to hide an
  /// access from a citizen. Returns false when the store keeps no separate index (nothing to
  /// check), which is the default so simple test doubles need not implement it.
  virtual bool scan_subject_index(
      const std::function<void(std::int64_t seq, const std::string& subject_hash)>& visit) {
    (void)visit;
    return false;
  }
};

/// Opens (creating the file and schema if missing) an audit store in a SQLite file, in WAL
/// mode with a busy timeout, so readers in other processes (an operator's verify) neither
/// fail nor block the appender.
std::unique_ptr<AuditStore> open_sqlite_audit_store(const std::string& path);

/// Connects to PostgreSQL (libpq DSN) and creates the schema if missing, in the schema that
/// the connection's search_path selects. Throws with libpq's reason on a wrong DSN.
std::unique_ptr<AuditStore> open_postgres_audit_store(const std::string& dsn);

/// The store `audit.store` names (`config` is the file, for the message when none is set).
/// Throws config::ConfigError when it is not configured.
std::unique_ptr<AuditStore> open_audit_store(const config::RegistryConfig& store,
                                             const std::string& config);

}  // namespace lgsp::audit
