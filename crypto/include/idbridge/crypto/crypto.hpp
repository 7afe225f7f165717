// Hashing and randomness on OpenSSL: scrypt password hashes, SHA-256 token digests,
// constant-time comparison and random tokens.
#pragma once

#include "idbridge/core/ports.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace idbridge::crypto {

// "scrypt$N$r$p$<salt b64>$<hash b64>", with a fresh 16-byte salt.
class ScryptPasswordHasher final : public core::PasswordHasher {
 public:
  // Defaults follow OWASP's scrypt guidance (N=2^15, r=8, p=1); tests may lower N.
  explicit ScryptPasswordHasher(unsigned log2_n = 15) : log2_n_(log2_n) {}
  std::string hash(std::string_view password) override;
  // verify_password: reads N, r and p from the hash, so hashes made with another N still verify.
  bool verify(std::string_view password, std::string_view hash) override;

 private:
  unsigned log2_n_;
};

// AES-256-GCM with a random 96-bit nonce per seal: "v1" + nonce + ciphertext + 16-byte tag. Keeps
// a password waiting for write-back unreadable at rest; open() refuses anything tampered with or
// sealed under another key.
class AesGcmSealer final : public core::SecretSealer {
 public:
  // `key`: 32 bytes. Throws std::invalid_argument otherwise.
  explicit AesGcmSealer(std::string key);
  // The key kept in `path` (32 random bytes, created 0600 when missing). Throws
  // std::runtime_error when it cannot be read or created, or has the wrong size.
  static AesGcmSealer from_key_file(const std::string& path);
  std::string seal(std::string_view plaintext) override;
  std::optional<std::string> open(std::string_view sealed) override;

 private:
  std::string key_;
};

// Whether `password` matches a hash made by ScryptPasswordHasher (constant time in the hash).
bool verify_password(std::string_view password, std::string_view encoded_hash);

// Lower-case hex SHA-256; bearer tokens are kept only as this digest.
std::string sha256_hex(std::string_view data);

// SHA-256 of data given in pieces: sha256_hex of their concatenation, without building it (a
// first sync's plan is tens of MB of JSON).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();  // lower case; ends the digest (update after it throws)

 private:
  void* context_;  // EVP_MD_CTX
  bool finished_ = false;
};

// SHA-1 of `size` bytes at `data` into `digest` (20 bytes), with the CPU's SHA instructions
// where it has them: the shape of core::sync::Sha1Function, which the daemon installs (the
// mapping digests hash every directory entry read). Not for secrets.
void sha1(const void* data, std::size_t size, unsigned char* digest);

// Constant-time equality (length is not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

// `bytes` random bytes from the OS CSPRNG, as URL-safe base64 without padding.
std::string random_token(std::size_t bytes = 32);

}  // namespace idbridge::crypto
