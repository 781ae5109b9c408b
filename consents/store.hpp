#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace lgsp::consents {

/// A citizen's consent to one partner receiving some of their data for one purpose, until it
/// expires or the citizen revokes it (Decree 13/2023 art. 11–12: consent is specific to a
/// purpose and a kind of data, given freely and withdrawable at any time). Carries no personal
/// data in plaintext: the citizen is a keyed hash, as in the audit trail.
struct Consent {
  std::string id;            // "cs-" + 32 hex digits, random (never derived from the citizen)
  std::string subject_hash;  // keyed hash (SubjectHasher) of the citizen's ID
  std::string partner_id;    // the partner that may receive the data
  std::string purpose;       // the purpose the partner must state
  /// What data: "<registry>" (every field the partner is granted there) or
  /// "<registry>.<field>" (that field only).
  std::vector<std::string> scope;
  std::int64_t granted_ms = 0;
  std::int64_t expires_ms = 0;  // the consent covers no request at or after this time
  std::int64_t revoked_ms = 0;  // 0: not revoked
  std::string recorded_by;      // the partner (the citizen app) that recorded it
};

/// Where consents are kept. One store per gateway (SQLite) or one for every replica
/// (PostgreSQL): a revocation recorded through one gateway holds at every other at once.
/// Implementations are not thread-safe; ConsentBook serialises the calls.
class ConsentStore {
 public:
  virtual ~ConsentStore() = default;
  /// Records a new consent (its id is new: 128 random bits).
  virtual void add(const Consent& c) = 0;
  virtual std::optional<Consent> find(const std::string& id) = 0;
  /// Revokes consent `id` of the citizen `subject_hash` at `at_ms`, unless revoked already
  /// (the first revocation's time stays). The consent as it is after, or nullopt when the
  /// citizen has no consent by that id.
  virtual std::optional<Consent> revoke(const std::string& id, const std::string& subject_hash,
                                        std::int64_t at_ms) = 0;
  /// The citizen's consents, newest first, at most `limit`.
  virtual std::vector<Consent> by_subject(const std::string& subject_hash, std::size_t limit) = 0;
};

/// The store `cfg` names: backend sqlite (sqlite_path) or postgres (dsn()). Creates the table
/// when missing. Throws std::runtime_error naming the store when it cannot be opened.
std::unique_ptr<ConsentStore> open_consent_store(const config::RegistryConfig& cfg);

/// The scope column's text (a JSON array of strings) and back; throws on anything else.
std::string encode_scope(const std::vector<std::string>& scope);
std::vector<std::string> decode_scope(const std::string& text);

}  // namespace lgsp::consents
