#pragma once

// Internal to the audit stores: the column layout and text encodings both backends share, so
// a file written by one reads back identically through the other and through the verifier.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"

namespace lgsp::audit {

/// The audit_log columns in the order the stores select and insert them. batch_id,
/// subject_count, source, source_seq, withheld_until_ms, withholding_ref and consent_id come
/// last, where ALTER TABLE puts them in a table created before them.
inline constexpr const char* kLogColumns =
    "seq, event_id, time_unix_ms, request_id, partner_id, operation, subject_hashes, purpose, "
    "on_behalf_of, procedure_code, fields_released, outcome, http_status, latency_us, prev_hash, "
    "hash, batch_id, subject_count, source, source_seq, withheld_until_ms, withholding_ref, "
    "consent_id";

/// Whether two records carry the same event: every field but seq, prev_hash and hash (which
/// the store assigns). A repeated event id with different content is a conflict.
bool same_event(const AuditRecord& a, const AuditRecord& b);

/// A record's content (every field but seq, prev_hash and hash) as one JSON array of strings
/// in kLogColumns order, for the audit_conflict table: readable in any SQL console.
std::string describe_event(const AuditRecord& r);

/// A stored row that cannot be turned back into a record (a list column that is not a JSON
/// array of strings, a status out of range): someone wrote to the table by hand.
class CorruptRecord : public std::runtime_error {
 public:
  CorruptRecord(std::int64_t seq, const std::string& detail)
      : std::runtime_error("record " + std::to_string(seq) + ": " + detail),
        seq_(seq),
        detail_(detail) {}
  std::int64_t seq() const { return seq_; }
  const std::string& detail() const { return detail_; }

 private:
  std::int64_t seq_;
  std::string detail_;
};

/// A list column as a JSON array of JSON strings: readable in any SQL console and
/// unambiguous for any content. Bytes >= 0x80 are copied as they are.
std::string encode_list(const std::vector<std::string>& items);
/// Parses what encode_list() writes (and any equivalent JSON array of strings); throws
/// CorruptRecord naming `seq` and `column` for anything else.
std::vector<std::string> decode_list(std::int64_t seq, const char* column, std::string_view text);

/// http_status is 32-bit in the record; a wider stored value is a hand edit, not a status.
std::int32_t checked_status(std::int64_t seq, std::int64_t stored);

}  // namespace lgsp::audit
