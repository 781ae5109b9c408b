#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/record.hpp"
#include "config/config.hpp"

namespace lgsp::audit {

/// The audit writer's signature over a chain head (seq and hash of the newest record). Only
/// the writer holds the signing key, so whoever else can write the database can rewrite
/// records (and recompute every hash after them) but cannot sign the rewritten head:
/// verify_chain() with the public key sees the signed head no longer match.
struct SignedHead {
  std::int64_t seq = 0;
  std::string hash;
  std::int64_t signed_unix_ms = 0;
  std::string key_id;     // the signing key's id (util::Ed25519Signer::key_id)
  std::string signature;  // hex Ed25519 signature of signed_head_message()
};
/// What is signed: a versioned, unambiguous line of the head's fields.
std::string signed_head_message(const SignedHead& head);
/// Makes the signed head of (seq, hash): the writer's key, now.
using HeadSigner = std::function<SignedHead(std::int64_t seq, const std::string& hash)>;

/// The gateways and `lgsp audit verify` only read the chain: they open it read-only (no
/// schema changes, SQLite opened read-only, PostgreSQL sessions read-only), so a gateway's
/// credentials can be SELECT-only.
enum class Access { kReadWrite, kReadOnly };

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
    /// Records were appended but the new head was left unsigned: the chain's head was not
    /// the one last signed, so something other than a signing writer changed the chain
    /// since (an alarm; signing on top would vouch for it).
    bool left_unsigned = false;
  };

  /// Appends the records whose event_id is not stored yet, in order, extending the chain
  /// (assigns seq, prev_hash, hash) in ONE transaction. Safe against concurrent appenders,
  /// in this process or others.
  virtual Appended append(std::vector<AuditRecord> records) = 0;

  /// From now on each append() signs its new head in its transaction, unless the chain's
  /// head is no longer the one last signed (then Appended::left_unsigned). A chain that was
  /// never signed is signed from its current head on (trust on first use, at upgrade).
  virtual void sign_heads_with(HeadSigner signer) = 0;
  /// The newest signed head, or nullopt when the chain was never signed.
  virtual std::optional<SignedHead> signed_head() = 0;
  /// How many conflicting events (see Appended::conflicts) the store has kept.
  virtual std::int64_t conflicts() = 0;

  /// The records touching one subject hash, newest first (seq descending), with
  /// seq < before_seq (0 = from the newest), at most `limit`. Reads of the access log itself
  /// (operation "audit.access-log") are listed too: the citizen sees who read it, and when.
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
std::unique_ptr<AuditStore> open_sqlite_audit_store(const std::string& path,
                                                    Access access = Access::kReadWrite);

/// Connects to PostgreSQL (libpq DSN) and creates the schema if missing, in the schema that
/// the connection's search_path selects. Throws with libpq's reason on a wrong DSN.
std::unique_ptr<AuditStore> open_postgres_audit_store(const std::string& dsn,
                                                      Access access = Access::kReadWrite);

/// The store `audit.store` names (`config` is the file, for the message when none is set).
/// Throws config::ConfigError when it is not configured.
std::unique_ptr<AuditStore> open_audit_store(const config::RegistryConfig& store,
                                             const std::string& config,
                                             Access access = Access::kReadWrite);

}  // namespace lgsp::audit
