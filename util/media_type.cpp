#include "util/media_type.hpp"

namespace lgsp::util {
namespace {

/// RFC 9110 tchar, and '/' between type and subtype.
bool media_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

}  // namespace

std::string media_type(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.size() > 127) return {};
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (!media_char(c)) return {};
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

bool is_json(std::string_view media, bool structured) {
  return media == "application/json" ||
         (structured && media.starts_with("application/") && media.ends_with("+json"));
}

}  // namespace lgsp::util
