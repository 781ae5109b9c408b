#include "util/sealing.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/files.hpp"
#include "util/hashing.hpp"
#include "util/random.hpp"

namespace lgsp::util {

namespace {

constexpr std::string_view kMagic = "LGSE\x01";
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kDerivation = "lgsp seal v1 ";

bool valid_name(std::string_view s, bool allow_upper) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           (allow_upper && c >= 'A' && c <= 'Z');
  });
}

std::string base64_decode(std::string_view text) {
  std::string in;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') in.push_back(c);
  }
  if (in.empty() || in.size() % 4 != 0) return {};
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return {};
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock keeps the padding's zero bytes.
  for (std::size_t pad = in.size(); pad > 0 && in[pad - 1] == '='; --pad) out.pop_back();
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("no randomness from OpenSSL");
  return out;
}

const EVP_CIPHER* aes_gcm() {
  // Fetched once for the process (never freed: other statics may seal during exit).
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) throw std::runtime_error("OpenSSL: AES-256-GCM is not available");
  return cipher;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// AES-256-GCM under a key used for this one message (so a zero IV is never reused).
/// Encrypts `in` into `out` (same size) and writes or checks `tag`.
bool gcm(bool encrypt, const Sha256Digest& key, std::string_view aad, std::string_view in,
         unsigned char* out, unsigned char* tag) {
  const CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  static constexpr std::array<unsigned char, 12> kIv{};
  int len = 0;
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), aes_gcm(), key.data(), kIv.data(), encrypt ? 1 : 0,
                                 nullptr) != 1) {
    return false;
  }
  if (!aad.empty() &&
      EVP_CipherUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  if (!in.empty() &&
      EVP_CipherUpdate(ctx.get(), out, &len, bytes(in), static_cast<int>(in.size())) != 1) {
    return false;
  }
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) {
    return false;
  }
  std::array<unsigned char, 16> rest{};
  if (EVP_CipherFinal_ex(ctx.get(), rest.data(), &len) != 1) return false;
  return !encrypt || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) == 1;
}

/// Reads a length-prefixed name at `pos`; advances it. Empty on malformed input.
std::string_view read_name(std::string_view s, std::size_t& pos) {
  if (pos >= s.size()) return {};
  const auto n = static_cast<unsigned char>(s[pos]);
  if (n == 0 || pos + 1 + n > s.size()) return {};
  const auto name = s.substr(pos + 1, n);
  pos += 1 + n;
  return name;
}

}  // namespace

SealKeys read_seal_keys(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(dir + " is not a readable directory");
  SealKeys keys;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with('.') || fs::is_directory(entry.path(), ec)) continue;
    const std::string path = entry.path().string();
    const auto dot = name.find('.');
    const std::string_view domain = std::string_view(name).substr(0, dot);
    const std::string_view id =
        dot == std::string::npos ? std::string_view{} : std::string_view(name).substr(dot + 1);
    if (!valid_name(domain, false) || !valid_name(id, true)) {
      throw std::runtime_error(
          path + ": a key file is named <domain>.<key id> (e.g. population.20261206)");
    }
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read " + path);
    std::string key = base64_decode(text.str());
    if (key.size() != kKeyBytes) {
      throw std::runtime_error(path +
                               ": must hold 32 random bytes in base64 (`lgsp keys bus` "
                               "writes one)");
    }
    keys[std::string(domain)][std::string(id)] = std::move(key);
  }
  if (ec) throw std::runtime_error("cannot list " + dir + ": " + ec.message());
  return keys;
}

std::string write_seal_key(const std::string& dir, std::string_view domain,
                           std::string_view key_id) {
  if (!valid_name(domain, false) || !valid_name(key_id, true))
    throw std::invalid_argument("invalid key domain or id");
  std::filesystem::create_directories(dir);
  std::string path = dir;
  path.append("/").append(domain).append(".").append(key_id);
  const std::string key = random_bytes(kKeyBytes);
  std::string text(4 * ((kKeyBytes + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes(key),
                                static_cast<int>(key.size()));
  text.resize(static_cast<std::size_t>(n));
  text.push_back('\n');
  write_new_file(path, text, 0600);
  return path;
}

struct Sealer::Domain {
  std::map<std::string, std::unique_ptr<const HmacSha256>, std::less<>> keys;
  std::string seal_id;
};

Sealer::Sealer() = default;
Sealer::~Sealer() = default;
Sealer::Sealer(Sealer&&) noexcept = default;
Sealer& Sealer::operator=(Sealer&&) noexcept = default;

Sealer::Sealer(const SealKeys& keys, const std::map<std::string, std::string>& seal_with) {
  auto domains = std::make_unique<std::map<std::string, Domain, std::less<>>>();
  for (const auto& [domain, ids] : keys) {
    Domain& d = (*domains)[domain];
    for (const auto& [id, key] : ids) d.keys[id] = std::make_unique<const HmacSha256>(key);
    if (!ids.empty()) d.seal_id = ids.rbegin()->first;
  }
  for (const auto& [domain, id] : seal_with) {
    // A pin for a domain this process holds no key of (a connector of another registry,
    // sharing the config) concerns other processes.
    const auto it = domains->find(domain);
    if (it == domains->end()) continue;
    if (!it->second.keys.contains(id))
      throw std::invalid_argument(std::string("no key ")
                                      .append(domain)
                                      .append(".")
                                      .append(id)
                                      .append(" to seal ")
                                      .append(domain)
                                      .append(" with"));
    it->second.seal_id = id;
  }
  domains_ = std::move(domains);
}

bool Sealer::sealing() const { return domains_ != nullptr; }

bool Sealer::has_key(std::string_view domain) const {
  if (!domains_) return true;
  const auto it = domains_->find(domain);
  return it != domains_->end() && !it->second.seal_id.empty();
}

std::string Sealer::seal(std::string_view domain, std::string_view context,
                         std::string_view plaintext) const {
  if (!domains_) return std::string(plaintext);
  const auto d = domains_->find(domain);
  if (d == domains_->end() || d->second.seal_id.empty())
    throw std::logic_error("no key to seal " + std::string(domain));
  const std::string& id = d->second.seal_id;
  const std::string salt = random_string(kSaltBytes);
  std::string out;
  out.reserve(kMagic.size() + 2 + domain.size() + id.size() + kSaltBytes + plaintext.size() +
              kTagBytes);
  out.append(kMagic);
  out.push_back(static_cast<char>(domain.size()));
  out.append(domain);
  out.push_back(static_cast<char>(id.size()));
  out.append(id);
  out.append(salt);
  const std::size_t header = out.size();
  const auto key = d->second.keys.find(id)->second->digest(std::string(kDerivation) + salt);
  const std::string aad = out + std::string(context);
  out.resize(header + plaintext.size() + kTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data() + header);
  if (!gcm(true, key, aad, plaintext, body, body + plaintext.size()))
    throw std::runtime_error("OpenSSL: AES-256-GCM sealing failed");
  return out;
}

std::optional<Sealer::Opened> Sealer::open(std::string_view context,
                                           std::string_view sealed) const {
  if (!domains_) return Opened{{}, std::string(sealed)};
  if (!sealed.starts_with(kMagic)) return std::nullopt;
  std::size_t pos = kMagic.size();
  const auto domain = read_name(sealed, pos);
  const auto id = read_name(sealed, pos);
  if (domain.empty() || id.empty() || pos + kSaltBytes + kTagBytes > sealed.size())
    return std::nullopt;
  const auto d = domains_->find(domain);
  if (d == domains_->end()) return std::nullopt;
  const auto k = d->second.keys.find(id);
  if (k == d->second.keys.end()) return std::nullopt;
  const auto salt = sealed.substr(pos, kSaltBytes);
  pos += kSaltBytes;
  const auto key = k->second->digest(std::string(kDerivation) + std::string(salt));
  const std::string aad = std::string(sealed.substr(0, pos)) + std::string(context);
  const auto body = sealed.substr(pos, sealed.size() - pos - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  Opened opened{std::string(domain), std::string(body.size(), '\0')};
  if (!gcm(false, key, aad, body, reinterpret_cast<unsigned char*>(opened.plaintext.data()),
           reinterpret_cast<unsigned char*>(tag.data()))) {
    return std::nullopt;
  }
  return opened;
}

std::optional<std::string> Sealer::open_as(std::string_view domain, std::string_view context,
                                           std::string_view sealed) const {
  auto opened = open(context, sealed);
  if (!opened || (sealing() && opened->domain != domain)) return std::nullopt;
  return std::move(opened->plaintext);
}

}  // namespace lgsp::util
