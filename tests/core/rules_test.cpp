// Rule-by-rule tests of the value rules in core/rules.hpp (DOMAIN.md). Each table row is one
// input and the rule that must (or must not) fire.
#include "idbridge/core/rules.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

namespace idbridge::core {
namespace {

class FixedZones final : public ZoneCatalog {
 public:
  bool contains(std::string_view zone) const override {
    static const std::unordered_set<std::string_view> zones{"Australia/Sydney", "Europe/Paris",
                                                            "UTC"};
    return zones.contains(zone);
  }
};

TenantSettings default_tenant() {
  TenantSettings tenant;
  tenant.id = TenantId("acme");
  return with_default_profiles(tenant);
}

struct NameCase {
  std::string value;
  bool valid;
};

class UserNameRule : public ::testing::TestWithParam<NameCase> {};

TEST_P(UserNameRule, AllowsLettersDigitsAndTheDefaultSpecials) {
  const auto error = check_user_name(GetParam().value, default_tenant());
  EXPECT_EQ(!error.has_value(), GetParam().valid) << GetParam().value;
  if (error) {
    EXPECT_TRUE(error->code == ErrorCode::user_name_characters ||
                error->code == ErrorCode::required);
    EXPECT_EQ(error->attribute, "userName");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, UserNameRule,
    ::testing::Values(NameCase{"alice@example.com", true}, NameCase{"Bob.Smith-2+x", true},
                      NameCase{"a!b#c$d%e^f&g_h", true}, NameCase{"back\\slash", true},
                      NameCase{"José", true}, NameCase{"Дмитрий", true}, NameCase{"王小明", true},
                      NameCase{"", false}, NameCase{"with space", false}, NameCase{"star*", false},
                      NameCase{"slash/", false}, NameCase{"quote\"", false},
                      NameCase{"colon:", false}, NameCase{"bad\xC3(utf8", false},
                      NameCase{"emoji\xF0\x9F\x98\x80", false}));

TEST(UserNameRule, TenantSettingChangesTheAllowedSpecials) {
  TenantSettings tenant = default_tenant();
  tenant.user_name_specials = "._";
  EXPECT_FALSE(check_user_name("a.b_c", tenant));
  EXPECT_TRUE(check_user_name("a@b", tenant));
  tenant.user_name_specials = "@/";
  EXPECT_FALSE(check_user_name("a@b/c", tenant));
}

class PersonNameRule : public ::testing::TestWithParam<NameCase> {};

TEST_P(PersonNameRule, AllowsLettersOfAnyScriptDigitsSpacesApostrophesHyphens) {
  const auto error = check_person_name(GetParam().value, "name.givenName");
  EXPECT_EQ(!error.has_value(), GetParam().valid) << GetParam().value;
  if (error) {
    EXPECT_EQ(error->code, ErrorCode::person_name_characters);
    EXPECT_EQ(error->attribute, "name.givenName");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, PersonNameRule,
    ::testing::Values(NameCase{"Anne Marie", true}, NameCase{"O'Brien", true},
                      NameCase{"O\u2019Brien", true}, NameCase{"Jean-Luc", true},
                      NameCase{"José", true}, NameCase{"Jose\u0301", true}, NameCase{"Zoë 3", true},
                      NameCase{"Дмитрий", true}, NameCase{"محمد", true}, NameCase{"王", true},
                      NameCase{"", true}, NameCase{"Bob!", false}, NameCase{"a@b", false},
                      NameCase{"Jr.", false}, NameCase{"x_y", false}, NameCase{"tab\there", false},
                      NameCase{"\xF0\x9F\x98\x80", false}));

TEST(EmailRule, OnePrimaryAtMostOneBackupWellFormed) {
  User user;
  EXPECT_FALSE(check_emails(user)) << "no email is allowed";
  user.emails = {{"a@example.com", "work", true}};
  EXPECT_FALSE(check_emails(user));
  user.emails.push_back({"a.backup@example.org", "home", false});
  EXPECT_FALSE(check_emails(user)) << "primary plus backup";
  user.emails.push_back({"third@example.org", "other", false});
  EXPECT_EQ(check_emails(user)->code, ErrorCode::email_rules) << "a third email";
  user.emails = {{"a@example.com", "work", true}, {"b@example.com", "home", true}};
  EXPECT_EQ(check_emails(user)->code, ErrorCode::email_rules) << "two primaries";
  user.emails = {{"a@example.com", "work", false}, {"b@example.com", "home", false}};
  EXPECT_EQ(check_emails(user)->code, ErrorCode::email_rules) << "no primary";
  user.emails = {{"a@example.com", "work", true}, {"A@Example.com", "home", false}};
  EXPECT_EQ(check_emails(user)->code, ErrorCode::email_rules) << "backup equals primary";
}

TEST(EmailRule, RejectsMalformedAddresses) {
  for (const char* bad :
       {"plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@.com", "a@b.com."}) {
    User user;
    user.emails = {{bad, "work", true}};
    const auto error = check_emails(user);
    ASSERT_TRUE(error.has_value()) << bad;
    EXPECT_EQ(error->code, ErrorCode::email_rules);
  }
}

struct PasswordCase {
  std::string password;
  std::string expected_fragment;  // "" when the password is acceptable
};

class PasswordRule : public ::testing::TestWithParam<PasswordCase> {};

TEST_P(PasswordRule, DefaultPolicy) {
  const auto error = check_password(GetParam().password, "alice.smith", PasswordPolicy{});
  if (GetParam().expected_fragment.empty()) {
    EXPECT_FALSE(error.has_value()) << error->detail;
    return;
  }
  ASSERT_TRUE(error.has_value()) << GetParam().password;
  EXPECT_EQ(error->code, ErrorCode::password_policy);
  EXPECT_NE(error->detail.find(GetParam().expected_fragment), std::string::npos) << error->detail;
  EXPECT_EQ(error->detail.find(GetParam().password), std::string::npos)
      << "the password must never appear in the error";
}

INSTANTIATE_TEST_SUITE_P(
    Table, PasswordRule,
    ::testing::Values(PasswordCase{"Passw0rd", ""}, PasswordCase{"Pass w0rd with spaces!", ""},
                      PasswordCase{"Pa5s", "at least 8"}, PasswordCase{"PASSWORD1", "lower-case"},
                      PasswordCase{"password1", "upper-case"}, PasswordCase{"Password", "digit"},
                      PasswordCase{"Alice.Smith1", ""}, PasswordCase{"ALICE.smith", "digit"},
                      PasswordCase{std::string(257, 'a') + "A1", "at most"}));

TEST(PasswordRule, MustNotEqualTheUserNameCaseInsensitively) {
  const auto error = check_password("Alice.Smith9", "alice.smith9", PasswordPolicy{});
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->detail.find("userName"), std::string::npos);
  PasswordPolicy lenient;
  lenient.forbid_user_name = false;
  EXPECT_FALSE(check_password("Alice.Smith9", "alice.smith9", lenient));
}

TEST(PasswordRule, TenantMayMakeItStricter) {
  PasswordPolicy strict;
  strict.min_length = 12;
  strict.require_special = true;
  EXPECT_TRUE(check_password("Passw0rdLong", "u", strict)) << "no special character";
  EXPECT_TRUE(check_password("Pa$sw0rd", "u", strict)) << "too short";
  EXPECT_FALSE(check_password("Pa$sw0rdLong", "u", strict));
}

TEST(TimeZoneRule, AcceptsIanaNamesOnly) {
  const FixedZones zones;
  EXPECT_FALSE(check_time_zone("Australia/Sydney", zones));
  EXPECT_FALSE(check_time_zone("", zones)) << "absent is allowed";
  const auto error = check_time_zone("Mars/Olympus_Mons", zones);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::time_zone_unknown);
  EXPECT_EQ(error->attribute, "timezone");
  EXPECT_TRUE(check_time_zone("australia/sydney", zones)) << "zone names are case-sensitive";
}

TEST(TimeZoneRule, TzdataCatalogueKnowsZonesAndLinks) {
  const TzdataZoneCatalog zones;
  EXPECT_GT(zones.size(), 300U);
  EXPECT_TRUE(zones.contains("Australia/Sydney"));
  EXPECT_TRUE(zones.contains("America/New_York"));
  EXPECT_TRUE(zones.contains("US/Eastern")) << "a link (backward alias)";
  EXPECT_FALSE(zones.contains("Atlantis/Capital"));
  EXPECT_THROW(TzdataZoneCatalog("/nonexistent/tzdata.zi"), std::runtime_error);
}

TEST(ExtensionRule, UniqueDigitsWithE911AndExactlyOnePrimary) {
  User user;
  EXPECT_FALSE(check_extensions(user));
  user.extensions = {{"1001", "HQ floor 2", true}, {"1002", "HQ floor 2", false}};
  EXPECT_FALSE(check_extensions(user));
  user.extensions[1].primary = true;
  EXPECT_EQ(check_extensions(user)->code, ErrorCode::extension_rules) << "two primaries";
  user.extensions[0].primary = false;
  user.extensions[1].primary = false;
  EXPECT_EQ(check_extensions(user)->code, ErrorCode::extension_rules) << "no primary";
  user.extensions = {{"1001", "", true}};
  EXPECT_NE(check_extensions(user)->detail.find("E911"), std::string::npos);
  user.extensions = {{"10a1", "HQ", true}};
  EXPECT_EQ(check_extensions(user)->code, ErrorCode::extension_rules) << "not digits";
  user.extensions = {{"1001", "HQ", true}, {"1001", "HQ", false}};
  EXPECT_EQ(check_extensions(user)->code, ErrorCode::extension_rules) << "duplicate";
}

TEST(MfaRule, LimitsAndPrerequisites) {
  User user;
  EXPECT_FALSE(check_mfa(user));
  user.mfa.method = MfaMethod::sms;
  EXPECT_EQ(check_mfa(user)->code, ErrorCode::mfa_rules) << "SMS without any phone";
  user.phone_numbers = {{"+61 2 5550 1234", "mobile", true}};
  EXPECT_FALSE(check_mfa(user)) << "a personal phone number is enough";
  user.mfa.sms_numbers = {"+15550001", "+15550002", "+15550003"};
  EXPECT_FALSE(check_mfa(user));
  user.mfa.sms_numbers.push_back("+15550004");
  EXPECT_EQ(check_mfa(user)->code, ErrorCode::mfa_rules) << "four SMS numbers";
  user.mfa.sms_numbers = {"not a number"};
  EXPECT_EQ(check_mfa(user)->code, ErrorCode::mfa_rules);
  user.mfa = {};
  user.mfa.method = MfaMethod::email;
  EXPECT_EQ(check_mfa(user)->code, ErrorCode::mfa_rules) << "email MFA without an email";
  user.mfa.email_addresses = {"a@example.com"};
  EXPECT_FALSE(check_mfa(user));
  user.mfa.email_addresses.push_back("b@example.com");
  EXPECT_EQ(check_mfa(user)->code, ErrorCode::mfa_rules) << "two MFA emails";
}

TEST(ProfileRule, OnlyTenantDefinedProfiles) {
  TenantSettings tenant = default_tenant();
  tenant.profiles.push_back({"helpdesk", {"manageUsers"}});
  User user;
  user.profiles = {"helpdesk", default_profile_name(Role::standard_user)};
  EXPECT_FALSE(check_profiles(user, tenant));
  user.profiles.push_back("superpowers");
  const auto error = check_profiles(user, tenant);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::profile_unknown);
  EXPECT_NE(error->detail.find("superpowers"), std::string::npos);
}

TEST(ProfileRule, FourRoleDefaultsAlwaysExist) {
  const TenantSettings tenant = default_tenant();
  for (const Role role :
       {Role::limited_access_user, Role::standard_user, Role::administrator, Role::account_owner}) {
    User user;
    user.profiles = {default_profile_name(role)};
    EXPECT_FALSE(check_profiles(user, tenant)) << default_profile_name(role);
  }
}

TEST(RightsRule, UnionOfProfilesAndAllForTheAccountOwner) {
  TenantSettings tenant = default_tenant();
  tenant.profiles.push_back({"e911", {"manageE911"}});
  tenant.profiles.push_back({"intl", {"manageInternationalDialing", "manageE911"}});
  User user;
  user.profiles = {"e911", "intl"};
  EXPECT_EQ(effective_rights(user, tenant),
            (std::vector<std::string>{"manageE911", "manageInternationalDialing"}));
  user.role = Role::account_owner;
  user.profiles = {};
  EXPECT_EQ(effective_rights(user, tenant), std::vector<std::string>{"*"})
      << "profiles neither add to nor remove from the Account Owner's rights";
}

TEST(Roles, RankOrderAndSpelling) {
  EXPECT_LT(Role::limited_access_user, Role::standard_user);
  EXPECT_LT(Role::standard_user, Role::administrator);
  EXPECT_LT(Role::administrator, Role::account_owner);
  for (const Role role :
       {Role::limited_access_user, Role::standard_user, Role::administrator, Role::account_owner}) {
    EXPECT_EQ(parse_role(to_string(role)), role);
  }
  EXPECT_FALSE(parse_role("root"));
  EXPECT_EQ(User{}.role, Role::standard_user) << "the default role is Standard User";
}

TEST(CaseFolding, FoldsAsciiOnly) {
  EXPECT_EQ(fold_case("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(fold_case("\xC3\x89"
                      "COLE"),
            "\xC3\x89"
            "cole")
      << "non-ASCII bytes are kept as they are";
}

}  // namespace
}  // namespace idbridge::core
