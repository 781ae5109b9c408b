#include "audit/chain.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "util/clock.hpp"
#include "util/hashing.hpp"

#include "audit/columns.hpp"

// Canonical encoding hashed by chain_hash() (format "lgsp-audit-v1"). An external auditor
// reimplements exactly this:
//
//   hash = lower-case hex( SHA-256( M ) ), M = the concatenation of
//     str("lgsp-audit-v1")   version tag
//     str(prev_hash)          "" for record 1
//     i64(seq)
//     str(event_id)
//     i64(time_unix_ms)
//     str(request_id)  str(partner_id)  str(operation)
//     list(subject_hashes)
//     str(purpose)  str(on_behalf_of)  str(procedure_code)
//     list(fields_released)
//     str(outcome)
//     i64(http_status)       the 32-bit value sign-extended to 64 bits
//     i64(latency_us)
//   where
//     i64(x)  = 8 bytes, big-endian two's complement
//     str(s)  = i64(byte length of s) followed by the bytes of s as stored (UTF-8, no
//               terminator, no normalisation)
//     list(v) = i64(number of elements) followed by str(e) for each element, in order
//
// Every field is length-prefixed, so no two different records encode to the same bytes.
//
// v2 extension (bulk jobs). A record with batch_id != "" or subject_count != 0 appends, after
// i64(latency_us):
//     str("lgsp-audit-v2:batch")   extension tag
//     str(batch_id)
//     i64(subject_count)
// A record with batch_id == "" and subject_count == 0 appends nothing, so it encodes exactly
// as in v1 and every chain written before the extension still verifies. The v1 part parses
// unambiguously by itself (every field is length-prefixed), so a message with the extension
// is never the same bytes as one without: it has bytes left over after the v1 fields. The tag
// names what follows, so a later extension (a different tag) cannot be read as this one.
//
// v3 extension (event sequences). A record with source != "" or source_seq != 0 appends,
// after the v2 extension if the record has one, else after i64(latency_us):
//     str("lgsp-audit-v3:source")  extension tag
//     str(source)
//     i64(source_seq)
// Records without them encode as before, so older chains still verify.
//
// v4 extension (lawful withholding). A record with withheld_until_ms != 0 or
// withholding_ref != "" appends, after the extensions above that the record has:
//     str("lgsp-audit-v4:withheld")  extension tag
//     i64(withheld_until_ms)
//     str(withholding_ref)
// Records without them encode as before.
//
// v5 extension (consent). A record with consent_id != "" appends, after the extensions above
// that the record has:
//     str("lgsp-audit-v5:consent")  extension tag
//     str(consent_id)
// Records without one encode as before.

namespace lgsp::audit {
namespace {

void put_i64(std::string& out, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((u >> shift) & 0xFFU);
  }
}

void put_str(std::string& out, std::string_view s) {
  put_i64(out, static_cast<std::int64_t>(s.size()));
  out.append(s);
}

void put_list(std::string& out, const std::vector<std::string>& v) {
  put_i64(out, static_cast<std::int64_t>(v.size()));
  for (const auto& s : v) put_str(out, s);
}

/// Incremental SHA-256 over OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
    }
  }
  void update(std::string_view data) {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
      throw std::runtime_error("OpenSSL: SHA-256 update failed");
    }
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) {
      throw std::runtime_error("OpenSSL: SHA-256 final failed");
    }
    return util::to_hex(md, len);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string range(std::int64_t from, std::int64_t to, const std::string& what = "record") {
  return from == to ? what + " " + std::to_string(from)
                    : what + "s " + std::to_string(from) + " to " + std::to_string(to);
}

/// The state of one verify_chain() walk; records after the first problem are still counted so
/// the report tells how long the stored chain is.
class Walker {
 public:
  explicit Walker(const ExpectedHead& expected) : expected_(expected) {}

  void visit(const AuditRecord& r) {
    ++report_.records;
    report_.head_hash = r.hash;
    last_seq_ = r.seq;
    if (check_signed_) {
      if (signed_ && r.seq == signed_->seq) signed_hash_matched_ = r.hash == signed_->hash;
      if ((!signed_ || r.seq > signed_->seq) && r.time_unix_ms < now_ms_ - kUnsignedGraceMs)
        ++old_unsigned_;
    }
    if (!expected_.hash.empty() && r.hash == expected_.hash &&
        (expected_.records == 0 || r.seq == expected_.records)) {
      expected_hash_seen_ = true;
    }
    if (!report_.ok) return;
    if (r.seq != next_seq_) {
      if (r.seq < next_seq_) {
        fail(r.seq, "record " + std::to_string(r.seq) + ": invalid seq (the chain starts at 1)");
      } else if (next_seq_ == 1) {
        fail(1, range(1, r.seq - 1) + " missing: the chain starts at " + std::to_string(r.seq));
      } else {
        fail(next_seq_, range(next_seq_, r.seq - 1) + " missing: chain jumps from " +
                            std::to_string(next_seq_ - 1) + " to " + std::to_string(r.seq));
      }
      return;
    }
    check_record(r);
    if (!report_.ok) return;
    std::vector<std::string> subjects = r.subject_hashes;
    std::sort(subjects.begin(), subjects.end());
    subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
    for (const auto& s : subjects) add_index_row(expected_index_, expected_index_rows_, r.seq, s);
    prev_hash_ = r.hash;
    next_seq_ = r.seq + 1;
    check_source(r);
  }

  /// Each sending process numbers its events 1, 2, 3… and sends them in that order on one
  /// partition, so in the chain they must follow each other without a gap.
  void check_source(const AuditRecord& r) {
    if (r.source.empty()) return;
    std::int64_t& last = last_source_seq_[r.source];
    if (r.source_seq == last + 1) {
      last = r.source_seq;
      return;
    }
    const std::string who = "record " + std::to_string(r.seq) + " (source " + r.source + ")";
    if (r.source_seq <= last) {
      fail(r.seq, who + ": event " + std::to_string(r.source_seq) + " comes after event " +
                      std::to_string(last) + ": events reordered or replayed");
    } else {
      fail(r.seq, who + ": " + range(last + 1, r.source_seq - 1, "event") +
                      " of this source never reached the chain: lost between the gateway "
                      "and the audit writer (look for audit_event_lost in its log)");
    }
  }

  void check_conflicts(AuditStore& store) {
    if (!report_.ok) return;
    if (const std::int64_t n = store.conflicts(); n > 0) {
      fail(0, std::to_string(n) +
                  " event(s) arrived with an event id already in the chain but different "
                  "content (kept in audit_conflict): forged or corrupted events on the audit "
                  "topic; investigate before trusting the trail");
    }
  }

  void check_head() {
    if (!report_.ok) return;
    const std::int64_t want = expected_.records;
    if (want > 0 && last_seq_ < want) {
      fail(last_seq_ + 1,
           "chain ends at record " + std::to_string(last_seq_) + " but " + std::to_string(want) +
               " records were expected: " + range(last_seq_ + 1, want) + " removed from the end");
    } else if (!expected_.hash.empty() && !expected_hash_seen_) {
      if (want > 0) {
        fail(want, "record " + std::to_string(want) + ": hash differs from the expected head " +
                       expected_.hash + ": the chain was rewritten up to this record");
      } else {
        fail(0, "expected head " + expected_.hash +
                    " is not in the chain: records were removed from the end or the chain was "
                    "rewritten");
      }
    }
  }

  /// The writer's signed head, read before the walk (nullopt: never signed).
  void expect_signed(std::optional<SignedHead> head, std::int64_t now_ms) {
    signed_ = std::move(head);
    check_signed_ = true;
    now_ms_ = now_ms;
  }

  void check_signature(const util::Ed25519Verifier& key) {
    if (!report_.ok || !check_signed_) return;
    const std::string tail = std::to_string(old_unsigned_) + " record(s)";
    if (!signed_) {
      if (old_unsigned_ > 0) {
        fail(1, "no signed head: " + tail +
                    " older than a minute are not vouched for by the audit writer's key (it "
                    "signs every append): the chain was written by someone else, or its "
                    "signature deleted");
      }
      return;
    }
    const std::string at = "record " + std::to_string(signed_->seq);
    if (signed_->key_id != key.key_id()) {
      fail(0, "the head is signed by key " + signed_->key_id + ", not by the given key " +
                  key.key_id() + " (another writer key, or a forged signature)");
    } else if (!key.verify(signed_head_message(*signed_), signed_->signature)) {
      fail(signed_->seq, "the signature of the signed head (" + at +
                             ") is invalid: the signed head was forged or altered");
    } else if (signed_->seq > last_seq_) {
      fail(last_seq_ + 1, "the writer signed the chain up to " + at + " but it ends at record " +
                              std::to_string(last_seq_) + ": records removed from the end");
    } else if (!signed_hash_matched_) {
      fail(signed_->seq, at + " differs from the head the audit writer signed: the chain was "
                              "rewritten up to it (hashes recomputed by someone without the "
                              "writer's key)");
    } else if (old_unsigned_ > 0) {
      fail(signed_->seq + 1, tail + " after the signed head (" + at +
                                 ") are older than a minute and unsigned: appended or rewritten "
                                 "by someone without the writer's key (the writer logs "
                                 "audit_chain_left_unsigned when it finds that)");
    }
  }

  void check_index(AuditStore& store) {
    if (!report_.ok) return;
    Sha256 found;
    std::int64_t found_rows = 0;
    const std::int64_t last = last_seq_;
    const bool has_index =
        store.scan_subject_index([&](std::int64_t seq, const std::string& subject) {
          // Rows appended after the chain walk are not part of what was verified.
          if (seq <= last) add_index_row(found, found_rows, seq, subject);
        });
    if (!has_index) return;
    if (found_rows != expected_index_rows_ || found.hex() != expected_index_.hex()) {
      fail(0, "subject index (audit_subject) does not match the log: " +
                  std::to_string(expected_index_rows_) + " entries expected, " +
                  std::to_string(found_rows) +
                  " found; citizens' access-log queries may hide or invent accesses. The log "
                  "itself is intact: rebuild the index from it");
    }
  }

  void fail(std::int64_t seq, std::string problem) {
    if (!report_.ok) return;
    report_.ok = false;
    report_.first_bad_seq = seq;
    report_.problem = std::move(problem);
  }

  std::int64_t next_seq() const { return next_seq_; }
  VerifyReport report() && { return std::move(report_); }

 private:
  void check_record(const AuditRecord& r) {
    const std::string n = std::to_string(r.seq);
    const bool content_ok = chain_hash(r) == r.hash;
    const bool link_ok = r.prev_hash == prev_hash_;
    if (r.seq == 1 && !link_ok) {
      fail(1, content_ok ? "record 1: prev_hash is not empty: the start of the chain was "
                           "rewritten or earlier records were removed"
                         : "record 1: contents altered (hash mismatch, prev_hash not empty)");
    } else if (!content_ok && link_ok) {
      fail(r.seq, "record " + n + ": contents altered (hash mismatch)");
    } else if (!content_ok) {
      fail(r.seq, "record " + n + ": contents altered (hash mismatch) and not linked to record " +
                      std::to_string(r.seq - 1) +
                      " (prev_hash differs): records were replaced or reordered");
    } else if (!link_ok) {
      fail(r.seq, "record " + n + ": not linked to record " + std::to_string(r.seq - 1) +
                      " (prev_hash differs): record " + std::to_string(r.seq - 1) +
                      " was rewritten, or records were removed or reordered");
    }
  }

  static void add_index_row(Sha256& digest, std::int64_t& rows, std::int64_t seq,
                            const std::string& subject) {
    std::string row;
    put_i64(row, seq);
    put_str(row, subject);
    digest.update(row);
    ++rows;
  }

  const ExpectedHead& expected_;
  VerifyReport report_;
  std::string prev_hash_;
  std::int64_t next_seq_ = 1;
  std::int64_t last_seq_ = 0;
  bool expected_hash_seen_ = false;
  std::map<std::string, std::int64_t, std::less<>> last_source_seq_;
  Sha256 expected_index_;
  std::int64_t expected_index_rows_ = 0;
  bool check_signed_ = false;
  std::optional<SignedHead> signed_;
  std::int64_t now_ms_ = 0;
  bool signed_hash_matched_ = false;
  std::int64_t old_unsigned_ = 0;
};

}  // namespace

std::string chain_hash(const AuditRecord& r) {
  std::string m;
  m.reserve(512);
  put_str(m, kChainFormat);
  put_str(m, r.prev_hash);
  put_i64(m, r.seq);
  put_str(m, r.event_id);
  put_i64(m, r.time_unix_ms);
  put_str(m, r.request_id);
  put_str(m, r.partner_id);
  put_str(m, r.operation);
  put_list(m, r.subject_hashes);
  put_str(m, r.purpose);
  put_str(m, r.on_behalf_of);
  put_str(m, r.procedure_code);
  put_list(m, r.fields_released);
  put_str(m, r.outcome);
  put_i64(m, r.http_status);
  put_i64(m, r.latency_us);
  if (!r.batch_id.empty() || r.subject_count != 0) {
    put_str(m, kChainBatchExtension);
    put_str(m, r.batch_id);
    put_i64(m, r.subject_count);
  }
  if (!r.source.empty() || r.source_seq != 0) {
    put_str(m, kChainSourceExtension);
    put_str(m, r.source);
    put_i64(m, r.source_seq);
  }
  if (r.withheld_until_ms != 0 || !r.withholding_ref.empty()) {
    put_str(m, kChainWithheldExtension);
    put_i64(m, r.withheld_until_ms);
    put_str(m, r.withholding_ref);
  }
  if (!r.consent_id.empty()) {
    put_str(m, kChainConsentExtension);
    put_str(m, r.consent_id);
  }
  Sha256 sha;
  sha.update(m);
  return sha.hex();
}

std::string signed_head_message(const SignedHead& h) {
  return "lgsp-audit-head-v1\n" + std::to_string(h.seq) + "\n" + h.hash + "\n" +
         std::to_string(h.signed_unix_ms) + "\n" + h.key_id;
}

VerifyReport verify_chain(AuditStore& store, const ExpectedHead& expected,
                          const util::Ed25519Verifier* key) {
  Walker walker(expected);
  try {
    // Before the walk: appends during it only lengthen the (recent) unsigned tail.
    if (key != nullptr) walker.expect_signed(store.signed_head(), util::unix_ms_now());
    store.scan([&](const AuditRecord& r) { walker.visit(r); });
    walker.check_head();
    if (key != nullptr) walker.check_signature(*key);
    walker.check_index(store);
    walker.check_conflicts(store);
  } catch (const CorruptRecord& e) {
    walker.fail(e.seq(),
                "record " + std::to_string(e.seq()) + ": contents altered (" + e.detail() + ")");
  } catch (const std::exception& e) {
    walker.fail(0, std::string("cannot read the audit log (stopped before record ") +
                       std::to_string(walker.next_seq()) + "): " + e.what());
  }
  return std::move(walker).report();
}

}  // namespace lgsp::audit
