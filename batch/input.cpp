#include "batch/input.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <unordered_map>
#include <utility>

namespace lgsp::batch {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kBlank = " \t\r\f\v";
constexpr std::size_t kInflateStep = std::size_t{64} * 1024;

/// Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), as JSON requires.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      const auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto part : parts) out += part;
  return out;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

const char* kind_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::array:
      return "found an array";
    case boost::json::kind::string:
      return "found a string";
    case boost::json::kind::bool_:
      return "found a boolean";
    case boost::json::kind::null:
      return "found null";
    default:
      return "found a number";
  }
}

}  // namespace

/// zlib's inflate state for a gzip body (one or more concatenated members) and its output
/// buffer; owned by the reader, released with it.
struct BatchRecordReader::Inflater {
  z_stream z{};
  bool member_open = false;  // inside a gzip member that has not ended yet
  bool member_done = false;  // at least one member ended
  std::array<char, kInflateStep> out{};

  Inflater() {
    // 15 + 16: a 32 KiB window, gzip wrapper only (a zlib or raw stream is corrupt here).
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::bad_alloc();
  }
  ~Inflater() { inflateEnd(&z); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

BatchRecordReader::BatchRecordReader(BatchFormat format, bool gzip, std::size_t max_record_bytes)
    : format_(format),
      max_record_bytes_(max_record_bytes),
      inflater_(gzip ? std::make_unique<Inflater>() : nullptr) {}

BatchRecordReader::~BatchRecordReader() = default;

std::string BatchRecordReader::feed(std::string_view piece, const Sink& on_record) {
  if (!error_.empty() || piece.empty()) return error_;
  if (inflater_) return inflate(piece, on_record);
  text(piece, on_record);
  return error_;
}

std::string BatchRecordReader::inflate(std::string_view piece, const Sink& on_record) {
  Inflater& inf = *inflater_;
  while (!piece.empty() && error_.empty()) {
    // avail_in is 32 bits wide: hand over at most 1 GiB per round.
    const std::size_t take = std::min<std::size_t>(piece.size(), std::size_t{1} << 30);
    // zlib declares next_in non-const but only reads through it.
    inf.z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(piece.data()));
    inf.z.avail_in = static_cast<uInt>(take);
    piece.remove_prefix(take);
    do {
      if (!inf.member_open) {
        // Another member follows the one that ended (`cat a.gz b.gz` is a valid gzip body).
        if (inf.member_done) inflateReset(&inf.z);
        inf.member_open = true;
      }
      inf.z.next_out = reinterpret_cast<Bytef*>(inf.out.data());
      inf.z.avail_out = static_cast<uInt>(inf.out.size());
      const int rc = ::inflate(&inf.z, Z_NO_FLUSH);
      const std::size_t produced = inf.out.size() - inf.z.avail_out;
      if (produced > 0) text(std::string_view(inf.out.data(), produced), on_record);
      if (!error_.empty()) return error_;
      if (rc == Z_STREAM_END) {
        inf.member_open = false;
        inf.member_done = true;
        if (inf.z.avail_in == 0) break;
        continue;
      }
      if (rc == Z_BUF_ERROR) break;  // no progress possible: everything given was used
      if (rc != Z_OK) {
        error_ = std::string("the gzip-compressed body is corrupt (") +
                 (inf.z.msg != nullptr ? inf.z.msg : "inflate error " + std::to_string(rc)) +
                 "); send the file exactly as gzip wrote it, or drop `Content-Encoding: gzip` "
                 "for an uncompressed body";
        return error_;
      }
    } while (inf.z.avail_in > 0 || inf.z.avail_out == 0);
  }
  return error_;
}

std::string BatchRecordReader::finish(const Sink& on_record) {
  if (!error_.empty()) return error_;
  if (inflater_ && (inflater_->member_open || !inflater_->member_done)) {
    error_ =
        "the gzip-compressed body ends before the end of its gzip stream (a truncated upload?); "
        "send the whole file again";
    return error_;
  }
  if (!bom_checked_) {  // a body of at most two bytes, all of them a BOM's first ones
    bom_checked_ = true;
    records(std::exchange(bom_probe_, {}), on_record);
  }
  if (format_ == BatchFormat::kNdjson) {
    if (record_bytes_ > 0) ndjson_line_end(on_record);
  } else {
    if (error_.empty() && record_bytes_ > 0) {  // the last row has no line end
      const bool unterminated = csv_state_ == CsvState::kQuoted;
      csv_field_end(true);
      csv_row_end(on_record, unterminated);
    }
    if (error_.empty() && !have_header_) {
      error_ =
          "the CSV body has no header row; its first row must name the columns (e.g. "
          "citizen_id,full_name,date_of_birth,gender)";
    }
  }
  return error_;
}

void BatchRecordReader::text(std::string_view data, const Sink& on_record) {
  decoded_bytes_ += data.size();
  if (!bom_checked_) {
    // The byte order mark may be split across pieces: collect up to three bytes, and give
    // them on as data as soon as they stop looking like one.
    while (!data.empty() && bom_probe_.size() < kBom.size() &&
           data.front() == kBom[bom_probe_.size()]) {
      bom_probe_ += data.front();
      data.remove_prefix(1);
    }
    if (bom_probe_.size() < kBom.size() && data.empty()) return;  // undecided yet
    bom_checked_ = true;
    const std::string probe = std::move(bom_probe_);
    if (probe != kBom) records(probe, on_record);
    if (!error_.empty()) return;
  }
  records(data, on_record);
}

void BatchRecordReader::records(std::string_view data, const Sink& on_record) {
  if (format_ == BatchFormat::kNdjson) {
    ndjson(data, on_record);
  } else {
    csv(data, on_record);
  }
}

// ---------------------------------------------------------------------------------- NDJSON

void BatchRecordReader::ndjson(std::string_view data, const Sink& on_record) {
  while (!data.empty()) {
    const auto nl = data.find('\n');
    const std::string_view seg = data.substr(0, nl);
    record_bytes_ += seg.size();
    if (!nonblank_) nonblank_ = seg.find_first_not_of(kBlank) != std::string_view::npos;
    if (!too_long_) {
      // One byte of slack for the '\r' of a CRLF line end.
      if (record_bytes_ > max_record_bytes_ + 1) {
        too_long_ = true;
        std::string().swap(current_);
      } else {
        current_.append(seg);
      }
    }
    if (nl == std::string_view::npos) return;
    ndjson_line_end(on_record);
    data.remove_prefix(nl + 1);
  }
}

void BatchRecordReader::ndjson_line_end(const Sink& on_record) {
  const bool blank = !nonblank_;
  const bool too_long = too_long_ || [&] {
    std::size_t n = current_.size();
    if (n > 0 && current_.back() == '\r') --n;
    return n > max_record_bytes_;
  }();
  std::string line = std::move(current_);
  current_.clear();
  record_bytes_ = 0;
  too_long_ = false;
  nonblank_ = false;
  if (blank) return;
  BatchRecord rec;
  rec.number = ++number_;
  if (too_long) {
    rec.value = "longer than " + std::to_string(max_record_bytes_) + " bytes";
  } else {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    if (ec) {
      rec.value = "not a JSON object: " + ec.message();
    } else if (!v.is_object()) {
      rec.value = std::string("not a JSON object: ") + kind_of(v);
    } else {
      rec.value = std::move(v.get_object());
    }
  }
  on_record(std::move(rec));
}

// ------------------------------------------------------------------------------------- CSV

void BatchRecordReader::csv(std::string_view data, const Sink& on_record) {
  for (const char c : data) {
    if (c == '\n' && csv_state_ != CsvState::kQuoted) {
      csv_field_end(true);
      csv_row_end(on_record, false);
      if (!error_.empty()) return;
      continue;
    }
    last_byte_ = c;
    ++record_bytes_;
    if (!too_long_ && record_bytes_ > max_record_bytes_ + 1) {
      too_long_ = true;
      std::vector<std::string>().swap(cells_);
      std::string().swap(current_);
    }
    switch (csv_state_) {
      case CsvState::kFieldStart:
        if (c == '"') {
          csv_state_ = CsvState::kQuoted;
        } else if (c == ',') {
          csv_field_end(false);
        } else {
          if (!too_long_) current_ += c;
          csv_state_ = CsvState::kUnquoted;
        }
        break;
      case CsvState::kUnquoted:
        if (c == ',') {
          csv_field_end(false);
        } else if (!too_long_) {
          current_ += c;
        }
        break;
      case CsvState::kQuoted:
        if (c == '"') {
          csv_state_ = CsvState::kQuoteInQuoted;
        } else if (!too_long_) {
          current_ += c;
        }
        break;
      case CsvState::kQuoteInQuoted:
        if (c == '"') {  // "" inside a quoted field is one quote
          if (!too_long_) current_ += c;
          csv_state_ = CsvState::kQuoted;
          break;
        }
        csv_state_ = CsvState::kAfterQuoted;
        [[fallthrough]];
      case CsvState::kAfterQuoted:
        if (c == ',') {
          csv_field_end(false);
        } else if (c != '\r') {
          row_text_after_quote_ = true;
        }
        break;
    }
  }
}

void BatchRecordReader::csv_field_end(bool row_end) {
  // A CRLF row end leaves its '\r' on the last unquoted field.
  if (row_end && csv_state_ == CsvState::kUnquoted && !current_.empty() &&
      current_.back() == '\r') {
    current_.pop_back();
  }
  if (!too_long_) cells_.push_back(std::move(current_));
  current_.clear();
  ++row_cells_;
  csv_state_ = CsvState::kFieldStart;
}

void BatchRecordReader::csv_row_end(const Sink& on_record, bool unterminated) {
  // The '\r' of a CRLF row end is not part of the record.
  const std::size_t length = record_bytes_ - (last_byte_ == '\r' ? 1 : 0);
  const bool empty_line = row_cells_ == 1 && length == 0;
  CsvRow row{std::move(cells_), row_cells_, too_long_ || length > max_record_bytes_, unterminated,
             row_text_after_quote_};
  cells_.clear();
  record_bytes_ = 0;
  row_cells_ = 0;
  last_byte_ = 0;
  too_long_ = false;
  row_text_after_quote_ = false;
  if (empty_line) return;  // blank lines (a trailing one, say) are not rows
  if (!have_header_) {
    csv_header(std::move(row));
    return;
  }
  BatchRecord rec;
  rec.number = ++number_;
  rec.value = csv_record(std::move(row));
  on_record(std::move(rec));
}

void BatchRecordReader::csv_header(CsvRow row) {
  const std::string which = "the CSV header row ";
  if (row.too_long) {
    error_ = which + "is longer than " + std::to_string(max_record_bytes_) + " bytes";
  } else if (row.unterminated) {
    error_ = which + "has a quoted column name that is never closed";
  } else if (row.after_quote) {
    error_ = which + "has text after the closing quote of a column name";
  }
  if (!error_.empty()) return;
  auto& cells = row.cells;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    // Column names are not echoed: a body without a header row would have a citizen's data
    // in its first row.
    const std::string col = "column " + std::to_string(i + 1);
    if (!valid_utf8(cells[i])) {
      error_ = cat({which, "is not valid UTF-8 (", col, "); save the file as CSV UTF-8"});
      return;
    }
    cells[i] = std::string(trim(cells[i]));
    if (cells[i].empty()) {
      error_ = cat(
          {which, "has an empty column name (", col, "); the first row must name every column"});
      return;
    }
  }
  std::unordered_map<std::string_view, std::size_t> first;  // name -> its column
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (const auto [it, fresh] = first.emplace(cells[i], i); !fresh) {
      error_ = cat({which, "names the same column twice (columns ", std::to_string(it->second + 1),
                    " and ", std::to_string(i + 1), ")"});
      return;
    }
  }
  header_ = std::move(cells);
  have_header_ = true;
}

std::variant<boost::json::object, std::string> BatchRecordReader::csv_record(CsvRow row) const {
  if (row.too_long) return "longer than " + std::to_string(max_record_bytes_) + " bytes";
  if (row.unterminated) return std::string("has a quoted field that is never closed");
  if (row.after_quote) {
    return std::string(
        "has text after the closing quote of a field (a quote inside a quoted field is "
        "written as two quotes)");
  }
  if (row.cell_count != header_.size()) {
    return "has " + std::to_string(row.cell_count) + " cells; the header has " +
           std::to_string(header_.size());
  }
  boost::json::object obj;
  for (std::size_t i = 0; i < row.cells.size(); ++i) {
    if (row.cells[i].empty()) continue;  // an empty cell is an absent member
    if (!valid_utf8(row.cells[i])) {
      return "is not valid UTF-8 (column " + std::to_string(i + 1) +
             "); save the file as CSV UTF-8";
    }
    obj[header_[i]] = row.cells[i];
  }
  return obj;
}

}  // namespace lgsp::batch
