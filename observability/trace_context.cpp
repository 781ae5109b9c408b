#include "observability/trace_context.hpp"

#include <random>

namespace lgsp::obs {
namespace {

bool all_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string random_hex(std::size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n, '0');
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) v = rng();
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
  return out;
}

}  // namespace

bool valid_traceparent(std::string_view tp) {
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  const auto version = tp.substr(0, 2), trace = tp.substr(3, 32), span = tp.substr(36, 16),
             flags = tp.substr(53, 2);
  return all_hex(version) && version != "ff" && all_hex(trace) && !all_zero(trace) &&
         all_hex(span) && !all_zero(span) && all_hex(flags);
}

std::string continue_trace(std::string_view incoming) {
  if (valid_traceparent(incoming)) {
    return "00-" + std::string(incoming.substr(3, 32)) + "-" + random_hex(16) + "-" +
           std::string(incoming.substr(53, 2));
  }
  return "00-" + random_hex(32) + "-" + random_hex(16) + "-01";
}

std::string_view trace_id_of(std::string_view tp) {
  return valid_traceparent(tp) ? tp.substr(3, 32) : std::string_view{};
}

}  // namespace lgsp::obs
