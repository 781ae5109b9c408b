#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lgsp::util {

/// Secret keys for sealing messages, by domain (a registry's name, or "audit") and key id.
/// Each key is 32 random bytes.
using SealKeys = std::map<std::string, std::map<std::string, std::string>, std::less<>>;

/// Reads a key directory: one file per key, named "<domain>.<key id>" and holding 32 random
/// bytes in base64 (the shape of a Kubernetes Secret mounted as a volume; names starting
/// with '.' are skipped). Throws std::runtime_error naming the offending file.
SealKeys read_seal_keys(const std::string& dir);

/// Writes a fresh random key for `domain` as `dir`/<domain>.<key_id> (mode 0600, `dir`
/// created if missing) and returns its path. Throws if that file exists.
std::string write_seal_key(const std::string& dir, std::string_view domain,
                           std::string_view key_id);

/// Authenticated encryption of messages on a bus whose operators and other writers are not
/// trusted: only a holder of a domain's key can read or make a message of that domain.
///
/// A sealed message is  "LGSE" 0x01 | domain | key id | salt (16 random bytes) | AES-256-GCM
/// ciphertext | tag (16). Each message is encrypted under its own key, HMAC-SHA256 of the
/// salt under the domain's key, so no nonce is ever reused however many messages a key
/// seals, by however many processes. The tag covers the header (domain, key id, salt) and a
/// context the caller gives on both sides (the topic and routing headers), so a message
/// cannot be moved to another topic or given another reply address.
///
/// Immutable after construction; thread-safe.
class Sealer {
 public:
  /// Unsealed: seal() returns the bytes unchanged and open() accepts any bytes (a bus
  /// explicitly allowed to carry plain envelopes).
  Sealer();
  /// Seals each domain with the key id `seal_with` names for it, else its greatest key id
  /// (ids sort by date when made by `lgsp keys bus`); opens with any of a domain's keys.
  /// Throws std::invalid_argument when `seal_with` names a key id that a domain of `keys`
  /// lacks (a pin for a domain without keys here is another process's concern).
  Sealer(const SealKeys& keys, const std::map<std::string, std::string>& seal_with);
  ~Sealer();
  Sealer(Sealer&&) noexcept;
  Sealer& operator=(Sealer&&) noexcept;

  bool sealing() const;
  /// Whether `domain` has a key (always true when unsealed).
  bool has_key(std::string_view domain) const;

  /// Throws std::logic_error when `domain` has no key (callers check has_key at start).
  std::string seal(std::string_view domain, std::string_view context,
                   std::string_view plaintext) const;

  struct Opened {
    std::string domain;  // empty when unsealed
    std::string plaintext;
  };
  /// nullopt when the bytes are not a message sealed under one of our keys with this
  /// context (forged, altered, moved, or sealed with a key we no longer hold).
  std::optional<Opened> open(std::string_view context, std::string_view sealed) const;
  /// The plaintext of a message sealed under `domain` (any bytes when unsealed), else nullopt:
  /// what a process that serves one domain (a connector, the audit writer) accepts.
  std::optional<std::string> open_as(std::string_view domain, std::string_view context,
                                     std::string_view sealed) const;

 private:
  struct Domain;
  std::unique_ptr<const std::map<std::string, Domain, std::less<>>> domains_;
};

}  // namespace lgsp::util
