// Bearer-token authentication of SCIM clients: static tokens, kept only as SHA-256 digests (they
// are long random strings, so a fast hash is enough) and compared in constant time, and JWTs
// from configured issuers (jwt.hpp).
#pragma once

#include "idbridge/core/principal.hpp"
#include "idbridge/scim/jwt.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::scim {

struct Credential {
  std::string name;          // the actor recorded on every change it makes
  std::string token_sha256;  // lower-case hex digest of the token
  core::Role role_ceiling = core::Role::standard_user;
  bool read_only = false;
  std::optional<core::TenantId> tenant;  // nullopt: a provider credential (every tenant)
};

enum class AuthOutcome { ok, missing, malformed, invalid };

struct Authentication {
  AuthOutcome outcome = AuthOutcome::missing;
  std::optional<core::Principal> principal;
  // For a rejected JWT: which check failed, in generic words fit for the client ("token
  // expired"); empty otherwise.
  std::string detail;
  // For a rejected JWT: a more specific reason for the log; never the token or its claims.
  std::string reason;
};

class BearerAuthenticator {
 public:
  explicit BearerAuthenticator(std::vector<Credential> credentials,
                               JwtVerifier jwt = JwtVerifier());

  // `authorization` is the raw Authorization header value ("" when absent). The scheme is
  // matched case-insensitively (RFC 7235). A token equal to a static credential's is accepted as
  // that credential; otherwise one shaped like a JWT is verified by the JwtVerifier.
  Authentication authenticate(std::string_view authorization) const;

 private:
  std::vector<Credential> credentials_;
  JwtVerifier jwt_;
};

}  // namespace idbridge::scim
