#include "app/batch_status.hpp"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

namespace lgsp::app {

namespace json = boost::json;

namespace {

std::optional<double> number(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

std::string fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::int64_t rounded(double v) {
  return std::isfinite(v) && v > 0 ? static_cast<std::int64_t>(std::llround(v)) : 0;
}

}  // namespace

std::variant<BatchStatus, std::string> parse_batch_status(std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::string("the job status is not a JSON object");
  const json::object& o = v.get_object();
  BatchStatus s;
  const auto text = [&](const char* key, std::string& into) {
    const json::value* m = o.if_contains(key);
    if (m == nullptr || !m->is_string()) return false;
    into = std::string(m->get_string());
    return true;
  };
  if (!text("id", s.id)) return std::string("the job status has no id");
  if (!text("state", s.state)) return std::string("the job status has no state");
  const json::value* counts = o.if_contains("counts");
  if (counts == nullptr || !counts->is_object()) {
    return std::string("the job status has no counts");
  }
  const auto count = [&](const char* key, std::int64_t& into) {
    if (const auto n = number(counts->get_object().if_contains(key))) {
      into = static_cast<std::int64_t>(*n);
    }
  };
  count("total", s.counts.total);
  count("done", s.counts.done);
  count("matched", s.counts.matched);
  count("mismatched", s.counts.mismatched);
  count("not_found", s.counts.not_found);
  count("invalid", s.counts.invalid);
  count("failed", s.counts.failed);
  s.rate_per_second = number(o.if_contains("rate_per_second")).value_or(0);
  s.eta_seconds = number(o.if_contains("eta_seconds"));
  return s;
}

std::string group_thousands(std::int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_eta(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds)) return "--:--";
  const std::int64_t total = rounded(*seconds);
  const std::int64_t h = total / 3600, m = total / 60 % 60, sec = total % 60;
  char buf[48];
  if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(sec));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(sec));
  }
  return buf;
}

std::string progress_bar_line(const BatchStatus& s) {
  constexpr int kWidth = 20;
  const auto& c = s.counts;
  double fraction = c.total > 0 ? static_cast<double>(c.done) / static_cast<double>(c.total) : 0;
  if (s.state == "completed") fraction = 1;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kWidth);
  std::string line;
  if (s.state != "running") line = s.state + " ";
  line += "[" + std::string(static_cast<std::size_t>(filled), '#') +
          std::string(static_cast<std::size_t>(kWidth - filled), '.') + "] ";
  const std::string percent = fixed1(fraction * 100) + "%";
  line += std::string(percent.size() < 6 ? 6 - percent.size() : 0, ' ') + percent;
  line += "  " + group_thousands(c.done) + "/" + group_thousands(c.total);
  line += "  " + group_thousands(rounded(s.rate_per_second)) + " rec/s";
  if (!s.finished()) line += "  ETA " + format_eta(s.eta_seconds);
  line += "  matched " + group_thousands(c.matched) + " mismatched " +
          group_thousands(c.mismatched) + " not found " + group_thousands(c.not_found) +
          " invalid " + group_thousands(c.invalid);
  if (c.failed > 0) line += " failed " + group_thousands(c.failed);
  return line;
}

std::string progress_plain_line(const BatchStatus& s) {
  std::string eta = "-";
  if (s.eta_seconds && std::isfinite(*s.eta_seconds)) eta = std::to_string(rounded(*s.eta_seconds));
  return "state=" + s.state + " done=" + std::to_string(s.counts.done) +
         " total=" + std::to_string(s.counts.total) +
         " rate=" + std::to_string(rounded(s.rate_per_second)) + " eta_s=" + eta;
}

std::string summary_line(const BatchStatus& s, bool tty) {
  const auto& c = s.counts;
  if (!tty) {
    return "summary state=" + s.state + " total=" + std::to_string(c.total) +
           " done=" + std::to_string(c.done) + " matched=" + std::to_string(c.matched) +
           " mismatched=" + std::to_string(c.mismatched) +
           " not_found=" + std::to_string(c.not_found) + " invalid=" + std::to_string(c.invalid) +
           " failed=" + std::to_string(c.failed);
  }
  return "job " + s.id + " " + s.state + ": " + group_thousands(c.done) + " of " +
         group_thousands(c.total) + " records answered (matched " + group_thousands(c.matched) +
         ", mismatched " + group_thousands(c.mismatched) + ", not found " +
         group_thousands(c.not_found) + ", invalid " + group_thousands(c.invalid) + ", failed " +
         group_thousands(c.failed) + ")";
}

std::vector<std::string> problem_lines(int status, std::string_view body) {
  const std::string code = std::to_string(status);
  std::string title(
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status)));
  std::string detail;
  std::vector<std::string> fields;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    if (const auto* t = o.if_contains("title"); t != nullptr && t->is_string()) {
      title = std::string(t->get_string());
    }
    if (const auto* d = o.if_contains("detail"); d != nullptr && d->is_string()) {
      detail = std::string(d->get_string());
    }
    if (const auto* errs = o.if_contains("errors"); errs != nullptr && errs->is_array()) {
      for (const auto& e : errs->get_array()) {
        if (!e.is_object()) continue;
        const auto* f = e.get_object().if_contains("field");
        const auto* d = e.get_object().if_contains("detail");
        fields.push_back(
            "  " + (f != nullptr && f->is_string() ? std::string(f->get_string()) : "-") + ": " +
            (d != nullptr && d->is_string() ? std::string(d->get_string()) : ""));
      }
    }
  }
  std::vector<std::string> lines{"error: " + code + " " + title +
                                 (detail.empty() ? "" : ": " + detail)};
  lines.insert(lines.end(), fields.begin(), fields.end());
  return lines;
}

}  // namespace lgsp::app
