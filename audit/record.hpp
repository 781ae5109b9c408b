#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lgsp::audit {

/// One audited request, as persisted in the hash chain. Carries no personal data in
/// plaintext: subjects are keyed hashes (HMAC-SHA256 of the citizen ID), never the ID.
struct AuditRecord {
  std::int64_t seq = 0;  // position in the chain, 1-based; assigned by the store
  /// Unique per event (the request id: 128 random bits). A redelivered event (same id, same
  /// content) is ignored; the same id with different content is a conflict, kept apart.
  std::string event_id;
  std::int64_t time_unix_ms = 0;
  std::string request_id;
  std::string partner_id;  // "anonymous" when authentication failed
  std::string operation;   // "population.verify", "citizen.profile", "audit.access-log", ...
  /// Keyed hashes (lower-case hex) of the subjects the request touched; empty when none
  /// could be parsed (e.g. an unauthenticated or invalid request).
  std::vector<std::string> subject_hashes;
  std::string purpose;
  std::string on_behalf_of;                  // the officer acting, when given
  std::string procedure_code;                // administrative procedure code, when given
  std::vector<std::string> fields_released;  // empty for verify and denied requests
  std::string outcome;  // "ok", "not_found", "denied", "rate_limited", "invalid", "error"
  std::int32_t http_status = 0;
  std::int64_t latency_us = 0;
  /// Bulk jobs: the job this record belongs to ("" for a single request) and how many
  /// subjects it covers. A job's submission record carries the count without hashes; its
  /// per-chunk records carry the chunk's hashes in subject_hashes.
  std::string batch_id;
  std::int64_t subject_count = 0;
  /// The sending process ("gateway-<instance>-<start nonce>") and its event's number there,
  /// 1, 2, 3… without gaps, so that an event lost on its way to the writer shows as a gap
  /// (`lgsp audit verify`). "" and 0 for records written before sequences existed.
  std::string source;
  std::int64_t source_seq = 0;
  /// A lawful investigation's access: hidden from the citizen's access log until this time,
  /// then listed as withheld under `withholding_ref` (the case or decision number). 0 and ""
  /// for every other access.
  std::int64_t withheld_until_ms = 0;
  std::string withholding_ref;
  /// The citizen's consent this access was made under ("" when none was needed or given).
  std::string consent_id;
  std::string prev_hash;  // hex SHA-256 of the previous record ("" before the first)
  std::string hash;       // hex SHA-256 over prev_hash and every field above
};

}  // namespace lgsp::audit
