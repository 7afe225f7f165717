// Membership changes of the groups the rules name, against a private slapd. Adding a user to a
// group changes only the user's memberOf (maintained by the memberof overlay, or by AD), and no
// change detection reports the user for it: the first step of each test shows that on slapd
// 2.5, then that the reader notices the named group's change and reads the users who joined or
// left it by DN, from the member lists stored with the cursor, and that it reads everything when
// it cannot tell who moved.
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

std::vector<std::string> uids_of(const core::sync::Snapshot& snapshot) {
  std::vector<std::string> uids;
  for (const auto& user : snapshot.users) {
    uids.push_back(user.attributes.at("uid").front());
  }
  std::sort(uids.begin(), uids.end());
  return uids;
}

// What the store keeps of the groups the rules name: the member lists of the last complete read,
// as apply stores them with its cursor.
class StoredGroups {
 public:
  StoredRuleGroups port() {
    return {[this] {
              std::vector<core::sync::RuleGroupDigest> digests;
              for (const auto& group : groups_) {
                digests.push_back({group.group, group.digest});
              }
              return digests;
            },
            [this](const std::string& name) -> std::optional<core::sync::RuleGroupMembers> {
              for (const auto& group : groups_) {
                if (group.group == name) {
                  return group;
                }
              }
              return std::nullopt;
            }};
  }
  // Keeps what a complete read returned, as apply does with the read's cursor.
  const DirectoryRead& keep(const DirectoryRead& read) {
    if (read.snapshot.completeness.complete && read.snapshot.rule_groups) {
      groups_ = *read.snapshot.rule_groups;
    }
    return read;
  }
  std::vector<core::sync::RuleGroupMembers>& groups() { return groups_; }

 private:
  std::vector<core::sync::RuleGroupMembers> groups_;
};

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
// (and irrelevant); a named group's addition and removal each make the next read an incremental
// one that holds exactly the user who joined or left, read by DN with its new groups; and reads
// after that find nothing.
void check_membership_changes(
    const Slapd& slapd, ReadSettings settings, const std::function<void()>& before_change = [] {}) {
  StoredGroups stored;
  settings.stored_rule_groups = stored.port();
  const auto first = stored.keep(read_directory_incremental(settings, "", no_sleep));
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
  ASSERT_EQ(first.snapshot.kind, Kind::full);
  EXPECT_THAT(groups_of(first.snapshot, "p0"), Contains(group_dn("admins")));
  ASSERT_TRUE(first.snapshot.rule_groups);
  ASSERT_EQ(first.snapshot.rule_groups->size(), 2u) << "admins and sales, not other";
  EXPECT_EQ(first.snapshot.rule_groups->at(0).group, "cn=admins,ou=groups,dc=example,dc=com");
  EXPECT_EQ(first.snapshot.rule_groups->at(0).members.size(), 2u);

  before_change();
  slapd.modify_ldif(add_member("other", "p1"));
  const auto unnamed =
      stored.keep(read_directory_incremental(settings, first.snapshot.cursor, no_sleep));
  ASSERT_TRUE(unnamed.snapshot.completeness.complete) << unnamed.snapshot.completeness.reason;
  EXPECT_EQ(unnamed.snapshot.kind, Kind::incremental) << unnamed.full_read_reason;
  EXPECT_TRUE(unnamed.snapshot.users.empty())
      << "the server reported a user whose only change is memberOf: the premise changed";

  before_change();
  slapd.modify_ldif(add_member("admins", "p1"));
  const auto added =
      stored.keep(read_directory_incremental(settings, unnamed.snapshot.cursor, no_sleep));
  ASSERT_TRUE(added.snapshot.completeness.complete) << added.snapshot.completeness.reason;
  EXPECT_EQ(added.snapshot.kind, Kind::incremental) << added.full_read_reason;
  EXPECT_EQ(added.moved_members, 1u);
  EXPECT_EQ(uids_of(added.snapshot), std::vector<std::string>{"p1"}) << "p1 joined, nobody else";
  EXPECT_THAT(groups_of(added.snapshot, "p1"), Contains(group_dn("admins")));
  EXPECT_TRUE(added.snapshot.deleted_anchors.empty());
  EXPECT_NE(added.snapshot.cursor, unnamed.snapshot.cursor);

  const auto quiet =
      stored.keep(read_directory_incremental(settings, added.snapshot.cursor, no_sleep));
  ASSERT_TRUE(quiet.snapshot.completeness.complete) << quiet.snapshot.completeness.reason;
  EXPECT_EQ(quiet.snapshot.kind, Kind::incremental) << quiet.full_read_reason;
  EXPECT_TRUE(quiet.snapshot.users.empty());
  EXPECT_EQ(quiet.moved_members, 0u);

  before_change();
  slapd.modify_ldif(delete_member("sales", "p0") + add_member("sales", "p2"));
  const auto moved =
      stored.keep(read_directory_incremental(settings, quiet.snapshot.cursor, no_sleep));
  ASSERT_TRUE(moved.snapshot.completeness.complete) << moved.snapshot.completeness.reason;
  EXPECT_EQ(moved.snapshot.kind, Kind::incremental) << moved.full_read_reason;
  EXPECT_EQ(uids_of(moved.snapshot), (std::vector<std::string>{"p0", "p2"}));
  EXPECT_THAT(groups_of(moved.snapshot, "p0"), Not(Contains(group_dn("sales"))));
  EXPECT_THAT(groups_of(moved.snapshot, "p0"), Contains(group_dn("admins")));
  EXPECT_THAT(groups_of(moved.snapshot, "p2"), Contains(group_dn("sales")));

  const auto again =
      stored.keep(read_directory_incremental(settings, moved.snapshot.cursor, no_sleep));
  ASSERT_TRUE(again.snapshot.completeness.complete) << again.snapshot.completeness.reason;
  EXPECT_EQ(again.snapshot.kind, Kind::incremental) << again.full_read_reason;
  EXPECT_TRUE(again.snapshot.users.empty());
}

TEST(RuleGroups, ContentSyncReadsTheMembersWhoJoinedOrLeftANamedGroup) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
  check_membership_changes(slapd, settings_for(slapd, ChangeDetection::content_sync));
}

TEST(RuleGroups, ModifyTimestampReadsTheMembersWhoJoinedOrLeftANamedGroup) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
  // modifyTimestamp has one-second resolution: each change lands in a later second than the
  // read before it, so the unnamed change would be seen if memberOf moved modifyTimestamp.
  check_membership_changes(slapd, settings_for(slapd, ChangeDetection::modify_timestamp),
                           [] { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); });
}

TEST(RuleGroups, UsnChangedOnTheAdEmulationReadsTheMembersWhoJoinedOrLeftANamedGroup) {
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
  StoredGroups stored;
  settings.stored_rule_groups = stored.port();
  const auto first = stored.keep(read_directory_incremental(settings, "", no_sleep));
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
  ASSERT_TRUE(first.snapshot.rule_groups);
  EXPECT_TRUE(first.snapshot.rule_groups->empty());
  slapd.add_ldif("dn: " + group_dn("helpdesk") + "\nobjectClass: groupOfNames\ncn: helpdesk\n" +
                 "member: " + user_dn("p2") + "\n\n");
  const auto second = read_directory_incremental(settings, first.snapshot.cursor, no_sleep);
  ASSERT_TRUE(second.snapshot.completeness.complete) << second.snapshot.completeness.reason;
  EXPECT_EQ(second.snapshot.kind, Kind::incremental) << second.full_read_reason;
  EXPECT_EQ(uids_of(second.snapshot), std::vector<std::string>{"p2"});
  EXPECT_THAT(groups_of(second.snapshot, "p2"), Contains(group_dn("helpdesk")));
}

// The cases where who moved cannot be told exactly: each gives a full read with its reason, and
// the stored lists of that full read make the next change incremental again.
class RuleGroupFallback : public ::testing::Test {
 protected:
  RuleGroupFallback() : slapd_(dir_) {
    slapd_.add_ldif(directory_ldif("groupOfNames", "inetOrgPerson"));
    settings_ = settings_for(slapd_, ChangeDetection::content_sync);
    settings_.stored_rule_groups = stored_.port();
  }
  DirectoryRead read(const std::string& cursor) {
    return stored_.keep(read_directory_incremental(settings_, cursor, no_sleep));
  }
  std::string first_cursor() {
    const auto first = read("");
    EXPECT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
    return first.snapshot.cursor;
  }

  TempDir dir_;
  Slapd slapd_;
  StoredGroups stored_;
  ReadSettings settings_;
};

TEST_F(RuleGroupFallback, NoStoredMemberListsGiveAFullRead) {
  settings_.stored_rule_groups = {};
  const auto cursor = first_cursor();
  slapd_.modify_ldif(add_member("admins", "p1"));
  const auto next = read(cursor);
  ASSERT_TRUE(next.snapshot.completeness.complete) << next.snapshot.completeness.reason;
  EXPECT_EQ(next.snapshot.kind, Kind::full);
  EXPECT_THAT(next.full_read_reason, HasSubstr("earlier members are not known"));
  EXPECT_THAT(groups_of(next.snapshot, "p1"), Contains(group_dn("admins")));
}

TEST_F(RuleGroupFallback, StoredListsOfAnotherCursorGiveAFullReadAndTheNextChangeIsIncremental) {
  const auto cursor = first_cursor();
  const auto kept = stored_.groups();
  slapd_.modify_ldif(add_member("admins", "p1"));
  const auto second = read(cursor);
  ASSERT_EQ(second.snapshot.kind, Kind::incremental) << second.full_read_reason;
  // The cursor moved on, the lists did not (a cursor stored without them, an upgrade).
  stored_.groups() = kept;
  slapd_.modify_ldif(add_member("sales", "p1"));
  const auto third = read(second.snapshot.cursor);
  ASSERT_TRUE(third.snapshot.completeness.complete) << third.snapshot.completeness.reason;
  EXPECT_EQ(third.snapshot.kind, Kind::full);
  EXPECT_THAT(third.full_read_reason, HasSubstr("do not match it"));
  EXPECT_EQ(third.snapshot.users.size(), 4u);

  slapd_.modify_ldif(delete_member("admins", "p0"));
  const auto fourth = read(third.snapshot.cursor);
  EXPECT_EQ(fourth.snapshot.kind, Kind::incremental) << fourth.full_read_reason;
  EXPECT_EQ(uids_of(fourth.snapshot), std::vector<std::string>{"p0"});
}

TEST_F(RuleGroupFallback, AStoredListThatDoesNotMatchItsDigestGivesAFullRead) {
  const auto cursor = first_cursor();
  ASSERT_EQ(stored_.groups().size(), 2u);
  stored_.groups()[0].members.push_back(user_dn("p2"));  // damaged: its digest no longer holds
  slapd_.modify_ldif(add_member("admins", "p1"));
  const auto next = read(cursor);
  EXPECT_EQ(next.snapshot.kind, Kind::full);
  EXPECT_THAT(next.full_read_reason, HasSubstr("does not match its digest"));
}

TEST_F(RuleGroupFallback, MoreMovedMembersThanTheLimitGiveAFullRead) {
  settings_.max_moved_members = 1;
  const auto cursor = first_cursor();
  slapd_.modify_ldif(add_member("admins", "p1") + add_member("sales", "p2"));
  const auto next = read(cursor);
  EXPECT_EQ(next.snapshot.kind, Kind::full);
  EXPECT_THAT(next.full_read_reason, HasSubstr("more than 1 members joined or left"));
}

TEST_F(RuleGroupFallback, ANamedGroupUnderTheGroupBasesGivesAFullReadForNestedMemberships) {
  // Who is in a group through nesting depends on the whole graph: not worked out from the lists.
  settings_.group_base_dns = {"ou=groups,dc=example,dc=com"};
  const auto cursor = first_cursor();
  slapd_.modify_ldif(add_member("admins", "p1"));
  const auto next = read(cursor);
  ASSERT_TRUE(next.snapshot.completeness.complete) << next.snapshot.completeness.reason;
  EXPECT_EQ(next.snapshot.kind, Kind::full);
  EXPECT_THAT(next.full_read_reason, HasSubstr("group base DNs changed"));
}

TEST_F(RuleGroupFallback, AMemberThatIsNoUserOfTheUsersBasesIsNotRead) {
  const auto cursor = first_cursor();
  // A group nested in a named one (no group bases: memberOf only, nothing nested follows), and
  // a DN that names no entry.
  slapd_.modify_ldif("dn: " + group_dn("admins") + "\nchangetype: modify\nadd: member\nmember: " +
                     group_dn("other") + "\nmember: uid=ghost,ou=people,dc=example,dc=com\n\n");
  const auto next = read(cursor);
  ASSERT_TRUE(next.snapshot.completeness.complete) << next.snapshot.completeness.reason;
  EXPECT_EQ(next.snapshot.kind, Kind::incremental) << next.full_read_reason;
  EXPECT_EQ(next.moved_members, 2u);
  EXPECT_TRUE(next.snapshot.users.empty()) << uids_of(next.snapshot).front();
}

}  // namespace
}  // namespace idbridge::ldap
