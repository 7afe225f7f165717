// The protocol-neutral error of the tenant model: which rule refused a change, and why.
// SCIM maps it to a status and scimType in one place; the sync engine puts it in its report.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace idbridge::core {

// One enumerator per rule of DOMAIN.md, plus the generic outcomes every store-backed call has.
enum class ErrorCode {
  // generic
  not_found,         // the resource does not exist in this tenant
  version_mismatch,  // the caller's expected version is not the stored one (If-Match, CAS)
  forbidden,         // the principal may not act on this tenant or resource
  read_only,         // the principal is read-only
  invalid_value,     // a value is malformed (type, format, range)
  required,          // a required attribute is missing
  // users
  user_name_taken,         // userName unique across all tenants, case-insensitive
  user_name_characters,    // userName uses characters outside the tenant's allowed set
  person_name_characters,  // givenName/familyName/middleName character rule
  email_taken,             // primary email unique within the tenant
  email_rules,             // one primary, at most one backup, well-formed
  time_zone_unknown,       // not an IANA zone name
  password_policy,         // password does not meet the tenant's policy
  extension_taken,         // extension number unique within the tenant
  extension_rules,         // exactly one primary extension, E911 location present
  mfa_rules,               // method values, 1 email / 3 SMS numbers, phone needed for SMS
  profile_unknown,         // a profile the tenant does not define
  // roles
  role_ceiling,             // role above the principal's ceiling
  role_change_not_allowed,  // only an Account-Owner-capable principal changes roles
  account_owner_exists,     // a second Account Owner would exist
  account_owner_required,   // the Account Owner can only lose the role by a transfer
  // groups
  system_group_immutable,  // All Users cannot be renamed, deleted or have members removed
  group_name_taken,        // group displayName unique within the tenant
  member_unknown,          // a member reference names no user or group of this tenant
  group_cycle,             // a group would (transitively) contain itself
  // directories
  owned_by_directory,  // the attribute (or membership, or deletion) belongs to a synced directory
};

// Stable text for logs, reports and the SCIM detail prefix, e.g. "user_name_taken".
std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string detail;     // human-readable, safe to show to the client (never a secret)
  std::string attribute;  // the attribute path the rule is about ("userName", "emails"), or ""
};

Error make_error(ErrorCode code, std::string detail, std::string attribute = {});

template <class T>
using Result = boost::system::result<T, Error>;

// Boost.System calls this when value() is taken from a result holding an Error.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

// Thrown by result::value() on an Error; mostly useful in tests.
class RuleViolation : public std::runtime_error {
 public:
  explicit RuleViolation(Error error);
  const Error& error() const { return error_; }

 private:
  Error error_;
};

// Infrastructure failure of a store (I/O error, corrupt file, lost connection). Not input
// dependent: the request fails with a 500 that reveals nothing, the sync run is rolled back.
class StoreFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A store-level uniqueness constraint fired (a race the rule checks could not see, e.g. two
// PostgreSQL transactions). The service turns it into the matching rule error.
class StoreConstraintViolation : public StoreFailure {
 public:
  StoreConstraintViolation(ErrorCode rule, const std::string& what)
      : StoreFailure(what), rule_(rule) {}
  ErrorCode rule() const { return rule_; }

 private:
  ErrorCode rule_;
};

}  // namespace idbridge::core
