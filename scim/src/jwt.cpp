// JWT verification on OpenSSL 3 EVP: strict base64url, JWKS keys built with EVP_PKEY_fromdata,
// RS256 (PKCS #1 v1.5) and ES256 (raw r||s converted to DER) signatures, then the time claims.
#include "idbridge/scim/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace idbridge::scim {

struct JwkSet::Key {
  std::optional<std::string> kid;
  JwtAlgorithm family = JwtAlgorithm::rs256;  // rs256: an RSA key; es256: an EC P-256 key
  std::optional<JwtAlgorithm> alg;            // the JWK's own `alg`, when it names one
  std::shared_ptr<EVP_PKEY> pkey;
};

struct JwkSet::Keys {
  std::vector<Key> keys;
};

namespace {

using json = nlohmann::json;

// Entra's tokens are about 1.5 KB; anything far larger is not a token we would accept.
constexpr std::size_t max_token_bytes = 16 * 1024;
constexpr int es256_part_bytes = 32;
constexpr int min_rsa_bits = 2048;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

// RFC 7515 §2: base64url without padding. Non-canonical encodings (stray bits in the last
// character) are rejected too, so that one token has exactly one spelling.
std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = base64url_value(c);
    if (value < 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6U) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU);
    }
  }
  if ((buffer & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) {
    return std::nullopt;
  }
  return out;
}

const unsigned char* bytes(const std::string& text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

std::optional<json> parse_object(std::string_view text) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    return std::nullopt;
  }
  return value;
}

// A member that must be a base64url string when present; nullopt when absent or invalid.
std::optional<std::string> decoded_member(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return std::nullopt;
  }
  return base64url_decode(it->get_ref<const std::string&>());
}

std::optional<std::string> string_member(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::shared_ptr<EVP_PKEY> pkey_from(const char* type, const OSSL_PARAM* params) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> pkey(raw, EVP_PKEY_free);
  // fromdata takes the numbers as given; the public-key check rejects, for example, an EC
  // point that is not on the curve.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return nullptr;
  }
  return pkey;
}

std::shared_ptr<EVP_PKEY> rsa_key(const std::string& n, const std::string& e) {
  BignumPtr modulus(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr));
  BignumPtr exponent(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr));
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!modulus || !exponent || !builder || BN_num_bits(modulus.get()) < min_rsa_bits ||
      BN_is_zero(exponent.get()) ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return nullptr;
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  return params ? pkey_from("RSA", params.get()) : nullptr;
}

std::shared_ptr<EVP_PKEY> ec_p256_key(const std::string& x, const std::string& y) {
  if (x.size() != std::size_t{es256_part_bytes} || y.size() != std::size_t{es256_part_bytes}) {
    return nullptr;
  }
  // SEC 1 uncompressed point: 0x04 || x || y.
  std::string point(1, '\x04');
  point += x;
  point += y;
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return nullptr;
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  return params ? pkey_from("EC", params.get()) : nullptr;
}

// ES256 signatures are r||s, 32 bytes each (RFC 7518 §3.4); OpenSSL verifies DER.
std::optional<std::string> es256_to_der(const std::string& raw) {
  if (raw.size() != std::size_t{2 * es256_part_bytes}) {
    return std::nullopt;
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(bytes(raw), es256_part_bytes, nullptr));
  BignumPtr s(BN_bin2bn(bytes(raw) + es256_part_bytes, es256_part_bytes, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return std::nullopt;
  }
  // ECDSA_SIG_set0 took ownership.
  static_cast<void>(r.release());
  static_cast<void>(s.release());
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(sig.get(), &der);
  if (size <= 0) {
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return out;
}

bool signature_valid(EVP_PKEY* pkey, std::string_view signing_input, const std::string& signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

JwtVerification reject(JwtFailure failure, std::string reason) {
  return {std::nullopt, failure, std::move(reason)};
}

bool audience_matches(const json& claims, const std::string& audience) {
  const auto it = claims.find("aud");
  if (it == claims.end()) {
    return false;
  }
  if (it->is_string()) {
    return it->get_ref<const std::string&>() == audience;
  }
  if (it->is_array()) {
    return std::any_of(it->begin(), it->end(), [&](const json& value) {
      return value.is_string() && value.get_ref<const std::string&>() == audience;
    });
  }
  return false;
}

// A NumericDate claim (seconds since the epoch, possibly fractional). nullopt when absent;
// `valid` turns false when present but not a finite number.
std::optional<double> numeric_date(const json& claims, const char* name, bool& valid) {
  const auto it = claims.find(name);
  if (it == claims.end()) {
    return std::nullopt;
  }
  if (!it->is_number() || !std::isfinite(it->get<double>())) {
    valid = false;
    return std::nullopt;
  }
  return it->get<double>();
}

}  // namespace

std::string_view to_string(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::rs256: return "RS256";
    case JwtAlgorithm::es256: return "ES256";
  }
  return "";
}

std::optional<JwtAlgorithm> parse_jwt_algorithm(std::string_view name) {
  if (name == "RS256") {
    return JwtAlgorithm::rs256;
  }
  if (name == "ES256") {
    return JwtAlgorithm::es256;
  }
  return std::nullopt;
}

std::string_view describe(JwtFailure failure) {
  switch (failure) {
    case JwtFailure::malformed: return "token malformed";
    case JwtFailure::algorithm_not_allowed: return "algorithm not accepted";
    case JwtFailure::issuer_not_accepted: return "issuer not accepted";
    case JwtFailure::audience_not_accepted: return "audience not accepted";
    case JwtFailure::key_not_found: return "signing key not found";
    case JwtFailure::signature_invalid: return "signature invalid";
    case JwtFailure::token_expired: return "token expired";
    case JwtFailure::not_yet_valid: return "token not yet valid";
  }
  return "token not accepted";
}

JwkSet::Parsed JwkSet::parse(std::string_view text) {
  const auto document = parse_object(text);
  if (!document) {
    return {std::nullopt, "not a JSON object"};
  }
  const auto list = document->find("keys");
  if (list == document->end() || !list->is_array()) {
    return {std::nullopt, "no \"keys\" array"};
  }
  auto keys = std::make_shared<Keys>();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& jwk = (*list)[i];
    const std::string where = "keys[" + std::to_string(i) + "]";
    if (!jwk.is_object()) {
      return {std::nullopt, where + " is not an object"};
    }
    const auto kty = string_member(jwk, "kty");
    if (!kty) {
      return {std::nullopt, where + " has no \"kty\""};
    }
    // Keys for encryption, other algorithms or other curves may share the set (Entra's does
    // not, others do); they are not ours to use, so they are skipped rather than refused.
    if (const auto use = string_member(jwk, "use"); use && *use != "sig") {
      continue;
    }
    Key key;
    key.kid = string_member(jwk, "kid");
    if (jwk.contains("alg")) {
      const auto alg = string_member(jwk, "alg");
      key.alg = alg ? parse_jwt_algorithm(*alg) : std::nullopt;
      if (!key.alg) {
        continue;
      }
    }
    if (*kty == "RSA") {
      const auto n = decoded_member(jwk, "n");
      const auto e = decoded_member(jwk, "e");
      if (!n || !e) {
        return {std::nullopt, where + ": RSA key needs base64url \"n\" and \"e\""};
      }
      key.family = JwtAlgorithm::rs256;
      key.pkey = rsa_key(*n, *e);
      if (!key.pkey) {
        return {std::nullopt, where + ": not a valid RSA public key of at least " +
                                  std::to_string(min_rsa_bits) + " bits"};
      }
    } else if (*kty == "EC") {
      if (string_member(jwk, "crv") != "P-256") {
        continue;
      }
      const auto x = decoded_member(jwk, "x");
      const auto y = decoded_member(jwk, "y");
      if (!x || !y) {
        return {std::nullopt, where + ": EC key needs base64url \"x\" and \"y\""};
      }
      key.family = JwtAlgorithm::es256;
      key.pkey = ec_p256_key(*x, *y);
      if (!key.pkey) {
        return {std::nullopt, where + ": not a valid P-256 public key"};
      }
    } else {
      continue;
    }
    if (key.alg && *key.alg != key.family) {
      return {std::nullopt, where + ": \"alg\" does not match \"kty\""};
    }
    keys->keys.push_back(std::move(key));
  }
  if (keys->keys.empty()) {
    return {std::nullopt, "no RSA or EC P-256 signing key"};
  }
  JwkSet set;
  set.keys_ = std::move(keys);
  return {std::move(set), ""};
}

std::size_t JwkSet::size() const {
  return keys_ ? keys_->keys.size() : 0;
}

JwtVerifier::JwtVerifier(std::vector<JwtIssuer> issuers, Now now)
    : issuers_(std::move(issuers)), now_(std::move(now)) {
  if (!now_) {
    now_ = [] {
      return std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now());
    };
  }
}

JwtVerification JwtVerifier::verify(std::string_view token) const {
  if (token.size() > max_token_bytes) {
    return reject(JwtFailure::malformed, "jwt longer than " + std::to_string(max_token_bytes));
  }
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return reject(JwtFailure::malformed, "jwt does not have three parts");
  }
  const std::string_view signing_input = token.substr(0, second);
  const auto header_text = base64url_decode(token.substr(0, first));
  const auto payload_text = base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = base64url_decode(token.substr(second + 1));
  if (!header_text || !payload_text || !signature) {
    return reject(JwtFailure::malformed, "jwt part is not base64url");
  }
  const auto header = parse_object(*header_text);
  if (!header) {
    return reject(JwtFailure::malformed, "jwt header is not a JSON object");
  }
  // RFC 7515 §4.1.11: extensions marked critical must be understood; we understand none.
  if (header->contains("crit")) {
    return reject(JwtFailure::malformed, "jwt header has crit extensions");
  }
  // The algorithm comes from the closed list, never from the key or the token alone: `none`,
  // HS256 with a public key as the secret and the like fail here.
  const auto alg_name = string_member(*header, "alg");
  const auto alg = alg_name ? parse_jwt_algorithm(*alg_name) : std::nullopt;
  if (!alg) {
    return reject(JwtFailure::algorithm_not_allowed, "jwt alg is not RS256 or ES256");
  }
  const auto claims = parse_object(*payload_text);
  if (!claims) {
    return reject(JwtFailure::malformed, "jwt payload is not a JSON object");
  }

  // The unverified iss and aud only pick the entry, whose keys then verify the signature.
  const auto iss = string_member(*claims, "iss");
  const JwtIssuer* entry = nullptr;
  bool issuer_known = false;
  bool ambiguous = false;
  for (const auto& candidate : issuers_) {
    if (iss && candidate.issuer == *iss) {
      issuer_known = true;
      if (audience_matches(*claims, candidate.audience)) {
        // An `aud` array can name the audiences of two entries with the same issuer; taking the
        // first would pick a tenant and a ceiling by config order. Refuse instead.
        ambiguous = entry != nullptr;
        entry = entry == nullptr ? &candidate : entry;
      }
    }
  }
  if (!issuer_known) {
    return reject(JwtFailure::issuer_not_accepted, "jwt iss matches no jwt_issuers entry");
  }
  if (ambiguous) {
    return reject(JwtFailure::audience_not_accepted,
                  "jwt aud matches more than one jwt_issuers entry with this iss");
  }
  if (entry == nullptr) {
    return reject(JwtFailure::audience_not_accepted,
                  "jwt aud matches no jwt_issuers entry with this iss");
  }
  const std::string entry_text = "jwt issuer \"" + entry->name + "\"";
  if (std::find(entry->algorithms.begin(), entry->algorithms.end(), *alg) ==
      entry->algorithms.end()) {
    return reject(JwtFailure::algorithm_not_allowed,
                  std::string(to_string(*alg)) + " is not allowed for " + entry_text);
  }

  const auto kid = string_member(*header, "kid");
  if (header->contains("kid") && !kid) {
    return reject(JwtFailure::malformed, "jwt kid is not a string");
  }
  const JwkSet::Key* key = nullptr;
  if (entry->keys.keys_) {
    const auto fits = [&](const JwkSet::Key& candidate) {
      return candidate.family == *alg && (!candidate.alg || *candidate.alg == *alg);
    };
    const auto& keys = entry->keys.keys_->keys;
    if (kid) {
      const auto it = std::find_if(keys.begin(), keys.end(), [&](const JwkSet::Key& candidate) {
        return candidate.kid == *kid && fits(candidate);
      });
      key = it == keys.end() ? nullptr : &*it;
    } else if (std::count_if(keys.begin(), keys.end(), fits) == 1) {
      // Without a kid the key is unambiguous only when one key of the type exists.
      key = &*std::find_if(keys.begin(), keys.end(), fits);
    }
  }
  if (key == nullptr) {
    return reject(JwtFailure::key_not_found, std::string(kid ? "kid" : "no kid and no single key") +
                                                 " for " + std::string(to_string(*alg)) +
                                                 " in the JWKS of " + entry_text);
  }

  std::optional<std::string> der;
  if (*alg == JwtAlgorithm::es256) {
    der = es256_to_der(*signature);
    if (!der) {
      return reject(JwtFailure::signature_invalid,
                    "ES256 signature is not 64 bytes, for " + entry_text);
    }
  }
  if (!signature_valid(key->pkey.get(), signing_input, der ? *der : *signature)) {
    return reject(JwtFailure::signature_invalid,
                  "jwt signature does not verify, for " + entry_text);
  }

  bool dates_valid = true;
  const auto exp = numeric_date(*claims, "exp", dates_valid);
  const auto nbf = numeric_date(*claims, "nbf", dates_valid);
  const auto iat = numeric_date(*claims, "iat", dates_valid);
  if (!dates_valid) {
    return reject(JwtFailure::malformed, "jwt exp, nbf or iat is not a number, for " + entry_text);
  }
  const double now = std::chrono::duration<double>(now_().time_since_epoch()).count();
  const auto skew = static_cast<double>(entry->clock_skew.count());
  if (!exp) {
    // A token without an expiry would be a password that never changes.
    return reject(JwtFailure::token_expired, "jwt has no exp, for " + entry_text);
  }
  if (now >= *exp + skew) {
    return reject(
        JwtFailure::token_expired,
        "jwt expired " + std::to_string(std::llround(now - *exp)) + " s ago, for " + entry_text);
  }
  if (nbf && now + skew < *nbf) {
    return reject(JwtFailure::not_yet_valid, "jwt nbf is in the future, for " + entry_text);
  }
  if (iat && now + skew < *iat) {
    return reject(JwtFailure::not_yet_valid, "jwt iat is in the future, for " + entry_text);
  }

  core::Principal principal;
  principal.actor = {core::ActorKind::credential, entry->name};
  principal.origin = {core::OriginKind::scim, ""};
  principal.ceiling = entry->role_ceiling;
  principal.tenant_scope = entry->tenant;
  principal.read_only = entry->read_only;
  return {std::move(principal), JwtFailure::malformed, ""};
}

bool looks_like_jwt(std::string_view token) {
  int dots = 0;
  bool empty_part = true;
  for (const char c : token) {
    if (c == '.') {
      if (empty_part) {
        return false;
      }
      ++dots;
      empty_part = true;
    } else if (base64url_value(c) < 0) {
      return false;
    } else {
      empty_part = false;
    }
  }
  return dots == 2 && !empty_part;
}

}  // namespace idbridge::scim
