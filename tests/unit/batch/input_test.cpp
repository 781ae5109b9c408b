#include "batch/input.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace lgsp::batch {
namespace {

/// A record as comparable text: "N:{json}" or "N!error".
std::string show(const BatchRecord& r) {
  if (const auto* o = std::get_if<boost::json::object>(&r.value)) {
    return std::to_string(r.number) + ":" + boost::json::serialize(*o);
  }
  return std::to_string(r.number) + "!" + std::get<std::string>(r.value);
}

struct Outcome {
  std::vector<std::string> records;
  std::string error;  // the first body-level error, from feed() or finish()
};

/// Feeds `body` cut into pieces at the given offsets (ascending), then finishes.
Outcome read_cut(BatchFormat format, bool gzip, std::string_view body,
                 const std::vector<std::size_t>& cuts, std::size_t max_record = 16 * 1024) {
  BatchRecordReader reader(format, gzip, max_record);
  Outcome out;
  const auto sink = [&](BatchRecord&& r) { out.records.push_back(show(r)); };
  std::size_t at = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(body.size());
  for (const std::size_t end : ends) {
    out.error = reader.feed(body.substr(at, end - at), sink);
    if (!out.error.empty()) return out;
    at = end;
  }
  out.error = reader.finish(sink);
  return out;
}

Outcome read(BatchFormat format, std::string_view body, std::size_t max_record = 16 * 1024) {
  return read_cut(format, false, body, {}, max_record);
}

Outcome read_bytewise(BatchFormat format, bool gzip, std::string_view body) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  return read_cut(format, gzip, body, cuts);
}

std::string gzip(std::string_view data) {
  z_stream z{};
  // 15 + 16: gzip wrapper, as `gzip` and HTTP clients write it.
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

const std::string kAn =
    R"({"citizen_id":"001099012345","full_name":"Nguyễn Văn An","date_of_birth":"1999-05-01"})";
const std::string kBinh = R"({"citizen_id":"079088001234","gender":"female"})";

std::vector<std::string> expected_an_binh() { return {"1:" + kAn, "2:" + kBinh}; }

TEST(BatchNdjson, ReadsOneRecordPerLine) {
  const auto out = read(BatchFormat::kNdjson, kAn + "\n" + kBinh + "\n");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, expected_an_binh());
}

TEST(BatchNdjson, AcceptsCrlfLineEnds) {
  const auto out = read(BatchFormat::kNdjson, kAn + "\r\n" + kBinh + "\r\n");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, expected_an_binh());
}

TEST(BatchNdjson, SkipsBlankLinesWithoutNumberingThem) {
  const auto out = read(BatchFormat::kNdjson, "\n  \n" + kAn + "\n\t\r\n\n" + kBinh + "\n \n");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, expected_an_binh());
}

TEST(BatchNdjson, ReadsALastLineWithoutNewline) {
  const auto out = read(BatchFormat::kNdjson, kAn + "\n" + kBinh);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, expected_an_binh());
}

TEST(BatchNdjson, AnEmptyBodyHasNoRecords) {
  EXPECT_TRUE(read(BatchFormat::kNdjson, "").records.empty());
  EXPECT_TRUE(read(BatchFormat::kNdjson, "\n\r\n").records.empty());
}

TEST(BatchNdjson, BadLinesAreNumberedErrorsThatNeverQuoteTheLine) {
  const auto out =
      read(BatchFormat::kNdjson, kAn + "\n{\"citizen_id\":\"0010990\n[1,2]\n" +
                                     "\"Nguyễn\"\n{\"a\":1} trailing\n" + kBinh + "\n");
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(out.records.size(), 6u);
  EXPECT_EQ(out.records[0], "1:" + kAn);
  EXPECT_EQ(out.records[1].rfind("2!not a JSON object: ", 0), 0u) << out.records[1];
  EXPECT_EQ(out.records[2], "3!not a JSON object: found an array");
  EXPECT_EQ(out.records[3], "4!not a JSON object: found a string");
  EXPECT_EQ(out.records[4].rfind("5!not a JSON object: ", 0), 0u) << out.records[4];
  EXPECT_EQ(out.records[5], "6:" + kBinh);
  for (const auto& r : out.records) {
    if (r[1] != '!') continue;
    EXPECT_EQ(r.find("0010990"), std::string::npos) << r;
    EXPECT_EQ(r.find("Nguy"), std::string::npos) << r;
    EXPECT_EQ(r.find("trailing"), std::string::npos) << r;
  }
}

TEST(BatchNdjson, InvalidUtf8IsNotAJsonObject) {
  const auto out = read(BatchFormat::kNdjson, "{\"full_name\":\"Nguy\xE1\xBB\"}\n");
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].rfind("1!not a JSON object: ", 0), 0u) << out.records[0];
}

TEST(BatchNdjson, AnOverlongLineIsAnErrorAndTheNextLinesStillCount) {
  const std::string longer = "{\"full_name\":\"" + std::string(100, 'x') + "\"}";
  const std::string exact = "{\"a\":\"" + std::string(42, 'y') + "\"}";  // 50 bytes
  ASSERT_EQ(exact.size(), 50u);
  const std::string body =
      kBinh + "\n" + longer + "\n" + exact + "\r\n" + std::string(200, ' ') + "\n" + kBinh;
  for (const auto& out : {read(BatchFormat::kNdjson, body, 50),
                          read_cut(BatchFormat::kNdjson, false, body, {20, 60, 90, 130}, 50)}) {
    EXPECT_EQ(out.error, "");
    ASSERT_EQ(out.records.size(), 4u);
    EXPECT_EQ(out.records[0], "1:" + kBinh);
    EXPECT_EQ(out.records[1], "2!longer than 50 bytes");
    EXPECT_EQ(out.records[2], "3:" + exact);  // the '\r' of CRLF does not count
    EXPECT_EQ(out.records[3], "4:" + kBinh);  // the blank 200-byte line was skipped
  }
}

TEST(BatchNdjson, AnOverlongLastLineWithoutNewlineIsAnError) {
  const auto out = read(BatchFormat::kNdjson, kBinh + "\n" + std::string(100, 'z'), 50);
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[1], "2!longer than 50 bytes");
}

TEST(BatchNdjson, SkipsAUtf8ByteOrderMark) {
  const auto out = read(BatchFormat::kNdjson, "\xEF\xBB\xBF" + kAn + "\n" + kBinh);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, expected_an_binh());
  // Only at the very start; and a body shorter than a BOM is still data.
  EXPECT_EQ(read(BatchFormat::kNdjson, "\xEF\xBB").records.size(), 1u);
  EXPECT_EQ(read(BatchFormat::kNdjson, "{}").records, std::vector<std::string>{"1:{}"});
}

TEST(BatchNdjson, EveryCutOfTheBodyGivesTheSameRecords) {
  const std::string body = "\xEF\xBB\xBF" + kAn + "\r\n\n   \n[1]\n" + std::string(150, 'q') +
                           "\n" + kBinh + "\r\n" + kAn;
  const auto whole = read(BatchFormat::kNdjson, body, 128);
  ASSERT_EQ(whole.records.size(), 5u);
  EXPECT_EQ(whole.records[0], "1:" + kAn);
  EXPECT_EQ(whole.records[1], "2!not a JSON object: found an array");
  EXPECT_EQ(whole.records[2], "3!longer than 128 bytes");
  EXPECT_EQ(whole.records[3], "4:" + kBinh);
  EXPECT_EQ(whole.records[4], "5:" + kAn);
  EXPECT_EQ(read_cut(BatchFormat::kNdjson, false, body, {}, 128).records, whole.records);
  for (std::size_t cut = 1; cut < body.size(); ++cut) {
    EXPECT_EQ(read_cut(BatchFormat::kNdjson, false, body, {cut}, 128).records, whole.records)
        << "cut at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
  EXPECT_EQ(read_cut(BatchFormat::kNdjson, false, body, every, 128).records, whole.records);
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < body.size(); i += 1 + rng() % 17) cuts.push_back(i);
    EXPECT_EQ(read_cut(BatchFormat::kNdjson, false, body, cuts, 128).records, whole.records);
  }
}

// ------------------------------------------------------------------------------------- CSV

TEST(BatchCsv, RowsBecomeObjectsOfStringsNamedByTheHeader) {
  const auto out = read(BatchFormat::kCsv,
                        " citizen_id ,full_name,date_of_birth\n"
                        "001099012345,Nguyễn Văn An,1999-05-01\n"
                        "079088001234,,1988-02-03\n");
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0], R"(1:{"citizen_id":"001099012345","full_name":"Nguyễn Văn An",)"
                            R"("date_of_birth":"1999-05-01"})");
  // An empty cell is an absent member.
  EXPECT_EQ(out.records[1], R"(2:{"citizen_id":"079088001234","date_of_birth":"1988-02-03"})");
}

TEST(BatchCsv, QuotedFieldsHoldCommasNewlinesAndDoubledQuotes) {
  const auto out = read(BatchFormat::kCsv,
                        "a,b,c\r\n"
                        "\"x, y\",\"line1\nline2\",\"say \"\"hi\"\"\"\r\n"
                        "\"\",\"\"\"\",\"\r\n\"\r\n");
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0], R"(1:{"a":"x, y","b":"line1\nline2","c":"say \"hi\""})");
  EXPECT_EQ(out.records[1], R"(2:{"b":"\"","c":"\r\n"})");
}

TEST(BatchCsv, CrlfAndLfRowEndsAndALastRowWithoutOne) {
  const std::string expected = R"(1:{"a":"1","b":"2"})";
  for (const std::string body : {"a,b\r\n1,2\r\n", "a,b\n1,2\n", "a,b\n1,2", "a,b\r\n1,2\r",
                                 "a,b\n\"1\",\"2\"", "a,b\n\"1\",\"2\"\r\n"}) {
    const auto out = read(BatchFormat::kCsv, body);
    EXPECT_EQ(out.error, "") << body;
    EXPECT_EQ(out.records, std::vector<std::string>{expected}) << body;
  }
}

TEST(BatchCsv, BlankLinesAreNotRows) {
  const auto out = read(BatchFormat::kCsv, "\na,b\n\n1,2\r\n\r\n3,4\n\n");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records,
            (std::vector<std::string>{R"(1:{"a":"1","b":"2"})", R"(2:{"a":"3","b":"4"})"}));
}

TEST(BatchCsv, ARowWithAnotherCellCountIsANumberedError) {
  const auto out = read(BatchFormat::kCsv, "a,b,c\n1,2,3\n1,2\n1,2,3,4\n,,\n7,8,9\n");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records,
            (std::vector<std::string>{
                R"(1:{"a":"1","b":"2","c":"3"})", "2!has 2 cells; the header has 3",
                "3!has 4 cells; the header has 3", "4:{}", R"(5:{"a":"7","b":"8","c":"9"})"}));
}

TEST(BatchCsv, MalformedQuotingIsARecordErrorNotQuotingTheRow) {
  const auto out = read(BatchFormat::kCsv, "a,b\n\"Nguyễn\"x,2\n1,2\n3,\"unclosed");
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(out.records.size(), 3u);
  EXPECT_EQ(out.records[0].rfind("1!has text after the closing quote", 0), 0u) << out.records[0];
  EXPECT_EQ(out.records[1], R"(2:{"a":"1","b":"2"})");
  EXPECT_EQ(out.records[2], "3!has a quoted field that is never closed");
}

TEST(BatchCsv, AnOverlongRowIsAnErrorAndTheRowAfterItIsRead) {
  const auto out = read(BatchFormat::kCsv,
                        "a,b\n\"" + std::string(100, 'x') + "\n,\",2\n1,2\n" +
                            std::string(20, 'y') + "," + std::string(29, 'z') + "\r\n",
                        50);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records,
            (std::vector<std::string>{"1!longer than 50 bytes", R"(2:{"a":"1","b":"2"})",
                                      "3:{\"a\":\"" + std::string(20, 'y') + "\",\"b\":\"" +
                                          std::string(29, 'z') + "\"}"}));
}

TEST(BatchCsv, InvalidUtf8CellIsARecordError) {
  // Windows-1258 or Latin-1 exports are common: say how to fix it.
  const auto out = read(BatchFormat::kCsv, "a,b\n1,Nguy\xEA\x6E\n");
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0], "1!is not valid UTF-8 (column 2); save the file as CSV UTF-8");
}

TEST(BatchCsv, HeaderProblemsEndTheUploadWithoutEchoingIt) {
  struct Case {
    std::string body;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "the CSV body has no header row"},
      {"\n\r\n", "the CSV body has no header row"},
      {"a,,c\n1,2,3\n", "the CSV header row has an empty column name (column 2)"},
      {"a, \n", "the CSV header row has an empty column name (column 2)"},
      {"001099012345,An,001099012345\n",
       "the CSV header row names the same column twice "
       "(columns 1 and 3)"},
      {"a, b ,b\n", "the CSV header row names the same column twice (columns 2 and 3)"},
      {"\"a\"x,b\n", "the CSV header row has text after the closing quote"},
      {"a,\"b\n", "the CSV header row has a quoted column name that is never closed"},
      {"a,b\xFF\n", "the CSV header row is not valid UTF-8 (column 2)"},
      {std::string(60, 'h') + "\n", "the CSV header row is longer than 50 bytes"},
  };
  for (const auto& c : cases) {
    const auto out = read(BatchFormat::kCsv, c.body, 50);
    EXPECT_EQ(out.error.rfind(c.error, 0), 0u) << c.body << " -> " << out.error;
    EXPECT_TRUE(out.records.empty());
    EXPECT_EQ(out.error.find("001099012345"), std::string::npos);
  }
  // The error sticks: later pieces change nothing.
  BatchRecordReader reader(BatchFormat::kCsv, false);
  int seen = 0;
  const auto sink = [&](BatchRecord&&) { ++seen; };
  const std::string first = reader.feed("a,a\n1,2\n", sink);
  EXPECT_NE(first, "");
  EXPECT_EQ(reader.feed("3,4\n", sink), first);
  EXPECT_EQ(reader.finish(sink), first);
  EXPECT_EQ(seen, 0);
}

TEST(BatchCsv, SkipsAByteOrderMarkBeforeTheHeader) {
  const auto out = read(BatchFormat::kCsv,
                        "\xEF\xBB\xBF"
                        "citizen_id\n001099012345\n");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, std::vector<std::string>{R"(1:{"citizen_id":"001099012345"})"});
}

TEST(BatchCsv, EveryCutOfTheBodyGivesTheSameRecords) {
  const std::string body =
      "\xEF\xBB\xBF"
      "citizen_id,full_name\r\n001099012345,\"Nguyễn, \"\"An\"\"\r\nx\"\r\n\r\n1,2,3\n"
      "\"a\"b,c\n" +
      std::string(80, 'w') + ",v\n9,\"unclosed";
  const auto whole = read(BatchFormat::kCsv, body, 64);
  ASSERT_EQ(whole.records.size(), 5u) << whole.error;
  EXPECT_EQ(whole.records[0],
            R"(1:{"citizen_id":"001099012345","full_name":"Nguyễn, \"An\"\r\nx"})");
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
  EXPECT_EQ(read_cut(BatchFormat::kCsv, false, body, every, 64).records, whole.records);
  for (std::size_t cut = 1; cut < body.size(); ++cut) {
    EXPECT_EQ(read_cut(BatchFormat::kCsv, false, body, {cut}, 64).records, whole.records)
        << "cut at " << cut;
  }
}

// ------------------------------------------------------------------------------------ gzip

TEST(BatchGzip, InflatesTheBodyFedInSmallPieces) {
  const std::string plain = kAn + "\n" + kBinh + "\n";
  const std::string packed = gzip(plain);
  const auto out = read_bytewise(BatchFormat::kNdjson, true, packed);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records, expected_an_binh());

  BatchRecordReader reader(BatchFormat::kNdjson, true);
  const auto ignore = [](BatchRecord&&) {};
  EXPECT_EQ(reader.feed(packed, ignore), "");
  EXPECT_EQ(reader.finish(ignore), "");
  EXPECT_EQ(reader.decoded_bytes(), plain.size());
}

TEST(BatchGzip, ReadsConcatenatedMembers) {
  const std::string packed = gzip("a,b\n1,") + gzip("2\n3,4\n") + gzip("");
  const auto out = read_bytewise(BatchFormat::kCsv, true, packed);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.records,
            (std::vector<std::string>{R"(1:{"a":"1","b":"2"})", R"(2:{"a":"3","b":"4"})"}));
}

TEST(BatchGzip, ATruncatedStreamIsAnErrorFromFinish) {
  const std::string packed = gzip(kAn + "\n" + kBinh + "\n");
  for (const std::size_t keep :
       {std::size_t{0}, std::size_t{5}, packed.size() / 2, packed.size() - 1}) {
    BatchRecordReader reader(BatchFormat::kNdjson, true);
    const auto ignore = [](BatchRecord&&) {};
    EXPECT_EQ(reader.feed(std::string_view(packed).substr(0, keep), ignore), "");
    EXPECT_NE(reader.finish(ignore).find("ends before the end of its gzip stream"),
              std::string::npos)
        << keep;
  }
}

TEST(BatchGzip, GarbageIsAnErrorFromFeed) {
  const auto ignore = [](BatchRecord&&) {};
  BatchRecordReader plain_text(BatchFormat::kNdjson, true);
  const std::string error = plain_text.feed(kAn + "\n", ignore);
  EXPECT_NE(error.find("the gzip-compressed body is corrupt"), std::string::npos) << error;
  EXPECT_EQ(error.find("Nguy"), std::string::npos);
  EXPECT_EQ(plain_text.finish(ignore), error);

  // A good member followed by something that is not one.
  BatchRecordReader trailing(BatchFormat::kNdjson, true);
  std::vector<std::string> got;
  const std::string body = gzip(kAn + "\n") + "garbage after the gzip member";
  EXPECT_NE(trailing.feed(body, [&](BatchRecord&& r) { got.push_back(show(r)); }), "");
  EXPECT_EQ(got, std::vector<std::string>{"1:" + kAn});

  // A corrupted byte in the deflate data (CRC or structure check fails).
  std::string flipped = gzip(std::string(5000, 'a') + "\n");
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x55);
  BatchRecordReader corrupt(BatchFormat::kNdjson, true);
  std::string e = corrupt.feed(flipped, ignore);
  if (e.empty()) e = corrupt.finish(ignore);
  EXPECT_NE(e, "");
}

TEST(BatchGzip, StreamsFiftyMegabytesInSixtyFourKibPieces) {
  // Generated on the fly and compressed piecewise, so the test never holds the whole body
  // either: what the reader keeps is bounded by one record and one piece.
  constexpr std::uint64_t kTarget = 50ull << 20;
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  BatchRecordReader reader(BatchFormat::kNdjson, true);
  std::int64_t records = 0, errors = 0, last = 0;
  const auto sink = [&](BatchRecord&& r) {
    ++records;
    if (!std::holds_alternative<boost::json::object>(r.value)) ++errors;
    EXPECT_EQ(r.number, last + 1);
    last = r.number;
  };
  std::string out(64 * 1024, '\0');
  std::uint64_t plain = 0;
  std::int64_t n = 0;
  std::string error;
  const auto pump = [&](int flush, std::string_view in) {
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      deflate(&z, flush);
      const std::size_t produced = out.size() - z.avail_out;
      if (produced > 0 && error.empty()) {
        error = reader.feed(std::string_view(out.data(), produced), sink);
      }
    } while (z.avail_out == 0);
  };
  while (plain < kTarget) {
    std::string chunk;
    while (chunk.size() < 60000) {
      ++n;
      std::string id = std::to_string(n);
      id.insert(0, 12 - std::min<std::size_t>(12, id.size()), '0');
      chunk += R"({"citizen_id":")" + id +
               R"(","full_name":"Nguyễn Văn An","date_of_birth":"1999-05-01","gender":"male"})"
               "\n";
    }
    plain += chunk.size();
    pump(Z_NO_FLUSH, chunk);
  }
  pump(Z_FINISH, {});
  deflateEnd(&z);
  ASSERT_EQ(error, "");
  EXPECT_EQ(reader.finish(sink), "");
  EXPECT_EQ(records, n);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(reader.decoded_bytes(), plain);
}

}  // namespace
}  // namespace lgsp::batch
