// The tenant model of DOMAIN.md as plain values: providers, tenants and their settings, users,
// roles, profiles, groups, extensions and MFA settings. Rules live in rules.hpp and
// identity_service.hpp; these types only hold data.
#pragma once

#include "idbridge/core/ids.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
// RFC 3339 in UTC with milliseconds: "2026-11-24T11:00:29.123Z".
std::string format_timestamp(Timestamp at);
// The same text appended to `out` (no string of its own: every SCIM resource writes two).
void append_timestamp(std::string& out, Timestamp at);

// Ordered by rank: a higher enumerator outranks a lower one (compare with <, >=).
enum class Role {
  limited_access_user = 0,
  standard_user = 1,
  administrator = 2,
  account_owner = 3,
};
std::string_view to_string(Role role);  // "standardUser", ... (the SCIM/config spelling)
std::optional<Role> parse_role(std::string_view text);
// The profile every user of this role holds while the role is theirs ("default:administrator").
std::string default_profile_name(Role role);

enum class GroupKind { access, team, contact_type, distribution };
std::string_view to_string(GroupKind kind);  // "access", "team", "contactType", "distribution"
std::optional<GroupKind> parse_group_kind(std::string_view text);

enum class MfaMethod { none, email, sms, totp, webauthn };
std::string_view to_string(MfaMethod method);
std::optional<MfaMethod> parse_mfa_method(std::string_view text);

struct PersonName {
  std::string formatted;
  std::string family_name;
  std::string given_name;
  std::string middle_name;
  std::string honorific_prefix;
  std::string honorific_suffix;
  friend bool operator==(const PersonName&, const PersonName&) = default;
};

// A multi-valued contact attribute entry (emails, phoneNumbers). For emails the primary entry is
// the login and recovery address, a second entry is the backup used only for recovery.
struct ContactValue {
  std::string value;
  std::string type;  // "work", "home", "mobile", "other", or "" when the source gave none
  bool primary = false;
  friend bool operator==(const ContactValue&, const ContactValue&) = default;
};

struct Address {
  std::string type;
  std::string formatted;
  std::string street_address;
  std::string locality;
  std::string region;
  std::string postal_code;
  std::string country;
  bool primary = false;
  friend bool operator==(const Address&, const Address&) = default;
};

struct Extension {
  std::string number;         // unique per tenant
  std::string e911_location;  // required: where emergency services are sent
  bool primary = false;       // exactly one primary when the user has any extension
  friend bool operator==(const Extension&, const Extension&) = default;
};

struct MfaSettings {
  MfaMethod method = MfaMethod::none;
  std::vector<std::string> email_addresses;  // at most one
  std::vector<std::string> sms_numbers;      // at most three
  friend bool operator==(const MfaSettings&, const MfaSettings&) = default;
};

// RFC 7643 §4.3 enterprise attributes the platform keeps.
struct EnterpriseInfo {
  std::string employee_number;
  std::string cost_center;
  std::string organization;
  std::string division;
  std::string department;
  std::optional<UserId> manager;
  friend bool operator==(const EnterpriseInfo&, const EnterpriseInfo&) = default;
};

struct User {
  UserId id;
  TenantId tenant;
  std::string user_name;
  std::optional<std::string> external_id;
  PersonName name;
  std::string display_name;  // derived from the name (or userName) when absent
  std::string nick_name;
  std::string profile_url;
  std::string title;
  std::string user_type;
  std::string preferred_language;
  std::string locale;
  std::string timezone;  // IANA name or ""
  bool active = true;
  std::vector<ContactValue> emails;
  std::vector<ContactValue> phone_numbers;
  std::vector<Address> addresses;
  Role role = Role::standard_user;
  std::vector<std::string> profiles;  // sorted, unique; always holds the role's default profile
  std::vector<Extension> extensions;
  MfaSettings mfa;
  bool must_change_password = false;
  bool password_set = false;  // whether a password hash is stored; the hash never leaves the store
  EnterpriseInfo enterprise;
  ResourceVersion version = 0;
  Timestamp created{};
  Timestamp last_modified{};
  friend bool operator==(const User&, const User&) = default;
};

// The primary email of a user (the login address), or nullptr when it has none.
const ContactValue* primary_email(const User& user);

struct Group {
  GroupId id;
  TenantId tenant;
  std::string display_name;
  std::optional<std::string> external_id;
  GroupKind kind = GroupKind::access;
  bool system = false;  // true only for All Users
  ResourceVersion version = 0;
  Timestamp created{};
  Timestamp last_modified{};
  friend bool operator==(const Group&, const Group&) = default;
};

inline constexpr std::string_view all_users_group_name = "All Users";

enum class MemberType { user, group };
std::string_view to_string(MemberType type);  // "user", "group"
std::optional<MemberType> parse_member_type(std::string_view text);

struct MemberRef {
  MemberType type = MemberType::user;
  std::string id;
  friend auto operator<=>(const MemberRef&, const MemberRef&) = default;
};

struct ProfileDefinition {
  std::string name;
  std::vector<std::string> rights;  // e.g. "manageUsers", "manageE911"
  friend bool operator==(const ProfileDefinition&, const ProfileDefinition&) = default;
};

struct PasswordPolicy {
  int min_length = 8;
  int max_length = 256;
  bool require_lower = true;
  bool require_upper = true;
  bool require_digit = true;
  bool require_special = false;
  bool forbid_user_name = true;  // the password may not equal the userName (case-insensitively)
  friend bool operator==(const PasswordPolicy&, const PasswordPolicy&) = default;
};

// Per-tenant settings; they come from the config file, not from the store.
struct TenantSettings {
  TenantId id;
  std::string display_name;
  // Characters allowed in a userName besides letters (any script) and digits.
  std::string user_name_specials = "!@#$%^\\&_.-+";
  PasswordPolicy password_policy;
  int lockout_threshold = 5;  // wrong passwords before the source may set active=false
  // Tenant-defined profiles; the four role defaults are always added by the service.
  std::vector<ProfileDefinition> profiles;
  friend bool operator==(const TenantSettings&, const TenantSettings&) = default;
};

struct ProviderSettings {
  std::string name;
};

}  // namespace idbridge::core
