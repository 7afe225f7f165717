// Bearer-token authentication of SCIM clients. Tokens are kept only as SHA-256 digests (they are
// long random strings, so a fast hash is enough) and compared in constant time.
#pragma once

#include "idbridge/core/principal.hpp"

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
};

class BearerAuthenticator {
 public:
  explicit BearerAuthenticator(std::vector<Credential> credentials);

  // `authorization` is the raw Authorization header value ("" when absent). The scheme is
  // matched case-insensitively (RFC 7235).
  Authentication authenticate(std::string_view authorization) const;

 private:
  std::vector<Credential> credentials_;
};

}  // namespace idbridge::scim
