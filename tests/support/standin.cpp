#include "tests/support/standin.hpp"

#include <boost/json/parse.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "util/http_client.hpp"

namespace lgsp::testing {

Standin::Standin(const std::filesystem::path& dir, const std::string& db,
                 std::vector<std::string> args) {
  static int n = 0;
  args.insert(args.begin(), {"--port", "0"});
  if (!db.empty()) args.insert(args.begin(), {"--population-db", db});
  const auto log = dir / ("standin-" + std::to_string(++n) + ".log");
  child_ = std::make_unique<ChildProcess>(LGSP_STANDIN_BINARY, args, log);
  // Generous: an ASan binary on a busy 2-core machine.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string marker = "listening on 127.0.0.1:";
  while (std::chrono::steady_clock::now() < give_up) {
    const std::string text = child_->log_text();
    if (const auto at = text.find(marker);
        at != std::string::npos && text.find('\n', at) != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + marker.size())));
      return;
    }
    if (text.find("error:") != std::string::npos) throw std::runtime_error(text);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("the stand-in did not start: " + child_->log_text());
}

std::string Standin::url(std::string_view fault) const {
  std::string u = "http://127.0.0.1:" + std::to_string(port_);
  if (!fault.empty()) u += "/__fault/" + std::string(fault);
  return u;
}

boost::json::object Standin::stats() const {
  util::HttpClient http(std::get<util::HttpUrl>(util::parse_http_url(url())));
  return boost::json::parse(http.call("GET", "/__stats", {}).body).as_object();
}

std::string justice_registry_yaml(const std::string& base_url, const std::string& extra) {
  return "{backend: upstream, upstream: {base_url: \"" + base_url +
         "\", timeout_ms: 2000, max_attempts: 2,"
         " paths: {citizen_id: \"/api/v1/ho-tich/{value}\"}, records: /data/dangKy,"
         " fields: {registration_number: /soDangKy,"
         " kind: {from: /loaiViec, values: {KHAI_SINH: birth, KHAI_TU: death, KET_HON: marriage}},"
         " spouse_citizen_id: /soDinhDanhVoChong,"
         " event_date: {from: /ngaySuKien, date_format: DD/MM/YYYY}, place_of_registration: "
         "/noiDangKy,"
         " registered_on: {from: /ngayDangKy, date_format: DD/MM/YYYY},"
         " status: {from: /tinhTrang, values: {DA_DANG_KY: registered, DA_LY_HON: dissolved}}}" +
         (extra.empty() ? "" : ", " + extra) + "}}";
}

}  // namespace lgsp::testing
