// The value-level rules of DOMAIN.md: character sets, emails, passwords, time zones,
// extensions, MFA and profiles. Pure functions; the identity service composes them.
#include "idbridge/core/rules.hpp"

#include <locale.h>  // newlocale/iswalpha_l (POSIX 2008)
#include <wctype.h>
#include <algorithm>
#include <clocale>
#include <cwctype>
#include <set>

namespace idbridge::core {
namespace {

// Decodes one UTF-8 code point at `pos`; nullopt on malformed, overlong or surrogate input.
std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  std::size_t length = 0;
  char32_t cp = 0;
  if (lead < 0x80) {
    ++pos;
    return lead;
  } else if ((lead & 0xE0U) == 0xC0U) {
    length = 2;
    cp = lead & 0x1FU;
  } else if ((lead & 0xF0U) == 0xE0U) {
    length = 3;
    cp = lead & 0x0FU;
  } else if ((lead & 0xF8U) == 0xF0U) {
    length = 4;
    cp = lead & 0x07U;
  } else {
    return std::nullopt;
  }
  if (pos + length > text.size()) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0U) != 0x80U) {
      return std::nullopt;
    }
    cp = (cp << 6U) | (byte(pos + i) & 0x3FU);
  }
  static constexpr char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < minimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;
  }
  pos += length;
  return cp;
}

// Unicode letter test through glibc's C.UTF-8 locale, which classifies every script. Combining
// marks are accepted as part of a letter so that decomposed spellings ("e" + U+0301) pass.
bool is_letter(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  const bool combining = (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
                         (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
                         (cp >= 0xFE20 && cp <= 0xFE2F);
  if (combining) {
    return true;
  }
  if (utf8 == static_cast<locale_t>(nullptr)) {
    // Without the locale, keep non-ASCII letters usable rather than refusing every name.
    return cp >= 0xC0 && cp != 0xD7 && cp != 0xF7;
  }
  return iswalpha_l(static_cast<wint_t>(cp), utf8) != 0;
}

bool is_ascii_digit(char32_t cp) {
  return cp >= '0' && cp <= '9';
}

std::string describe(char32_t cp) {
  if (cp >= 0x20 && cp < 0x7F) {
    return std::string("'") + static_cast<char>(cp) + "'";
  }
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(cp));
  return buffer;
}

bool equals_folded(std::string_view a, std::string_view b) {
  return fold_case(a) == fold_case(b);
}

bool is_plausible_phone(std::string_view number) {
  int digits = 0;
  for (std::size_t i = 0; i < number.size(); ++i) {
    const char c = number[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '+' && i == 0) {
    } else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return false;
    }
  }
  return digits >= 3 && digits <= 20;
}

}  // namespace

std::string fold_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  std::size_t end = at;
  return at < text.size() && decode_utf8(text, end) ? end - at : 0;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!decode_utf8(text, pos)) {
      return false;
    }
  }
  return true;
}

std::optional<Error> check_utf8(const User& user) {
  std::vector<std::pair<std::string_view, std::string_view>> texts{
      {"userName", user.user_name},
      {"externalId", user.external_id ? std::string_view(*user.external_id) : ""},
      {"name.formatted", user.name.formatted},
      {"name.familyName", user.name.family_name},
      {"name.givenName", user.name.given_name},
      {"name.middleName", user.name.middle_name},
      {"name.honorificPrefix", user.name.honorific_prefix},
      {"name.honorificSuffix", user.name.honorific_suffix},
      {"displayName", user.display_name},
      {"nickName", user.nick_name},
      {"profileUrl", user.profile_url},
      {"title", user.title},
      {"userType", user.user_type},
      {"preferredLanguage", user.preferred_language},
      {"locale", user.locale},
      {"timezone", user.timezone},
      {"enterprise.employeeNumber", user.enterprise.employee_number},
      {"enterprise.costCenter", user.enterprise.cost_center},
      {"enterprise.organization", user.enterprise.organization},
      {"enterprise.division", user.enterprise.division},
      {"enterprise.department", user.enterprise.department},
  };
  for (const auto& contact : user.emails) {
    texts.emplace_back("emails", contact.value);
    texts.emplace_back("emails", contact.type);
  }
  for (const auto& contact : user.phone_numbers) {
    texts.emplace_back("phoneNumbers", contact.value);
    texts.emplace_back("phoneNumbers", contact.type);
  }
  for (const auto& a : user.addresses) {
    for (const std::string* field : {&a.type, &a.formatted, &a.street_address, &a.locality,
                                     &a.region, &a.postal_code, &a.country}) {
      texts.emplace_back("addresses", *field);
    }
  }
  for (const auto& e : user.extensions) {
    texts.emplace_back("extensions", e.number);
    texts.emplace_back("extensions", e.e911_location);
  }
  for (const auto& p : user.profiles) {
    texts.emplace_back("profiles", p);
  }
  for (const auto& value : user.mfa.email_addresses) {
    texts.emplace_back("mfa", value);
  }
  for (const auto& value : user.mfa.sms_numbers) {
    texts.emplace_back("mfa", value);
  }
  for (const auto& [path, text] : texts) {
    if (!is_valid_utf8(text)) {
      return make_error(ErrorCode::invalid_value, std::string(path) + " is not valid UTF-8",
                        std::string(path));
    }
  }
  return std::nullopt;
}

std::optional<Error> check_user_name(std::string_view user_name, const TenantSettings& tenant) {
  if (user_name.empty()) {
    return make_error(ErrorCode::required, "userName is required", "userName");
  }
  std::size_t pos = 0;
  while (pos < user_name.size()) {
    const auto cp = decode_utf8(user_name, pos);
    if (!cp) {
      return make_error(ErrorCode::user_name_characters, "userName is not valid UTF-8", "userName");
    }
    const bool special =
        *cp < 0x80 && tenant.user_name_specials.find(static_cast<char>(*cp)) != std::string::npos;
    if (!is_letter(*cp) && !is_ascii_digit(*cp) && !special) {
      return make_error(ErrorCode::user_name_characters,
                        "userName may contain letters, digits and the characters \"" +
                            tenant.user_name_specials + "\"; " + describe(*cp) + " is not allowed",
                        "userName");
    }
  }
  return std::nullopt;
}

std::optional<Error> check_person_name(std::string_view value, std::string_view attribute) {
  std::size_t pos = 0;
  while (pos < value.size()) {
    const auto cp = decode_utf8(value, pos);
    if (!cp) {
      return make_error(ErrorCode::person_name_characters,
                        std::string(attribute) + " is not valid UTF-8", std::string(attribute));
    }
    const bool allowed = is_letter(*cp) || is_ascii_digit(*cp) || *cp == ' ' || *cp == '\'' ||
                         *cp == U'\u2019' || *cp == '-';
    if (!allowed) {
      return make_error(ErrorCode::person_name_characters,
                        std::string(attribute) +
                            " may contain letters, digits, spaces, apostrophes and hyphens; " +
                            describe(*cp) + " is not allowed",
                        std::string(attribute));
    }
  }
  return std::nullopt;
}

bool is_plausible_email(std::string_view email) {
  const auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 ||
      email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view domain = email.substr(at + 1);
  const auto dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      email.size() > 254) {
    return false;
  }
  return std::none_of(email.begin(), email.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == '<' || c == '>' || c == ',';
  });
}

std::optional<Error> check_password(std::string_view password, std::string_view user_name,
                                    const PasswordPolicy& policy) {
  const auto fail = [](std::string why) {
    return make_error(ErrorCode::password_policy, "password " + std::move(why), "password");
  };
  std::size_t length = 0;
  bool lower = false;
  bool upper = false;
  bool digit = false;
  bool special = false;
  std::size_t pos = 0;
  while (pos < password.size()) {
    const auto cp = decode_utf8(password, pos);
    if (!cp) {
      return fail("is not valid UTF-8");
    }
    ++length;
    if (*cp >= 'a' && *cp <= 'z') {
      lower = true;
    } else if (*cp >= 'A' && *cp <= 'Z') {
      upper = true;
    } else if (is_ascii_digit(*cp)) {
      digit = true;
    } else if (!is_letter(*cp)) {
      special = true;
    }
  }
  if (static_cast<int>(length) < policy.min_length) {
    return fail("must be at least " + std::to_string(policy.min_length) + " characters long");
  }
  if (static_cast<int>(length) > policy.max_length) {
    return fail("must be at most " + std::to_string(policy.max_length) + " characters long");
  }
  if (policy.require_lower && !lower) {
    return fail("must contain a lower-case letter");
  }
  if (policy.require_upper && !upper) {
    return fail("must contain an upper-case letter");
  }
  if (policy.require_digit && !digit) {
    return fail("must contain a digit");
  }
  if (policy.require_special && !special) {
    return fail("must contain a special character");
  }
  if (policy.forbid_user_name && !user_name.empty() && equals_folded(password, user_name)) {
    return fail("must not match the userName");
  }
  return std::nullopt;
}

std::optional<Error> check_time_zone(std::string_view zone, const ZoneCatalog& zones) {
  if (zone.empty() || zones.contains(zone)) {
    return std::nullopt;
  }
  return make_error(ErrorCode::time_zone_unknown,
                    "timezone \"" + std::string(zone) +
                        "\" is not an IANA time-zone name such as \"Australia/Sydney\"",
                    "timezone");
}

std::optional<Error> check_emails(const User& user) {
  const auto fail = [](std::string why) {
    return make_error(ErrorCode::email_rules, std::move(why), "emails");
  };
  if (user.emails.size() > 2) {
    return fail("a user has at most two emails: one primary and one backup");
  }
  const auto primaries = std::count_if(user.emails.begin(), user.emails.end(),
                                       [](const ContactValue& e) { return e.primary; });
  if (!user.emails.empty() && primaries != 1) {
    return fail("exactly one email must be primary (the login and recovery address)");
  }
  for (const auto& email : user.emails) {
    if (!is_plausible_email(email.value)) {
      return fail("\"" + email.value + "\" is not a valid email address");
    }
  }
  if (user.emails.size() == 2 && equals_folded(user.emails[0].value, user.emails[1].value)) {
    return fail("the backup email must differ from the primary email");
  }
  return std::nullopt;
}

std::optional<Error> check_extensions(const User& user) {
  const auto fail = [](std::string why) {
    return make_error(ErrorCode::extension_rules, std::move(why), "extensions");
  };
  if (user.extensions.empty()) {
    return std::nullopt;
  }
  std::set<std::string> numbers;
  int primaries = 0;
  for (const auto& extension : user.extensions) {
    const bool digits_only = !extension.number.empty() && extension.number.size() <= 15 &&
                             std::all_of(extension.number.begin(), extension.number.end(),
                                         [](char c) { return c >= '0' && c <= '9'; });
    if (!digits_only) {
      return fail("extension \"" + extension.number + "\" must be 1 to 15 digits");
    }
    if (!numbers.insert(extension.number).second) {
      return fail("extension " + extension.number + " is listed twice");
    }
    if (extension.e911_location.empty()) {
      return fail("extension " + extension.number + " needs an E911 location");
    }
    primaries += extension.primary ? 1 : 0;
  }
  if (primaries != 1) {
    return fail("exactly one extension must be primary");
  }
  return std::nullopt;
}

std::optional<Error> check_mfa(const User& user) {
  const auto fail = [](std::string why) {
    return make_error(ErrorCode::mfa_rules, std::move(why), "mfa");
  };
  const MfaSettings& mfa = user.mfa;
  if (mfa.email_addresses.size() > 1) {
    return fail("MFA allows at most one email address");
  }
  if (mfa.sms_numbers.size() > 3) {
    return fail("MFA allows at most three SMS numbers");
  }
  for (const auto& email : mfa.email_addresses) {
    if (!is_plausible_email(email)) {
      return fail("MFA email \"" + email + "\" is not a valid email address");
    }
  }
  for (const auto& number : mfa.sms_numbers) {
    if (!is_plausible_phone(number)) {
      return fail("MFA SMS number \"" + number + "\" is not a phone number");
    }
  }
  if (mfa.method == MfaMethod::sms && mfa.sms_numbers.empty() && user.phone_numbers.empty()) {
    return fail("MFA by SMS needs a phone number");
  }
  if (mfa.method == MfaMethod::email && mfa.email_addresses.empty() && user.emails.empty()) {
    return fail("MFA by email needs an email address");
  }
  return std::nullopt;
}

std::optional<Error> check_profiles(const User& user, const TenantSettings& tenant) {
  for (const auto& profile : user.profiles) {
    const bool known = std::any_of(tenant.profiles.begin(), tenant.profiles.end(),
                                   [&](const ProfileDefinition& p) { return p.name == profile; });
    if (!known) {
      return make_error(ErrorCode::profile_unknown,
                        "profile \"" + profile + "\" is not defined for tenant " + tenant.id.str(),
                        "profiles");
    }
  }
  return std::nullopt;
}

std::vector<std::string> effective_rights(const User& user, const TenantSettings& tenant) {
  if (user.role == Role::account_owner) {
    return {"*"};
  }
  std::set<std::string> rights;
  for (const auto& name : user.profiles) {
    for (const auto& profile : tenant.profiles) {
      if (profile.name == name) {
        rights.insert(profile.rights.begin(), profile.rights.end());
      }
    }
  }
  return {rights.begin(), rights.end()};
}

TenantSettings with_default_profiles(TenantSettings tenant) {
  for (const Role role :
       {Role::limited_access_user, Role::standard_user, Role::administrator, Role::account_owner}) {
    const std::string name = default_profile_name(role);
    const bool present = std::any_of(tenant.profiles.begin(), tenant.profiles.end(),
                                     [&](const ProfileDefinition& p) { return p.name == name; });
    if (!present) {
      tenant.profiles.push_back(ProfileDefinition{name, {}});
    }
  }
  return tenant;
}

}  // namespace idbridge::core
