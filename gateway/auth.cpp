#include "gateway/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace lgsp::gateway {
namespace {

unsigned char hex_value(char c) {
  return static_cast<unsigned char>(c <= '9' ? c - '0' : c - 'a' + 10);
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool Partner::may(std::string_view registry, std::string_view operation) const {
  return operations.contains(std::string(registry) + "." + std::string(operation));
}

const std::set<std::string>& Partner::fields_of(std::string_view registry) const {
  static const std::set<std::string> kNone;
  const auto it = fields.find(std::string(registry));
  return it == fields.end() ? kNone : it->second;
}

ApiKeyAuthenticator::ApiKeyAuthenticator(const std::vector<config::PartnerConfig>& partners) {
  for (const auto& pc : partners) {
    auto p = std::make_unique<Partner>(Partner{pc.id, pc.name, pc.operations, pc.fields,
                                               pc.name_matching == "diacritic-insensitive",
                                               pc.required_grade == "partial"});
    for (const auto& hex : pc.api_key_sha256) {
      KeyHash k{};
      for (std::size_t i = 0; i < 32; ++i) {
        k.digest[i] =
            static_cast<unsigned char>(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
      }
      k.partner = p.get();
      keys_.push_back(k);
    }
    partners_.push_back(std::move(p));
  }
}

AuthResult ApiKeyAuthenticator::authenticate(std::string_view header) const {
  if (header.empty()) return {nullptr, AuthFailure::kMissing};
  constexpr std::string_view kBearer = "bearer ";
  if (!iequals_prefix(header, kBearer)) return {nullptr, AuthFailure::kMalformed};
  std::string_view key = header.substr(kBearer.size());
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  if (key.empty() || key.size() > 512) return {nullptr, AuthFailure::kMalformed};

  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  const Partner* found = nullptr;
  // Compare against every key without stopping early: the time taken says nothing about
  // which key (or how much of one) matched.
  for (const auto& k : keys_) {
    if (CRYPTO_memcmp(k.digest, digest, sizeof digest) == 0) found = k.partner;
  }
  return found != nullptr ? AuthResult{found, AuthFailure::kNone}
                          : AuthResult{nullptr, AuthFailure::kInvalid};
}

}  // namespace lgsp::gateway
