// The directory reader against a private slapd: AD-style binary anchors as hex, memberOf as
// groups, and every way a read must end up incomplete (missing base, entry without anchor,
// failed bind) rather than look like fewer users.
#include "idbridge/ldap/reader.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "read_settings_for.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace idbridge::ldap {
namespace {

using ::testing::HasSubstr;
using testing::Slapd;
using testing::SlapdOptions;
using testing::TempDir;

ReadSettings settings_for(const Slapd& slapd) {
  ReadSettings settings = root_read_settings(slapd);
  settings.page_size = 2;
  return settings;
}

const SleepFunction no_sleep = [](std::chrono::milliseconds) {};

std::string people_ldif(int count) {
  std::string ldif =
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n"
      "ou: people\n\n";
  for (int i = 0; i < count; ++i) {
    const std::string uid = "p" + std::to_string(i);
    ldif +=
        "dn: uid=" + uid + ",ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: " + uid +
        "\ncn: " + uid + "\nsn: S\n" + (i % 2 == 0 ? "employeeNumber: " + uid + "\n" : "") + "\n";
  }
  return ldif;
}

TEST(ReadDirectory, BinaryObjectGuidBecomesLowerCaseHexAndMemberOfBecomesGroups) {
  TempDir dir;
  SlapdOptions options;
  options.ad_schema = true;
  options.memberof_group_class = "group";
  Slapd slapd(dir, options);
  slapd.add_ldif(
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n"
      "dn: cn=Alice,ou=people,dc=example,dc=com\nobjectClass: user\ncn: Alice\nsn: A\n"
      "sAMAccountName: alice\nobjectGUID:: AChVKlz/ECAwQFBgcICQoA==\n\n"
      "dn: cn=Staff,dc=example,dc=com\nobjectClass: group\ncn: Staff\n"
      "member: cn=Alice,ou=people,dc=example,dc=com\n");
  auto settings = settings_for(slapd);
  settings.user_filter = "(objectClass=user)";
  settings.anchor_attribute = "objectGUID";
  const auto snapshot = read_directory(settings, no_sleep);
  ASSERT_TRUE(snapshot.completeness.complete) << snapshot.completeness.reason;
  EXPECT_EQ(snapshot.directory, "corp");
  ASSERT_EQ(snapshot.users.size(), 1u);
  const auto& alice = snapshot.users[0];
  EXPECT_EQ(alice.anchor, "0028552a5cff102030405060708090a0");
  EXPECT_EQ(alice.dn, "cn=Alice,ou=people,dc=example,dc=com");
  EXPECT_EQ(alice.attributes.at("sAMAccountName"), std::vector<std::string>{"alice"});
  EXPECT_EQ(alice.groups, std::vector<std::string>{"cn=Staff,dc=example,dc=com"});
}

TEST(ReadDirectory, PagesThroughEveryBaseAndCountsOverlapsOnce) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(9));
  auto settings = settings_for(slapd);
  // The second base lies inside the first: its entries are the same users.
  settings.user_base_dns = {"ou=people,dc=example,dc=com", "uid=p3,ou=people,dc=example,dc=com"};
  const auto snapshot = read_directory(settings, no_sleep);
  EXPECT_TRUE(snapshot.completeness.complete) << snapshot.completeness.reason;
  EXPECT_EQ(snapshot.users.size(), 9u);
  EXPECT_TRUE(std::all_of(snapshot.users.begin(), snapshot.users.end(), [](const auto& user) {
    return user.anchor.size() == 36;
  })) << "entryUUID as text";
}

TEST(ReadDirectory, MissingBaseMakesTheReadIncompleteNamingTheBase) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(3));
  auto settings = settings_for(slapd);
  settings.user_base_dns = {"ou=people,dc=example,dc=com", "ou=gone,dc=example,dc=com"};
  const auto snapshot = read_directory(settings, no_sleep);
  EXPECT_FALSE(snapshot.completeness.complete);
  EXPECT_THAT(snapshot.completeness.reason, HasSubstr("no_such_base on ou=gone,dc=example,dc=com"));
  EXPECT_EQ(snapshot.users.size(), 3u) << "entries read before the problem are kept";
}

TEST(ReadDirectory, EntryWithoutAnchorMakesTheReadIncomplete) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(4));
  auto settings = settings_for(slapd);
  settings.anchor_attribute = "employeeNumber";  // only even entries have one
  const auto snapshot = read_directory(settings, no_sleep);
  EXPECT_FALSE(snapshot.completeness.complete);
  EXPECT_THAT(snapshot.completeness.reason, HasSubstr("has no employeeNumber"));
  EXPECT_EQ(snapshot.users.size(), 2u);
}

TEST(ReadDirectory, FailedBindOrUnreachableServerIsIncompleteNeverEmptyAndComplete) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(2));
  auto settings = settings_for(slapd);
  settings.connection.password = Password("wrong-password");
  const auto refused = read_directory(settings, no_sleep);
  EXPECT_FALSE(refused.completeness.complete);
  EXPECT_THAT(refused.completeness.reason, HasSubstr("invalid_credentials"));
  EXPECT_THAT(refused.completeness.reason, ::testing::Not(HasSubstr("wrong-password")));
  EXPECT_TRUE(refused.users.empty());

  slapd.stop();
  const auto unreachable = read_directory(settings_for(slapd), no_sleep);
  EXPECT_FALSE(unreachable.completeness.complete);
  EXPECT_THAT(unreachable.completeness.reason, HasSubstr("unreachable"));
}

TEST(HexAnchor, TwoLowerCaseDigitsPerByte) {
  using namespace std::string_literals;
  EXPECT_EQ(hex_anchor("\x00\xff\x10\xab"s), "00ff10ab");
  EXPECT_EQ(hex_anchor(""), "");
}

}  // namespace
}  // namespace idbridge::ldap
