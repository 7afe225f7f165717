// BearerAuthenticator: parse "Bearer <token>", digest it, compare against every credential, then
// try it as a JWT.
#include "idbridge/scim/auth.hpp"

#include "idbridge/crypto/crypto.hpp"
#include "schema.hpp"

namespace idbridge::scim {

BearerAuthenticator::BearerAuthenticator(std::vector<Credential> credentials, JwtVerifier jwt)
    : credentials_(std::move(credentials)), jwt_(std::move(jwt)) {}

Authentication BearerAuthenticator::authenticate(std::string_view authorization) const {
  while (!authorization.empty() && authorization.front() == ' ') {
    authorization.remove_prefix(1);
  }
  if (authorization.empty()) {
    return {AuthOutcome::missing, std::nullopt, "", ""};
  }
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() ||
      !iequals(authorization.substr(0, scheme.size()), scheme)) {
    return {AuthOutcome::malformed, std::nullopt, "", ""};
  }
  std::string_view token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') {
    token.remove_prefix(1);
  }
  while (!token.empty() && token.back() == ' ') {
    token.remove_suffix(1);
  }
  if (token.empty()) {
    return {AuthOutcome::malformed, std::nullopt, "", ""};
  }
  const std::string digest = crypto::sha256_hex(token);
  const Credential* match = nullptr;
  // Compare against every credential so the time taken does not depend on which one matched.
  for (const auto& credential : credentials_) {
    if (crypto::constant_time_equal(digest, credential.token_sha256)) {
      match = &credential;
    }
  }
  // Static tokens are tried first even when the token has a JWT's shape: Entra lets an admin
  // paste a long-lived access token as the Secret Token, and that token is then a static one.
  if (match == nullptr && !jwt_.empty() && looks_like_jwt(token)) {
    auto verified = jwt_.verify(token);
    if (!verified.principal) {
      return {AuthOutcome::invalid, std::nullopt, std::string(describe(verified.failure)),
              std::move(verified.reason)};
    }
    return {AuthOutcome::ok, std::move(verified.principal), "", ""};
  }
  if (match == nullptr) {
    return {AuthOutcome::invalid, std::nullopt, "", ""};
  }
  core::Principal principal;
  principal.actor = {core::ActorKind::credential, match->name};
  principal.origin = {core::OriginKind::scim, ""};
  principal.ceiling = match->role_ceiling;
  principal.tenant_scope = match->tenant;
  principal.read_only = match->read_only;
  return {AuthOutcome::ok, std::move(principal), "", ""};
}

}  // namespace idbridge::scim
