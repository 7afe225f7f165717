// The pure rule checks of DOMAIN.md that need nothing but the values themselves. The identity
// service calls them; they are exposed for the config validator, the sync planner and tests.
#pragma once

#include "idbridge/core/error.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/ports.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace idbridge::core {

// userName: non-empty, valid UTF-8, letters (any script), digits and the tenant's specials.
std::optional<Error> check_user_name(std::string_view user_name, const TenantSettings& tenant);

// givenName/familyName/middleName: letters (any script), digits, spaces, apostrophe (' or ’),
// hyphen. `attribute` names the path for the error ("name.givenName").
std::optional<Error> check_person_name(std::string_view value, std::string_view attribute);

// Every text of the user (names, contacts, addresses, extensions, profiles, ...) is valid UTF-8.
// Checked first, so no malformed byte reaches a store or a JSON encoder (invalid_value).
std::optional<Error> check_utf8(const User& user);
bool is_valid_utf8(std::string_view text);
// The length of the well-formed UTF-8 sequence (Unicode table 3-7: no overlong form, surrogate
// or value past U+10FFFF) that starts at text[at], or 0 when none does. JSON writers use it to
// refuse exactly what nlohmann's serializer refuses.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

// RFC 5321-shaped address: one '@', non-empty local part and a dotted domain, no spaces.
bool is_plausible_email(std::string_view email);

// The password policy; never puts the password into the error text.
std::optional<Error> check_password(std::string_view password, std::string_view user_name,
                                    const PasswordPolicy& policy);

std::optional<Error> check_time_zone(std::string_view zone, const ZoneCatalog& zones);

// Emails (<= 2, exactly one primary, well-formed), extensions (unique numbers on the user,
// exactly one primary, E911 location), MFA (1 email, 3 SMS, a phone for SMS), profiles known.
std::optional<Error> check_emails(const User& user);
std::optional<Error> check_extensions(const User& user);
std::optional<Error> check_mfa(const User& user);
std::optional<Error> check_profiles(const User& user, const TenantSettings& tenant);

// Case-insensitive comparison key for userName, email and group names: ASCII folded, other
// bytes kept (the stores index this key).
std::string fold_case(std::string_view text);

// Effective rights: all rights for the Account Owner, otherwise the union of the profiles.
// `all_rights` is returned for the Account Owner as the single entry "*".
std::vector<std::string> effective_rights(const User& user, const TenantSettings& tenant);

// Tenant settings with the four role-default profiles added when the tenant did not define them.
TenantSettings with_default_profiles(TenantSettings tenant);

}  // namespace idbridge::core
