// OAuth 2.0 JWT bearer tokens (RFC 7519) signed with RS256 or ES256 (RFC 7518), verified against
// the keys of a JWKS (RFC 7517) that each accepted issuer publishes. Key material stays behind
// JwkSet so that no OpenSSL type leaks into this header.
#pragma once

#include "idbridge/core/model.hpp"
#include "idbridge/core/principal.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::scim {

// Only asymmetric algorithms: HMAC would need a shared secret, and `none` signs nothing.
enum class JwtAlgorithm { rs256, es256 };
std::string_view to_string(JwtAlgorithm algorithm);
// "RS256" / "ES256" (case-sensitive, as in the JWS header); nullopt otherwise.
std::optional<JwtAlgorithm> parse_jwt_algorithm(std::string_view name);

// The public keys of one JWKS document: RSA keys (n, e) and EC P-256 keys (crv, x, y). Copies
// share the keys, which are immutable.
class JwkSet {
 public:
  struct Parsed;
  // Parses a JWKS JSON document ({"keys": [...]}). Keys of other types or curves and keys whose
  // `use` is not "sig" are skipped; a key of a supported type that is malformed is an error, and
  // so is a set left with no usable key. The error text names the key's index, never key data.
  static Parsed parse(std::string_view json);

  std::size_t size() const;

 private:
  struct Key;
  struct Keys;
  friend class JwtVerifier;
  std::shared_ptr<const Keys> keys_;
};

struct JwkSet::Parsed {
  std::optional<JwkSet> keys;
  std::string error;  // set when keys is empty
};

// One accepted issuer: what a token from it must say, and what its holder may do.
struct JwtIssuer {
  std::string name;  // the actor recorded on every change made with its tokens
  std::string issuer;
  std::string audience;
  std::vector<JwtAlgorithm> algorithms{JwtAlgorithm::rs256, JwtAlgorithm::es256};
  JwkSet keys;
  core::Role role_ceiling = core::Role::standard_user;
  bool read_only = false;
  std::optional<core::TenantId> tenant;  // nullopt: a provider issuer (every tenant)
  std::chrono::seconds clock_skew{60};
};

// Which check a rejected token failed. The client learns only this, in generic words.
enum class JwtFailure {
  malformed,              // not three base64url parts of JSON objects, or claims of wrong types
  algorithm_not_allowed,  // `alg` missing, not RS256/ES256, or not allowed for the issuer
  issuer_not_accepted,    // no entry has this `iss`
  audience_not_accepted,  // entries have this `iss`, none has a matching `aud`
  key_not_found,          // no key of the issuer's JWKS matches `kid` / the algorithm
  signature_invalid,
  token_expired,  // `exp` missing or past (beyond the skew)
  not_yet_valid,  // `nbf` or `iat` in the future (beyond the skew)
};
// Client-safe text for a 401 detail: "token expired", "signature invalid", ...
std::string_view describe(JwtFailure failure);

struct JwtVerification {
  std::optional<core::Principal> principal;  // set when the token is accepted
  JwtFailure failure = JwtFailure::malformed;
  // For the log only: which entry and which check, never the token or its claims.
  std::string reason;
};

class JwtVerifier {
 public:
  using Now = std::function<core::Timestamp()>;

  explicit JwtVerifier(std::vector<JwtIssuer> issuers = {}, Now now = {});

  bool empty() const { return issuers_.empty(); }

  // Verifies a compact JWS: structure, header, issuer and audience, algorithm, key, signature,
  // then exp (required), nbf and iat. On success the principal carries the issuer entry's
  // name (actor kind credential), tenant scope, ceiling and read_only.
  JwtVerification verify(std::string_view token) const;

 private:
  std::vector<JwtIssuer> issuers_;
  Now now_;
};

// Whether `token` has the shape of a compact JWS: three non-empty dot-separated parts of
// base64url characters. Says nothing about validity.
bool looks_like_jwt(std::string_view token);

}  // namespace idbridge::scim
