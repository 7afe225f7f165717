// Error codes' stable names and the bridge from boost::system::result to exceptions.
#include "idbridge/core/error.hpp"

#include <utility>

namespace idbridge::core {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::version_mismatch: return "version_mismatch";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::read_only: return "read_only";
    case ErrorCode::invalid_value: return "invalid_value";
    case ErrorCode::required: return "required";
    case ErrorCode::user_name_taken: return "user_name_taken";
    case ErrorCode::user_name_characters: return "user_name_characters";
    case ErrorCode::person_name_characters: return "person_name_characters";
    case ErrorCode::email_taken: return "email_taken";
    case ErrorCode::email_rules: return "email_rules";
    case ErrorCode::time_zone_unknown: return "time_zone_unknown";
    case ErrorCode::password_policy: return "password_policy";
    case ErrorCode::extension_taken: return "extension_taken";
    case ErrorCode::extension_rules: return "extension_rules";
    case ErrorCode::mfa_rules: return "mfa_rules";
    case ErrorCode::profile_unknown: return "profile_unknown";
    case ErrorCode::role_ceiling: return "role_ceiling";
    case ErrorCode::role_change_not_allowed: return "role_change_not_allowed";
    case ErrorCode::account_owner_exists: return "account_owner_exists";
    case ErrorCode::account_owner_required: return "account_owner_required";
    case ErrorCode::system_group_immutable: return "system_group_immutable";
    case ErrorCode::group_name_taken: return "group_name_taken";
    case ErrorCode::member_unknown: return "member_unknown";
    case ErrorCode::group_cycle: return "group_cycle";
    case ErrorCode::owned_by_directory: return "owned_by_directory";
  }
  return "unknown";
}

Error make_error(ErrorCode code, std::string detail, std::string attribute) {
  return Error{code, std::move(detail), std::move(attribute)};
}

RuleViolation::RuleViolation(Error error)
    : std::runtime_error(std::string(to_string(error.code)) + ": " + error.detail),
      error_(std::move(error)) {}

void throw_exception_from_error(const Error& error, const boost::source_location& /*loc*/) {
  throw RuleViolation(error);
}

}  // namespace idbridge::core
