// Membership changes of the groups the rules name, against a private slapd. Adding a user to a
// group changes only the user's memberOf (maintained by the memberof overlay, or by AD), and no
// change detection reports the user for it: the first step of each test shows that on slapd
// 2.5, then that the reader notices the named group's change and reads everything.
#include "idbridge/ldap/reader.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "read_settings_for.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

namespace idbridge::ldap {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Slapd;
using testing::SlapdOptions;
using testing::TempDir;
using Kind = core::sync::Snapshot::Kind;

const SleepFunction no_sleep = [](std::chrono::milliseconds) {};

std::string user_dn(const std::string& uid) {
  return "uid=" + uid + ",ou=people,dc=example,dc=com";
}

std::string group_dn(const std::string& cn) {
  return "cn=" + cn + ",ou=groups,dc=example,dc=com";
}

std::string directory_ldif(const std::string& group_class, const std::string& user_class) {
  std::string ldif =
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n"
      "dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n";
  for (int i = 0; i < 4; ++i) {
    const std::string uid = "p" + std::to_string(i);
    ldif += "dn: " + user_dn(uid) + "\nobjectClass: " + user_class + "\nuid: " + uid +
            "\ncn: " + uid + "\nsn: S\n";
    if (user_class == "user") {
      // 16 bytes of objectGUID, the last one distinct; uSNChanged as AD would have assigned.
      ldif += "objectGUID:: " + std::string(20, 'A') + std::string(1, "ABCD"[i]) +
              "A==\nuSNChanged: " + std::to_string(i + 1) + "\n";
    }
    ldif += "\n";
  }
  for (const std::string cn : {"admins", "sales", "other"}) {
    ldif += "dn: " + group_dn(cn) + "\nobjectClass: " + group_class + "\ncn: " + cn +
            "\nmember: " + user_dn("p0") + "\nmember: " + user_dn("p3") + "\n\n";
  }
  return ldif;
}

std::string add_member(const std::string& group, const std::string& uid) {
  return "dn: " + group_dn(group) + "\nchangetype: modify\nadd: member\nmember: " + user_dn(uid) +
         "\n\n";
}

std::string delete_member(const std::string& group, const std::string& uid) {
  return "dn: " + group_dn(group) +
         "\nchangetype: modify\ndelete: member\nmember: " + user_dn(uid) + "\n\n";
}

std::vector<std::string> groups_of(const core::sync::Snapshot& snapshot, const std::string& uid) {
  for (const auto& user : snapshot.users) {
    if (user.attributes.at("uid").front() == uid) {
      return user.groups;
    }
  }
  return {"<not read>"};
}

ReadSettings settings_for(const Slapd& slapd, ChangeDetection detection) {
  ReadSettings settings = root_read_settings(slapd);
  settings.attributes = {"uid", "cn"};
  settings.change_detection = detection;
  settings.timestamp_margin = std::chrono::seconds(0);
  // One rule names its group by cn, one by DN (spelled differently from the directory).
  settings.rule_groups = {"admins", "CN=Sales, ou=groups,dc=example,dc=com"};
  return settings;
}

// The membership story every profile must get right: an unnamed group's change is invisible
// (and irrelevant), a named group's addition and removal each make the next read a full one,
// after which reads are incremental again.
void check_membership_changes(
    const Slapd& slapd, const ReadSettings& settings,
    const std::function<void()>& before_change = [] {}) {
  const auto first = read_directory_incremental(settings, "", no_sleep);
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
  ASSERT_EQ(first.snapshot.kind, Kind::full);
  EXPECT_THAT(groups_of(first.snapshot, "p0"), Contains(group_dn("admins")));

  before_change();
  slapd.modify_ldif(add_member("other", "p1"));
  const auto unnamed = read_directory_incremental(settings, first.snapshot.cursor, no_sleep);
  ASSERT_TRUE(unnamed.snapshot.completeness.complete) << unnamed.snapshot.completeness.reason;
  EXPECT_EQ(unnamed.snapshot.kind, Kind::incremental) << unnamed.full_read_reason;
  EXPECT_TRUE(unnamed.snapshot.users.empty())
      << "the server reported a user whose only change is memberOf: the premise changed";

  before_change();
  slapd.modify_ldif(add_member("admins", "p1"));
  const auto added = read_directory_incremental(settings, unnamed.snapshot.cursor, no_sleep);
  ASSERT_TRUE(added.snapshot.completeness.complete) << added.snapshot.completeness.reason;
  EXPECT_EQ(added.snapshot.kind, Kind::full);
  EXPECT_THAT(added.full_read_reason, HasSubstr("groups the rules name changed"));
  EXPECT_THAT(groups_of(added.snapshot, "p1"), Contains(group_dn("admins")));

  const auto quiet = read_directory_incremental(settings, added.snapshot.cursor, no_sleep);
  ASSERT_TRUE(quiet.snapshot.completeness.complete) << quiet.snapshot.completeness.reason;
  EXPECT_EQ(quiet.snapshot.kind, Kind::incremental) << quiet.full_read_reason;
  EXPECT_TRUE(quiet.snapshot.users.empty());

  before_change();
  slapd.modify_ldif(delete_member("sales", "p0"));
  const auto removed = read_directory_incremental(settings, quiet.snapshot.cursor, no_sleep);
  ASSERT_TRUE(removed.snapshot.completeness.complete) << removed.snapshot.completeness.reason;
  EXPECT_EQ(removed.snapshot.kind, Kind::full);
  EXPECT_THAT(groups_of(removed.snapshot, "p0"), Not(Contains(group_dn("sales"))));
  EXPECT_THAT(groups_of(removed.snapshot, "p0"), Contains(group_dn("admins")));

  const auto again = read_directory_incremental(settings, removed.snapshot.cursor, no_sleep);
  ASSERT_TRUE(again.snapshot.completeness.complete) << again.snapshot.completeness.reason;
  EXPECT_EQ(again.snapshot.kind, Kind::incremental) << again.full_read_reason;
}

TEST(RuleGroups, ContentSyncReadsEverythingWhenANamedGroupsMembersChange) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
  check_membership_changes(slapd, settings_for(slapd, ChangeDetection::content_sync));
}

TEST(RuleGroups, ModifyTimestampReadsEverythingWhenANamedGroupsMembersChange) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
  // modifyTimestamp has one-second resolution: each change lands in a later second than the
  // read before it, so the unnamed change would be seen if memberOf moved modifyTimestamp.
  check_membership_changes(slapd, settings_for(slapd, ChangeDetection::modify_timestamp),
                           [] { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); });
}

TEST(RuleGroups, UsnChangedOnTheAdEmulationReadsEverythingWhenANamedGroupsMembersChange) {
  TempDir dir;
  SlapdOptions options;
  options.ad_schema = true;
  options.memberof_group_class = "group";
  options.root_dse_ldif =
      "dn:\nhighestCommittedUSN: 100\ndsServiceName: cn=NTDS Settings,cn=DC1,dc=example,dc=com\n";
  Slapd slapd(dir, options);
  slapd.add_ldif(
      "dn: cn=DC1,dc=example,dc=com\nobjectClass: organizationalRole\ncn: DC1\n\n"
      "dn: cn=NTDS Settings,cn=DC1,dc=example,dc=com\nobjectClass: nTDSDSA\ncn: NTDS Settings\n"
      "invocationId:: AAECAwQFBgcICQoLDA0ODw==\n\n" +
      directory_ldif("group", "user"));
  auto settings = settings_for(slapd, ChangeDetection::usn_changed);
  settings.user_filter = "(objectClass=user)";
  settings.anchor_attribute = "objectGUID";
  settings.group_filter = "(objectClass=group)";
  // AD moves the group's uSNChanged, not the user's: the emulation leaves the users' alone.
  check_membership_changes(slapd, settings);
}

TEST(RuleGroups, WithoutRuleGroupsNothingIsReadForThemAndTheCursorSaysSo) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
  auto settings = settings_for(slapd, ChangeDetection::content_sync);
  settings.rule_groups.clear();
  const auto first = read_directory_incremental(settings, "", no_sleep);
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
  EXPECT_THAT(first.snapshot.cursor, HasSubstr(";0000000000000000;0000000000000000;"));
  slapd.modify_ldif(add_member("admins", "p1"));
  const auto second = read_directory_incremental(settings, first.snapshot.cursor, no_sleep);
  EXPECT_EQ(second.snapshot.kind, Kind::incremental) << "no rule names a group";
}

TEST(RuleGroups, ANamedGroupThatDoesNotExistIsNotAFailureAndItsCreationIsAChange) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
  auto settings = settings_for(slapd, ChangeDetection::content_sync);
  settings.rule_groups = {"helpdesk"};
  const auto first = read_directory_incremental(settings, "", no_sleep);
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
  slapd.add_ldif("dn: " + group_dn("helpdesk") + "\nobjectClass: groupOfNames\ncn: helpdesk\n" +
                 "member: " + user_dn("p2") + "\n\n");
  const auto second = read_directory_incremental(settings, first.snapshot.cursor, no_sleep);
  ASSERT_TRUE(second.snapshot.completeness.complete) << second.snapshot.completeness.reason;
  EXPECT_EQ(second.snapshot.kind, Kind::full);
  EXPECT_THAT(groups_of(second.snapshot, "p2"), Contains(group_dn("helpdesk")));
}

}  // namespace
}  // namespace idbridge::ldap
