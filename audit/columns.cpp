#include "audit/columns.hpp"

#include <limits>

namespace lgsp::audit {
namespace {

constexpr char kHex[] = "0123456789abcdef";

/// A strict reader for `[ "..." , ... ]`; position errors become CorruptRecord.
class ListParser {
 public:
  ListParser(std::int64_t seq, const char* column, std::string_view text)
      : seq_(seq), column_(column), text_(text) {}

  std::vector<std::string> parse() {
    std::vector<std::string> items;
    skip_space();
    expect('[');
    skip_space();
    if (peek() == ']') {
      ++pos_;
    } else {
      for (;;) {
        skip_space();
        items.push_back(string());
        skip_space();
        if (peek() == ']') {
          ++pos_;
          break;
        }
        expect(',');
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the array");
    return items;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw CorruptRecord(seq_, std::string(column_) + " is not a JSON array of strings (" + why +
                                  " at offset " + std::to_string(pos_) + ")");
  }
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  void expect(char c) {
    if (peek() != static_cast<unsigned char>(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++pos_;
  }

  unsigned hex4() {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const int c = peek();
      unsigned d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail("bad \\u escape");
      }
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      const int c = peek();
      if (c < 0) fail("unterminated string");
      ++pos_;
      if (c == '"') return out;
      if (c < 0x20) fail("raw control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      const int e = peek();
      ++pos_;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += static_cast<char>(e);
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair encodes one code point
            expect('\\');
            expect('u');
            const unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("unpaired surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  std::int64_t seq_;
  const char* column_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (const char ch : items[i]) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += ch;
      } else if (c < 0x20) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      } else {
        out += ch;
      }
    }
    out += '"';
  }
  out += ']';
  return out;
}

std::vector<std::string> decode_list(std::int64_t seq, const char* column, std::string_view text) {
  return ListParser(seq, column, text).parse();
}

std::int32_t checked_status(std::int64_t seq, std::int64_t stored) {
  if (stored < std::numeric_limits<std::int32_t>::min() ||
      stored > std::numeric_limits<std::int32_t>::max()) {
    throw CorruptRecord(seq, "http_status " + std::to_string(stored) + " is out of range");
  }
  return static_cast<std::int32_t>(stored);
}

bool same_event(const AuditRecord& a, const AuditRecord& b) {
  return a.event_id == b.event_id && a.time_unix_ms == b.time_unix_ms &&
         a.request_id == b.request_id && a.partner_id == b.partner_id &&
         a.operation == b.operation && a.subject_hashes == b.subject_hashes &&
         a.purpose == b.purpose && a.on_behalf_of == b.on_behalf_of &&
         a.procedure_code == b.procedure_code && a.fields_released == b.fields_released &&
         a.outcome == b.outcome && a.http_status == b.http_status && a.latency_us == b.latency_us &&
         a.batch_id == b.batch_id && a.subject_count == b.subject_count && a.source == b.source &&
         a.source_seq == b.source_seq && a.withheld_until_ms == b.withheld_until_ms &&
         a.withholding_ref == b.withholding_ref && a.consent_id == b.consent_id;
}

std::string describe_event(const AuditRecord& r) {
  return encode_list({r.event_id,
                      std::to_string(r.time_unix_ms),
                      r.request_id,
                      r.partner_id,
                      r.operation,
                      encode_list(r.subject_hashes),
                      r.purpose,
                      r.on_behalf_of,
                      r.procedure_code,
                      encode_list(r.fields_released),
                      r.outcome,
                      std::to_string(r.http_status),
                      std::to_string(r.latency_us),
                      r.batch_id,
                      std::to_string(r.subject_count),
                      r.source,
                      std::to_string(r.source_seq),
                      std::to_string(r.withheld_until_ms),
                      r.withholding_ref,
                      r.consent_id});
}

}  // namespace lgsp::audit
