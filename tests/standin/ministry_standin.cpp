// lgsp-ministry-standin: ministries' systems as the upstream REST backend sees them, for
// tests and the dev stack. NOT part of the product: it plays the other side, with the
// ministries' own field names, and fails on request so tests can drive every failure.
//
// With --population-db (a Ministry of Public Security population system):
//   GET /api/v2/cong-dan/{so_dinh_danh}   200 {"data":{…}} or 404
//   GET /api/v2/cong-dan/cmnd/{so_cmnd}   the same, by the old 9-digit card number
// With --civil-status-db (a Ministry of Justice civil-status system):
//   GET /api/v1/ho-tich/{so_dinh_danh}    200 {"data":{"soDinhDanh":…,"dangKy":[…]}}, the
//                                         citizen's registrations (an empty list when none)
//   POST /api/v1/ho-tich/khai-sinh        records a birth (Idempotency-Key required): 201
//                                         {"registration_number"}, 409 when already recorded
//   POST /api/v1/ho-tich/khai-sinh/huy    undoes the birth recorded under the key without
//                                         its "/undo" suffix: 200 {}
//   POST /api/v1/ho-tich/khai-tu[/huy]    the same for a death (date_of_death)
//   GET /__stats                          {"requests":N,"connections":M,"open":K}: API
//                                         requests received, connections accepted, still open
//
// Faults, per request by header `X-Standin-Fault: SPEC`, by a path prefix `/__fault/SPEC/…`
// (for clients that cannot add a header, such as the gateway's connector: put it in
// base_url), or for every request by `--fault SPEC`. SPEC is a comma-separated list of
// slow=<ms> | status=<code> | malformed | truncated | wrong-type | reset | oversize.
// `--fail-first N` answers the first N API requests 503.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "util/sqlite.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// ------------------------------------------------------------------------------- the data

/// "YYYY-MM-DD" → "DD/MM/YYYY", the ministry's way; anything else as it is.
std::string ministry_date(const std::string& iso) {
  if (iso.size() != 10 || iso[4] != '-' || iso[7] != '-') return iso;
  return iso.substr(8, 2) + "/" + iso.substr(5, 2) + "/" + iso.substr(0, 4);
}

json::object error_body(std::string_view code, std::string_view message) {
  return {{"error", {{"ma", code}, {"thongDiep", message}}}};
}

/// The gateway's seeded population file, read-only, answering in the ministry's shape.
class Population {
 public:
  explicit Population(const std::string& path)
      : db_(lgsp::sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX)),
        by_id_(select("citizen_id")),
        by_legacy_(select("legacy_id_number")) {}

  std::optional<json::object> by_id(std::string_view id) { return find(by_id_.get(), id); }
  std::optional<json::object> by_legacy(std::string_view id) { return find(by_legacy_.get(), id); }

 private:
  lgsp::sqlite::Stmt select(const char* key) {
    return lgsp::sqlite::prepare(
        db_.get(),
        "SELECT citizen_id, full_name, date_of_birth, gender, place_of_origin, province, "
        "district, commune, id_card_issue_date, legacy_id_number FROM citizens WHERE " +
            std::string(key) + " = ?1");
  }

  static std::optional<json::object> find(sqlite3_stmt* s, std::string_view id) {
    const lgsp::sqlite::ResetGuard reset(s);
    lgsp::sqlite::bind_text(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW) return std::nullopt;
    const auto col = [s](int i) { return lgsp::sqlite::column_text(s, i); };
    json::object data;
    data["soDinhDanh"] = col(0);
    data["hoVaTen"] = col(1);
    data["ngaySinh"] = ministry_date(col(2));
    data["gioiTinh"] = col(3) == "male" ? "Nam" : "Nữ";
    data["queQuan"] = col(4);
    data["noiThuongTru"] = {{"tinh", col(5)}, {"huyen", col(6)}, {"xa", col(7)}};
    data["ngayCapCccd"] = ministry_date(col(8));
    const std::string legacy = col(9);
    data["soCmnd"] = legacy.empty() ? json::value(nullptr) : json::value(legacy);
    return data;
  }

  lgsp::sqlite::Db db_;
  lgsp::sqlite::Stmt by_id_;
  lgsp::sqlite::Stmt by_legacy_;
};

/// The gateway's seeded civil-status file, answering as the Ministry of Justice's system
/// would: its own names for kinds and states, dates as DD/MM/YYYY. It also records births
/// (the registries' command contract: {"command","command_id","args"} in, a flat JSON object
/// of the result out), each once per Idempotency-Key.
class CivilStatus {
 public:
  explicit CivilStatus(const std::string& path)
      : db_(lgsp::sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX)),
        by_citizen_(lgsp::sqlite::prepare(
            db_.get(),
            "SELECT registration_number, kind, spouse_citizen_id, event_date, "
            "place_of_registration, registered_on, status FROM civil_events "
            "WHERE citizen_id = ?1 ORDER BY registration_number")) {}

  json::object by_id(std::string_view id) {
    sqlite3_stmt* s = by_citizen_.get();
    const lgsp::sqlite::ResetGuard reset(s);
    lgsp::sqlite::bind_text(s, 1, id);
    json::array list;
    while (sqlite3_step(s) == SQLITE_ROW) {
      const auto col = [s](int i) { return lgsp::sqlite::column_text(s, i); };
      const std::string kind = col(1);
      json::object e;
      e["soDangKy"] = col(0);
      e["loaiViec"] = kind == "birth" ? "KHAI_SINH" : kind == "death" ? "KHAI_TU" : "KET_HON";
      if (kind == "marriage") e["soDinhDanhVoChong"] = col(2);
      e["ngaySuKien"] = ministry_date(col(3));
      e["noiDangKy"] = col(4);
      e["ngayDangKy"] = ministry_date(col(5));
      e["tinhTrang"] = col(6) == "dissolved" ? "DA_LY_HON" : "DA_DANG_KY";
      list.push_back(std::move(e));
    }
    return {{"soDinhDanh", id}, {"dangKy", std::move(list)}};
  }

  /// POST /api/v1/ho-tich/khai-sinh (record a birth), /api/v1/ho-tich/khai-tu (a death) or
  /// either + /huy (undo the one recorded under the key without "/undo"): status and body,
  /// the same again for a key already seen.
  std::pair<http::status, json::object> command(std::string_view path, std::string_view body,
                                                const std::string& key) {
    lgsp::sqlite::exec(db_.get(),
                       "CREATE TABLE IF NOT EXISTS lenh_da_nhan (khoa TEXT PRIMARY KEY,"
                       " trang_thai INTEGER NOT NULL, than TEXT NOT NULL,"
                       " so_dinh_danh TEXT NOT NULL); BEGIN IMMEDIATE");
    auto answer = seen(key);
    if (!answer) {
      std::string citizen;
      const bool death = path.starts_with("/api/v1/ho-tich/khai-tu");
      answer = path.ends_with("/huy") ? undo(key, death) : record(body, death, citizen);
      remember(key, *answer, citizen);
    }
    lgsp::sqlite::exec(db_.get(), "COMMIT");
    return *answer;
  }

 private:
  using Answer = std::pair<http::status, json::object>;

  std::optional<Answer> seen(const std::string& key) {
    auto s = lgsp::sqlite::prepare(db_.get(),
                                   "SELECT trang_thai, than FROM lenh_da_nhan WHERE khoa = ?1");
    lgsp::sqlite::bind_text(s.get(), 1, key);
    if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
    return Answer{static_cast<http::status>(sqlite3_column_int(s.get(), 0)),
                  json::parse(lgsp::sqlite::column_text(s.get(), 1)).as_object()};
  }
  void remember(const std::string& key, const Answer& a, const std::string& citizen) {
    auto s = lgsp::sqlite::prepare(db_.get(), "INSERT INTO lenh_da_nhan VALUES (?1, ?2, ?3, ?4)");
    const std::string text = json::serialize(a.second);
    lgsp::sqlite::bind_text(s.get(), 1, key);
    sqlite3_bind_int(s.get(), 2, static_cast<int>(a.first));
    lgsp::sqlite::bind_text(s.get(), 3, text);
    lgsp::sqlite::bind_text(s.get(), 4, citizen);
    sqlite3_step(s.get());
  }
  Answer record(std::string_view body, bool death, std::string& citizen) {
    boost::system::error_code ec;
    const auto v = json::parse(body, ec);
    const auto* args = !ec && v.is_object() ? v.as_object().if_contains("args") : nullptr;
    if (args == nullptr || !args->is_object()) {
      return {http::status::bad_request, error_body("SAI_DU_LIEU", "Thiếu args")};
    }
    const auto arg = [args](const char* k) {
      const auto* m = args->as_object().if_contains(k);
      return m != nullptr && m->is_string() ? std::string(m->as_string()) : std::string();
    };
    citizen = arg("citizen_id");
    const std::string kind = death ? "death" : "birth";
    const std::string date = arg(death ? "date_of_death" : "date_of_birth");
    if (citizen.empty() || date.size() != 10) {
      return {http::status::unprocessable_entity, error_body("SAI_DU_LIEU", "Thiếu thông tin")};
    }
    auto exists = lgsp::sqlite::prepare(
        db_.get(), "SELECT 1 FROM civil_events WHERE citizen_id = ?1 AND kind = ?2");
    lgsp::sqlite::bind_text(exists.get(), 1, citizen);
    lgsp::sqlite::bind_text(exists.get(), 2, kind);
    if (sqlite3_step(exists.get()) == SQLITE_ROW) {
      return {http::status::conflict,
              error_body("DA_DANG_KY", death ? "Đã đăng ký khai tử" : "Đã đăng ký khai sinh")};
    }
    // The registration number: KS.<year>.<7 digits> (KT. a death), from the count of events.
    auto n = lgsp::sqlite::prepare(db_.get(), "SELECT count(*) + 1 FROM civil_events");
    sqlite3_step(n.get());
    char number[32];
    std::snprintf(number, sizeof number, "%s.%s.%07lld", death ? "KT" : "KS",
                  date.substr(0, 4).c_str(),
                  static_cast<long long>(sqlite3_column_int64(n.get(), 0) % 10000000));
    auto insert = lgsp::sqlite::prepare(
        db_.get(),
        "INSERT INTO civil_events VALUES (?1, ?5, ?2, '', ?3, ?4, date('now'), 'registered')");
    lgsp::sqlite::bind_text(insert.get(), 5, kind);
    const std::string place = arg("place_of_registration");
    lgsp::sqlite::bind_text(insert.get(), 1, number);
    lgsp::sqlite::bind_text(insert.get(), 2, citizen);
    lgsp::sqlite::bind_text(insert.get(), 3, date);
    lgsp::sqlite::bind_text(insert.get(), 4, place);
    sqlite3_step(insert.get());
    return {http::status::created, {{"registration_number", number}}};
  }
  Answer undo(const std::string& key, bool death) {
    constexpr std::string_view kUndo = "/undo";
    const std::string original =
        key.ends_with(kUndo) ? key.substr(0, key.size() - kUndo.size()) : key;
    auto s = lgsp::sqlite::prepare(
        db_.get(), "SELECT so_dinh_danh, trang_thai FROM lenh_da_nhan WHERE khoa = ?1");
    lgsp::sqlite::bind_text(s.get(), 1, original);
    if (sqlite3_step(s.get()) == SQLITE_ROW && sqlite3_column_int(s.get(), 1) == 201) {
      auto del = lgsp::sqlite::prepare(
          db_.get(), "DELETE FROM civil_events WHERE citizen_id = ?1 AND kind = ?2");
      const std::string citizen = lgsp::sqlite::column_text(s.get(), 0);
      lgsp::sqlite::bind_text(del.get(), 1, citizen);
      lgsp::sqlite::bind_text(del.get(), 2, death ? "death" : "birth");
      sqlite3_step(del.get());
      // Whose birth it undid: the gateway's audit names the citizen.
      return {http::status::ok, json::object{{"citizen_id", citizen}}};
    }
    return {http::status::ok, json::object{}};
  }

  lgsp::sqlite::Db db_;
  lgsp::sqlite::Stmt by_citizen_;
};

// ----------------------------------------------------------------------------------- faults

struct Fault {
  int slow_ms = 0;
  int status = 0;
  bool malformed = false;
  bool truncated = false;
  bool wrong_type = false;
  bool reset = false;
  bool oversize = false;
};

bool parse_int(std::string_view text, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

/// Adds one fault to `f`; false when it names something unknown.
bool add_fault(std::string_view item, Fault& f) {
  if (item.starts_with("slow=")) return parse_int(item.substr(5), f.slow_ms) && f.slow_ms >= 0;
  if (item.starts_with("status=")) {
    return parse_int(item.substr(7), f.status) && f.status >= 100 && f.status <= 599;
  }
  bool* flag = item == "malformed"    ? &f.malformed
               : item == "truncated"  ? &f.truncated
               : item == "wrong-type" ? &f.wrong_type
               : item == "reset"      ? &f.reset
               : item == "oversize"   ? &f.oversize
                                      : nullptr;
  if (flag == nullptr) return false;
  *flag = true;
  return true;
}

/// Adds the faults of a comma-separated `spec` to `f`; false when one is unknown.
bool add_faults(std::string_view spec, Fault& f) {
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? "" : spec.substr(comma + 1);
    if (!item.empty() && !add_fault(item, f)) return false;
  }
  return true;
}

// ----------------------------------------------------------------------------------- server

struct Flags {
  std::uint16_t port = 0;
  std::string population_db;
  std::string civil_status_db;
  std::string token_env;
  int fail_first = 0;
  std::string fault;
  int keep_alive_ms = 60000;
  std::string tls_cert, tls_key, client_ca;
};

/// What to do with one request: answer (after `delay`), send `raw` bytes and close, or reset.
struct Plan {
  Response response;
  int delay_ms = 0;
  bool reset = false;
  std::optional<std::string> raw;
};

Response json_answer(http::status status, const json::value& body, unsigned version) {
  Response r{status, version};
  r.set(http::field::content_type, "application/json; charset=utf-8");
  r.body() = json::serialize(body);
  return r;
}

class Standin {
 public:
  Standin(const Flags& flags, std::string token)
      : population_(flags.population_db.empty()
                        ? std::nullopt
                        : std::make_optional<Population>(flags.population_db)),
        civil_status_(flags.civil_status_db.empty()
                          ? std::nullopt
                          : std::make_optional<CivilStatus>(flags.civil_status_db)),
        token_(std::move(token)),
        fail_left_(flags.fail_first),
        global_fault_(flags.fault),
        keep_alive_(flags.keep_alive_ms) {}

  /// Counts a connection while it is open.
  struct Open {
    explicit Open(Standin& s) : s_(s) {
      ++s_.connections_;
      ++s_.open_;
    }
    ~Open() { --s_.open_; }
    Open(const Open&) = delete;
    Open& operator=(const Open&) = delete;
    Standin& s_;
  };
  std::chrono::milliseconds keep_alive() const { return keep_alive_; }
  Plan handle(const Request& req);

 private:
  /// An API request: the token, --fail-first, the faults, then the lookup.
  void answer(const Request& req, std::string_view path, Plan& plan);
  Response lookup(std::string_view path, unsigned version);
  void apply(const Fault& f, Plan& plan);

  std::optional<Population> population_;
  std::optional<CivilStatus> civil_status_;
  std::string token_;
  int fail_left_;
  std::string global_fault_;
  std::chrono::milliseconds keep_alive_;
  std::int64_t requests_ = 0;
  std::int64_t connections_ = 0;
  std::int64_t open_ = 0;
};

Plan Standin::handle(const Request& req) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  Plan plan;
  if (path == "/__stats") {
    plan.response = json_answer(
        http::status::ok, {{"requests", requests_}, {"connections", connections_}, {"open", open_}},
        req.version());
  } else {
    ++requests_;
    answer(req, path, plan);
  }
  plan.response.keep_alive(req.keep_alive());
  plan.response.prepare_payload();
  return plan;
}

void Standin::answer(const Request& req, std::string_view path, Plan& plan) {
  const unsigned v = req.version();
  Fault fault;
  bool faults_ok = add_faults(global_fault_, fault) &&
                   add_faults(std::string_view(req["X-Standin-Fault"]), fault);
  if (path.starts_with("/__fault/")) {
    path.remove_prefix(9);
    const auto slash = path.find('/');
    faults_ok = faults_ok && add_faults(path.substr(0, slash), fault);
    path = slash == std::string_view::npos ? "" : path.substr(slash);
  }
  if (!token_.empty() && req[http::field::authorization] != "Bearer " + token_) {
    plan.response =
        json_answer(http::status::unauthorized, error_body("CHUA_XAC_THUC", "Sai mã truy cập"), v);
    plan.response.set(http::field::www_authenticate, "Bearer");
  } else if (fail_left_ > 0) {
    --fail_left_;
    plan.response = json_answer(http::status::service_unavailable,
                                error_body("TAM_NGUNG", "Hệ thống tạm ngừng"), v);
  } else if (!faults_ok) {
    plan.response = json_answer(http::status::bad_request,
                                error_body("LOI_KIEM_THU", "unknown X-Standin-Fault"), v);
  } else if (req.method() == http::verb::post && civil_status_ &&
             (path.starts_with("/api/v1/ho-tich/khai-sinh") ||
              path.starts_with("/api/v1/ho-tich/khai-tu"))) {
    const std::string key(req["Idempotency-Key"]);
    if (key.empty()) {
      plan.response = json_answer(http::status::bad_request,
                                  error_body("THIEU_KHOA", "Thiếu Idempotency-Key"), v);
    } else {
      auto [status, body] = civil_status_->command(path, req.body(), key);
      plan.response = json_answer(status, body, v);
    }
    apply(fault, plan);
  } else if (req.method() != http::verb::get) {
    plan.response = json_answer(
        http::status::method_not_allowed,
        error_body("SAI_PHUONG_THUC", "Chỉ hỗ trợ GET (và POST khai sinh, khai tử)"), v);
  } else {
    plan.response = lookup(path, v);
    apply(fault, plan);
  }
}

Response Standin::lookup(std::string_view path, unsigned version) {
  constexpr std::string_view kById = "/api/v2/cong-dan/";
  constexpr std::string_view kByCard = "/api/v2/cong-dan/cmnd/";
  constexpr std::string_view kCivil = "/api/v1/ho-tich/";
  std::optional<json::object> data;
  if (population_ && path.starts_with(kByCard)) {
    data = population_->by_legacy(path.substr(kByCard.size()));
  } else if (population_ && path.starts_with(kById)) {
    data = population_->by_id(path.substr(kById.size()));
  } else if (civil_status_ && path.starts_with(kCivil)) {
    data = civil_status_->by_id(path.substr(kCivil.size()));
  } else {
    return json_answer(http::status::not_found,
                       error_body("KHONG_CO_DICH_VU", "Không có dịch vụ này"), version);
  }
  if (!data) {
    return json_answer(http::status::not_found,
                       error_body("KHONG_TIM_THAY", "Không tìm thấy công dân"), version);
  }
  return json_answer(http::status::ok, json::object{{"data", std::move(*data)}}, version);
}

void Standin::apply(const Fault& f, Plan& plan) {
  Response& r = plan.response;
  plan.delay_ms = f.slow_ms;
  plan.reset = f.reset;
  if (f.status != 0) {
    r.result(static_cast<unsigned>(f.status));
    r.body() = json::serialize(error_body("LOI_KIEM_THU", "status chosen by the test"));
  }
  if (f.oversize) {
    // Valid JSON, just too much of it: 2 MiB of padding.
    r.body() = json::serialize(json::object{{"padding", std::string(std::size_t{2} << 20, 'x')}});
  }
  if (f.malformed) r.body() = R"({"data":{"soDinhDanh": oops})";
  if (f.wrong_type) {
    r.set(http::field::content_type, "text/html");
    r.body() = "<html><body>Bảo trì hệ thống</body></html>";
  }
  if (f.truncated) {
    // The whole answer's Content-Length, then half its body, then the connection closes.
    r.prepare_payload();
    std::ostringstream whole;
    whole << r;
    const std::string text = whole.str();
    plan.raw = text.substr(0, text.size() - r.body().size() / 2);
  }
}

// ------------------------------------------------------------------------------ connections

/// Answers requests on one connection until the client closes it or a fault ends it.
template <class Stream>
asio::awaitable<void> serve(Stream& stream, Standin& standin) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  auto& socket = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    Request req;
    // An idle kept-alive connection is closed after --keep-alive-ms, as servers do.
    socket.expires_after(standin.keep_alive());
    co_await http::async_read(stream, buffer, req, tok);
    if (ec) co_return;
    Plan plan = standin.handle(req);
    if (plan.delay_ms > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(std::chrono::milliseconds(plan.delay_ms));
      co_await timer.async_wait(tok);
    }
    if (plan.reset) {
      // SO_LINGER 0: close() sends a RST instead of a FIN.
      socket.socket().set_option(tcp::socket::linger(true, 0), ec);
      socket.socket().close(ec);
      co_return;
    }
    socket.expires_after(std::chrono::seconds(60));
    if (plan.raw) {
      co_await asio::async_write(stream, asio::buffer(*plan.raw), tok);
      co_return;  // closing now leaves the body short
    }
    co_await http::async_write(stream, plan.response, tok);
    if (ec || !plan.response.keep_alive()) break;
  }
  socket.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> session(tcp::socket socket, Standin& standin, asio::ssl::context* tls) {
  const Standin::Open open(standin);
  if (tls == nullptr) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream, standin);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;  // e.g. a client without the certificate --client-ca asks for
  co_await serve(stream, standin);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, Standin& standin, asio::ssl::context* tls) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), standin, tls),
                   asio::detached);
  }
}

std::optional<asio::ssl::context> tls_context(const Flags& f) {
  if (f.tls_cert.empty()) return std::nullopt;
  std::optional<asio::ssl::context> ctx(std::in_place, asio::ssl::context::tls_server);
  ctx->use_certificate_chain_file(f.tls_cert);
  ctx->use_private_key_file(f.tls_key, asio::ssl::context::pem);
  if (!f.client_ca.empty()) {
    ctx->load_verify_file(f.client_ca);
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

std::string token_from(const std::string& env) {
  if (env.empty()) return {};
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read at start, before anything runs.
  const char* value = std::getenv(env.c_str());
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error("--token-env " + env + ": the variable is not set or empty");
  }
  return value;
}

int run(const Flags& flags) {
  Fault probe;
  if (!add_faults(flags.fault, probe)) throw std::runtime_error("--fault: unknown fault spec");
  Standin standin(flags, token_from(flags.token_env));
  auto tls = tls_context(flags);
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), flags.port});
  std::cout << "listening on 127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int) { ioc.stop(); });
  asio::co_spawn(ioc, listen(acceptor, standin, tls ? &*tls : nullptr), asio::detached);
  ioc.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lgsp-ministry-standin: ministries' REST APIs, for tests and dev"};
  Flags f;
  app.add_option("--port", f.port, "Port on 127.0.0.1 (0: any free one, printed)");
  app.add_option("--population-db", f.population_db,
                 "Serve the population API from this seeded SQLite file");
  app.add_option("--civil-status-db", f.civil_status_db,
                 "Serve the civil-status API from this seeded SQLite file");
  app.add_option("--token-env", f.token_env,
                 "Require Authorization: Bearer <the value of this environment variable>");
  app.add_option("--fail-first", f.fail_first, "Answer the first N API requests 503");
  app.add_option("--fault", f.fault, "Faults for every request (see X-Standin-Fault)");
  app.add_option("--keep-alive-ms", f.keep_alive_ms,
                 "Close a kept-alive connection idle this long (default 60000)");
  app.add_option("--tls-cert", f.tls_cert, "Serve HTTPS with this certificate (PEM)");
  app.add_option("--tls-key", f.tls_key, "The certificate's private key (PEM)");
  app.add_option("--client-ca", f.client_ca, "Require client certificates issued by this CA");
  CLI11_PARSE(app, argc, argv);
  if (f.population_db.empty() && f.civil_status_db.empty()) {
    std::cerr << "error: --population-db, --civil-status-db or both\n";
    return 2;
  }
  if (f.tls_cert.empty() != f.tls_key.empty() || (!f.client_ca.empty() && f.tls_cert.empty())) {
    std::cerr << "error: --tls-cert and --tls-key go together; --client-ca needs them\n";
    return 2;
  }
  try {
    return run(f);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
