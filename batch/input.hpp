#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lgsp::batch {

/// How the records of a bulk upload are written.
enum class BatchFormat { kNdjson, kCsv };

/// One record of an upload: its 1-based number (NDJSON: non-blank lines; CSV: data rows after
/// the header) and either the record as a JSON object or why it is not one (worded for the
/// partner, never quoting the record's content: it holds personal data).
struct BatchRecord {
  std::int64_t number = 0;
  std::variant<boost::json::object, std::string> value;
};

/// Splits an upload body, which arrives in pieces, into records.
///
/// Streaming and bounded: it holds at most one record (`max_record_bytes`), the decompressed
/// output of one step (64 KiB) and zlib's inflate state, never the whole body; a longer record
/// is skipped to its end and reported as an error record. Pure: no I/O, no clock, no logs.
///
/// Lifecycle: feed() each piece in order, then finish() once. After a body-level error (corrupt
/// gzip, a CSV header that cannot name the columns) the upload is over: every later call
/// returns the same error and reports no records. Not thread-safe; one reader per upload.
class BatchRecordReader {
 public:
  BatchRecordReader(BatchFormat format, bool gzip,
                    std::size_t max_record_bytes = std::size_t{16} * 1024);
  ~BatchRecordReader();
  BatchRecordReader(const BatchRecordReader&) = delete;
  BatchRecordReader& operator=(const BatchRecordReader&) = delete;

  /// Feeds the next piece of the (possibly gzip-compressed) body; calls on_record for each
  /// complete record. Returns "" or a body-level error that ends the upload, worded for a
  /// partner, naming no personal data.
  std::string feed(std::string_view piece, const std::function<void(BatchRecord&&)>& on_record);

  /// The body ended: reports the last record (one without a trailing newline) and checks that
  /// the gzip stream ended too (a truncated stream is an error).
  std::string finish(const std::function<void(BatchRecord&&)>& on_record);

  /// Bytes after decompression so far (the caller enforces its size limit with this).
  std::uint64_t decoded_bytes() const { return decoded_bytes_; }

 private:
  struct Inflater;
  using Sink = std::function<void(BatchRecord&&)>;

  std::string inflate(std::string_view piece, const Sink& on_record);
  /// Decoded text: strips a leading UTF-8 byte order mark, then hands on to the format.
  void text(std::string_view data, const Sink& on_record);
  void records(std::string_view data, const Sink& on_record);
  void ndjson(std::string_view data, const Sink& on_record);
  void ndjson_line_end(const Sink& on_record);
  void csv(std::string_view data, const Sink& on_record);
  void csv_field_end(bool row_end);
  /// `unterminated`: the body ended inside a quoted field.
  void csv_row_end(const Sink& on_record, bool unterminated);
  /// A CSV row as read: its cells and what went wrong reading it.
  struct CsvRow {
    std::vector<std::string> cells;
    std::size_t cell_count = 0;
    bool too_long = false;
    bool unterminated = false;
    bool after_quote = false;  // text after a closing quote
  };
  /// The first row: the column names, or the body's error.
  void csv_header(CsvRow row);
  /// A data row: the record, or why it is not one.
  std::variant<boost::json::object, std::string> csv_record(CsvRow row) const;

  const BatchFormat format_;
  const std::size_t max_record_bytes_;
  std::unique_ptr<Inflater> inflater_;  // null when the body is not compressed
  std::string error_;                   // the body-level error, once there is one
  std::uint64_t decoded_bytes_ = 0;
  std::int64_t number_ = 0;  // records reported so far
  std::string bom_probe_;    // the first bytes, until they are known not to be a BOM
  bool bom_checked_ = false;

  // The record being read. Beyond max_record_bytes_, content is no longer kept (`too_long_`)
  // but the record is still followed to its end.
  std::string current_;
  std::size_t record_bytes_ = 0;
  bool too_long_ = false;
  bool nonblank_ = false;  // NDJSON: the line holds more than whitespace

  // CSV: the cells of the row so far, the header once read, and the quoting state.
  enum class CsvState { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kAfterQuoted };
  CsvState csv_state_ = CsvState::kFieldStart;
  std::vector<std::string> cells_;
  std::size_t row_cells_ = 0;  // counted even when cells are no longer kept
  char last_byte_ = 0;         // of the row so far (a '\r' before '\n' is no content)
  bool row_text_after_quote_ = false;
  bool have_header_ = false;
  std::vector<std::string> header_;
};

}  // namespace lgsp::batch
