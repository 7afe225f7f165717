// Mapping of core::ErrorCode to HTTP status and scimType (RFC 7644 §3.12).
#include "scim_error.hpp"

#include <stdexcept>

namespace idbridge::scim {

void throw_exception_from_error(const ScimError& error, const boost::source_location& /*loc*/) {
  throw std::runtime_error("SCIM error " + std::to_string(error.status) + ": " + error.detail);
}

ScimError invalid_syntax(std::string detail) {
  return {400, "invalidSyntax", std::move(detail)};
}
ScimError invalid_value(std::string detail) {
  return {400, "invalidValue", std::move(detail)};
}
ScimError invalid_filter(std::string detail) {
  return {400, "invalidFilter", std::move(detail)};
}
ScimError invalid_path(std::string detail) {
  return {400, "invalidPath", std::move(detail)};
}
ScimError no_target(std::string detail) {
  return {400, "noTarget", std::move(detail)};
}
ScimError mutability(std::string detail) {
  return {400, "mutability", std::move(detail)};
}
ScimError not_found(std::string detail) {
  return {404, "", std::move(detail)};
}

ScimError from_core(const core::Error& error) {
  using core::ErrorCode;
  std::string detail = std::string(core::to_string(error.code)) + ": " + error.detail;
  switch (error.code) {
    case ErrorCode::not_found: return {404, "", std::move(detail)};
    case ErrorCode::version_mismatch: return {412, "", std::move(detail)};
    case ErrorCode::forbidden:
    case ErrorCode::read_only:
    case ErrorCode::role_ceiling:
    case ErrorCode::role_change_not_allowed: return {403, "", std::move(detail)};
    case ErrorCode::user_name_taken:
    case ErrorCode::email_taken:
    case ErrorCode::extension_taken:
    case ErrorCode::group_name_taken:
    case ErrorCode::account_owner_exists: return {409, "uniqueness", std::move(detail)};
    case ErrorCode::account_owner_required:
    case ErrorCode::owned_by_directory:
    case ErrorCode::system_group_immutable: return {400, "mutability", std::move(detail)};
    case ErrorCode::invalid_value:
    case ErrorCode::required:
    case ErrorCode::user_name_characters:
    case ErrorCode::person_name_characters:
    case ErrorCode::email_rules:
    case ErrorCode::time_zone_unknown:
    case ErrorCode::password_policy:
    case ErrorCode::extension_rules:
    case ErrorCode::mfa_rules:
    case ErrorCode::profile_unknown:
    case ErrorCode::member_unknown:
    case ErrorCode::group_cycle: return {400, "invalidValue", std::move(detail)};
  }
  return {400, "invalidValue", std::move(detail)};
}

}  // namespace idbridge::scim
