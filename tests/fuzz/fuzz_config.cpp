// YAML into the config loader. load_config(path) is "read the file, then parse_config(text,
// path)"; this calls parse_config directly, so no temp file and no disk I/O per input (the
// loader still opens files the YAML names: cert_file, *_file secrets).
// The contract (config/config.hpp): return a Config, or throw ConfigError whose every message
// starts with the file name, as "file:line:col: key: detail". Anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "config/config.hpp"

namespace {

constexpr const char* kName = "fuzz.yaml";

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config contract broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const lgsp::config::Config c = lgsp::config::parse_config(text, kName);
    // What the rest of the program takes for granted once a config loaded.
    if (!c.gateway.tls.enabled() && !c.gateway.listen.is_loopback())
      fail("plain HTTP accepted on a non-loopback address", c.gateway.listen.to_string());
    if (c.gateway.body_limit_bytes < 256 || c.gateway.header_limit_bytes < 1024)
      fail("limits below their minimum", "");
    if (c.kafka.bootstrap.empty()) fail("empty kafka.bootstrap accepted", "");
  } catch (const lgsp::config::ConfigError& e) {
    if (e.errors().empty()) fail("ConfigError without errors", e.what());
    for (const auto& m : e.errors()) {
      if (m.rfind(std::string(kName) + ":", 0) != 0) fail("message without the file name", m);
    }
  } catch (const std::exception& e) {
    fail((std::string("not a ConfigError: ") + typeid(e).name()).c_str(), e.what());
  }
  return 0;
}
