// OpenSSL-backed implementations of crypto.hpp.
#include "idbridge/crypto/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

namespace idbridge::crypto {
namespace {

std::string base64url(const unsigned char* data, std::size_t size) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (data[i] << 16U) | (data[i + 1] << 8U) | data[i + 2];
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += alphabet[(v >> 6U) & 63U];
    out += alphabet[v & 63U];
  }
  if (size - i == 1) {
    const unsigned v = data[i] << 16U;
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
  } else if (size - i == 2) {
    const unsigned v = (data[i] << 16U) | (data[i + 1] << 8U);
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += alphabet[(v >> 6U) & 63U];
  }
  return out;
}

std::vector<unsigned char> random_bytes(std::size_t n) {
  std::vector<unsigned char> bytes(n);
  if (RAND_bytes(bytes.data(), static_cast<int>(n)) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return bytes;
}

std::string scrypt_raw(std::string_view password, std::string_view salt, std::uint64_t n,
                       std::uint64_t r, std::uint64_t p) {
  std::array<unsigned char, 32> out{};
  // Memory bound: 128 * r * N bytes plus slack; allow 2x so N=2^15, r=8 (32 MiB) passes.
  const std::uint64_t max_mem = 2 * 128 * r * n + (1U << 20U);
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p,
                     max_mem, out.data(), out.size()) != 1) {
    throw std::runtime_error("OpenSSL EVP_PBE_scrypt failed");
  }
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos - start));
    if (pos == std::string_view::npos) {
      return parts;
    }
    start = pos + 1;
  }
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

}  // namespace

std::string ScryptPasswordHasher::hash(std::string_view password) {
  const auto salt_bytes = random_bytes(16);
  const std::string salt = base64url(salt_bytes.data(), salt_bytes.size());
  const std::uint64_t n = std::uint64_t{1} << log2_n_;
  const std::string raw = scrypt_raw(password, salt, n, 8, 1);
  return "scrypt$" + std::to_string(log2_n_) + "$8$1$" + salt + "$" +
         base64url(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

bool ScryptPasswordHasher::verify(std::string_view password, std::string_view hash) {
  return verify_password(password, hash);
}

bool verify_password(std::string_view password, std::string_view encoded_hash) {
  const auto parts = split(encoded_hash, '$');
  unsigned log2_n = 0;
  std::uint64_t r = 0;
  std::uint64_t p = 0;
  if (parts.size() != 6 || parts[0] != "scrypt" || !parse_number(parts[1], log2_n) ||
      !parse_number(parts[2], r) || !parse_number(parts[3], p) || log2_n > 24 || r == 0 || p == 0) {
    return false;
  }
  const std::string raw = scrypt_raw(password, parts[4], std::uint64_t{1} << log2_n, r, p);
  const std::string computed =
      base64url(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  return constant_time_equal(computed, parts[5]);
}

namespace {

std::string lower_hex(const unsigned char* digest, unsigned int length) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(std::size_t{length} * 2, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = hex[digest[i] >> 4U];
    out[2 * i + 1] = hex[digest[i] & 15U];
  }
  return out;
}

// SHA-256 fetched from the default provider once: EVP_sha256() makes every EVP_DigestInit fetch
// it again (a lock and a method-store look-up per digest, a third of a bearer token's check).
const EVP_MD* sha256_method() {
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return fetched != nullptr ? fetched : EVP_sha256();
}

// The same for SHA-1 (a directory sync digests every entry it reads).
const EVP_MD* sha1_method() {
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return fetched != nullptr ? fetched : EVP_sha1();
}

struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

// One digest context per thread, re-initialised for each digest instead of allocated and freed
// around it (every SCIM request digests its bearer token).
EVP_MD_CTX* thread_digest_context() {
  thread_local const std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
  return context.get();
}

}  // namespace

void sha1(const void* data, std::size_t size, unsigned char* digest) {
  unsigned int length = 0;
  EVP_MD_CTX* context = thread_digest_context();
  if (context == nullptr || EVP_DigestInit_ex2(context, sha1_method(), nullptr) != 1 ||
      EVP_DigestUpdate(context, data, size) != 1 ||
      EVP_DigestFinal_ex(context, digest, &length) != 1 || length != 20) {
    throw std::runtime_error("OpenSSL SHA-1 digest failed");
  }
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_MD_CTX* context = thread_digest_context();
  if (context == nullptr || EVP_DigestInit_ex2(context, sha256_method(), nullptr) != 1 ||
      EVP_DigestUpdate(context, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context, digest.data(), &length) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 digest failed");
  }
  return lower_hex(digest.data(), length);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (context_ == nullptr ||
      EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_), sha256_method(), nullptr) != 1) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_));
    throw std::runtime_error("OpenSSL EVP_DigestInit_ex failed");
  }
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_));
}

void Sha256::update(std::string_view data) {
  if (finished_ ||
      EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), data.data(), data.size()) != 1) {
    throw std::runtime_error("OpenSSL EVP_DigestUpdate failed (or the digest was finished)");
  }
}

std::string Sha256::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (finished_ ||
      EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(context_), digest.data(), &length) != 1) {
    throw std::runtime_error("OpenSSL EVP_DigestFinal_ex failed (or the digest was finished)");
  }
  finished_ = true;
  return lower_hex(digest.data(), length);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_token(std::size_t bytes) {
  const auto raw = random_bytes(bytes);
  return base64url(raw.data(), raw.size());
}

}  // namespace idbridge::crypto

namespace idbridge::crypto {
namespace {

constexpr std::string_view sealed_version = "v1";
constexpr std::size_t key_size = 32;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

struct CipherContext {
  CipherContext() : ctx(EVP_CIPHER_CTX_new()) {
    if (ctx == nullptr) {
      throw std::runtime_error("OpenSSL EVP_CIPHER_CTX_new failed");
    }
  }
  ~CipherContext() { EVP_CIPHER_CTX_free(ctx); }
  CipherContext(const CipherContext&) = delete;
  CipherContext& operator=(const CipherContext&) = delete;
  EVP_CIPHER_CTX* ctx;
};

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

AesGcmSealer::AesGcmSealer(std::string key) : key_(std::move(key)) {
  if (key_.size() != key_size) {
    throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
  }
}

AesGcmSealer AesGcmSealer::from_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::array<unsigned char, key_size> fresh{};
    if (RAND_bytes(fresh.data(), static_cast<int>(fresh.size())) != 1) {
      throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    // O_EXCL: two processes starting at once must not each write their own key.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const auto written = ::write(fd, fresh.data(), fresh.size());
      const bool synced = ::fsync(fd) == 0;
      ::close(fd);
      if (written != static_cast<ssize_t>(fresh.size()) || !synced) {
        throw std::runtime_error("cannot write the key file " + path);
      }
    } else if (errno != EEXIST) {
      throw std::runtime_error("cannot create the key file " + path + ": " + std::strerror(errno));
    }
    in.open(path, std::ios::binary);
  }
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.size() != key_size) {
    throw std::runtime_error("the key file " + path + " does not hold a 32-byte key");
  }
  return AesGcmSealer(std::move(key));
}

std::string AesGcmSealer::seal(std::string_view plaintext) {
  std::array<unsigned char, nonce_size> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  CipherContext cipher;
  std::string out(sealed_version);
  out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  std::vector<unsigned char> body(plaintext.size() + tag_size);
  int length = 0;
  int final_length = 0;
  if (EVP_EncryptInit_ex(cipher.ctx, EVP_aes_256_gcm(), nullptr, bytes_of(key_), nonce.data()) !=
          1 ||
      EVP_EncryptUpdate(cipher.ctx, body.data(), &length, bytes_of(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(cipher.ctx, body.data() + length, &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher.ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                          body.data() + length + final_length) != 1) {
    throw std::runtime_error("OpenSSL AES-256-GCM encryption failed");
  }
  out.append(reinterpret_cast<const char*>(body.data()),
             static_cast<std::size_t>(length + final_length) + tag_size);
  OPENSSL_cleanse(body.data(), body.size());
  return out;
}

std::optional<std::string> AesGcmSealer::open(std::string_view sealed) {
  if (sealed.size() < sealed_version.size() + nonce_size + tag_size ||
      sealed.substr(0, sealed_version.size()) != sealed_version) {
    return std::nullopt;
  }
  const std::string_view nonce = sealed.substr(sealed_version.size(), nonce_size);
  const std::string_view rest = sealed.substr(sealed_version.size() + nonce_size);
  const std::string_view ciphertext = rest.substr(0, rest.size() - tag_size);
  std::string tag(rest.substr(rest.size() - tag_size));
  CipherContext cipher;
  std::string plaintext(ciphertext.size(), '\0');
  int length = 0;
  int final_length = 0;
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  if (EVP_DecryptInit_ex(cipher.ctx, EVP_aes_256_gcm(), nullptr, bytes_of(key_), bytes_of(nonce)) !=
          1 ||
      EVP_DecryptUpdate(cipher.ctx, out, &length, bytes_of(ciphertext),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher.ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size),
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(cipher.ctx, out + length, &final_length) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  plaintext.resize(static_cast<std::size_t>(length + final_length));
  return plaintext;
}

}  // namespace idbridge::crypto
