#pragma once

#include <cstdint>
#include <string>

#include "audit/record.hpp"
#include "audit/store.hpp"
#include "util/signing.hpp"

namespace lgsp::audit {

/// The version tag that opens every hashed message; a new canonical format gets a new tag.
inline constexpr const char* kChainFormat = "lgsp-audit-v1";
/// Tags the v2 extension (batch_id, subject_count) appended to a v1 message, only for records
/// that carry either field, so that records without them hash exactly as under v1.
inline constexpr const char* kChainBatchExtension = "lgsp-audit-v2:batch";
/// Tags the v3 extension (source, source_seq), appended after the v2 one (when present) for
/// records that carry either field.
inline constexpr const char* kChainSourceExtension = "lgsp-audit-v3:source";
/// Tags the v4 extension (withheld_until_ms, withholding_ref), appended after the others for
/// records that carry either field.
inline constexpr const char* kChainWithheldExtension = "lgsp-audit-v4:withheld";
inline constexpr const char* kChainConsentExtension = "lgsp-audit-v5:consent";

/// Lower-case hex SHA-256 of the record's canonical encoding: prev_hash and every field
/// except `hash` itself; batch_id and subject_count only when either is set (the v2
/// extension). The encoding (see chain.cpp and audit/README.md) is stable so an external
/// auditor can recompute it.
std::string chain_hash(const AuditRecord& r);

/// What an operator noted about the chain earlier (e.g. printed by a previous verify), to
/// detect records removed from the end, which the chain alone cannot show. Either part may be
/// left empty (0 / "") to skip it.
struct ExpectedHead {
  std::int64_t records = 0;  // the chain must still hold at least this many records
  /// The hash of the record at seq == records when `records` is given; otherwise a hash that
  /// some record in the chain must still carry (the chain may have grown since).
  std::string hash;
};

struct VerifyReport {
  bool ok = true;
  std::int64_t records = 0;        // records read
  std::string head_hash;           // hash of the last record read ("" for an empty chain)
  std::int64_t first_bad_seq = 0;  // 0 when ok, or when the problem has no single position
  std::string problem;             // operator words: what is wrong and where; "" when ok
};

/// Walks the whole chain in seq order and reports the first problem: a record whose contents
/// were altered, a record removed (seq gap or broken link), records reordered or replaced, a
/// rewritten chain start, an event lost before it reached the chain (a gap in a sending
/// process's source_seq), events that repeated an id with other content (audit_conflict), a
/// subject index that no longer matches the log, or a head that falls short of `expected`. Reads
/// through the store only, so it sees exactly what is stored. Never throws: a database failure is
/// reported as a problem.
///
/// With `key` (the audit writer's public key) it also checks the writer's signed head: a valid
/// signature by that key, over a (seq, hash) the chain still has; records after it must be
/// recent (appended while verify ran): older unsigned records were written or rewritten by
/// someone without the key. Without `key` the chain is only self-consistent, which anyone
/// who can write the database can arrange.
VerifyReport verify_chain(AuditStore& store, const ExpectedHead& expected = {},
                          const util::Ed25519Verifier* key = nullptr);

/// Records this much older than now may not lie after the signed head (the writer signs in
/// the transaction that appends, so only appends racing a verify are unsigned).
inline constexpr std::int64_t kUnsignedGraceMs = 60'000;

}  // namespace lgsp::audit
