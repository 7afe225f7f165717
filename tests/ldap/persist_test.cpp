// The persistent content sync (refreshAndPersist) against a private slapd: a live add and delete
// arrive as incremental batches with an advancing cursor, a group change ends it with
// full_read_needed, and a stop from another thread returns promptly.
#include "idbridge/ldap/reader.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "read_settings_for.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace idbridge::ldap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Slapd;
using testing::SlapdOptions;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

ReadSettings settings_for(const Slapd& slapd) {
  ReadSettings settings = root_read_settings(slapd);
  settings.attributes = {"uid", "cn"};
  settings.change_detection = ChangeDetection::content_sync;
  return settings;
}

std::string person(const std::string& uid) {
  return "dn: uid=" + uid +
         ",ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: " + uid + "\ncn: " + uid +
         "\nsn: S\n\n";
}

// Collects the batches a persistent sync delivers on its own thread.
class Batches {
 public:
  void add(const core::sync::Snapshot& batch) {
    std::lock_guard lock(mutex_);
    batches_.push_back(batch);
    changed_.notify_all();
  }
  // Waits until `predicate` holds for some batch; returns it.
  std::optional<core::sync::Snapshot> wait_for(
      const std::function<bool(const core::sync::Snapshot&)>& predicate,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    std::optional<core::sync::Snapshot> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& batch : batches_) {
        if (predicate(batch)) {
          found = batch;
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<core::sync::Snapshot> batches_;
};

TEST(Persist, LiveChangesArriveAndStopReturnsPromptly) {
  TempDir dir;
  SlapdOptions options;
  options.syncprov_sessionlog = 100;
  Slapd slapd(dir, options);
  slapd.add_ldif(
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: "
      "people\n\n" +
      person("p1") + person("p2"));
  const auto settings = settings_for(slapd);
  const auto first = read_directory_incremental(settings, "");
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;

  Batches batches;
  std::stop_source stop;
  auto persisting = std::async(std::launch::async, [&] {
    return persist_directory(
        settings, first.snapshot.cursor,
        [&](const core::sync::Snapshot& batch) { batches.add(batch); }, stop.get_token());
  });
  // The refresh from the stored cookie comes first (nothing changed since).
  const auto refreshed = batches.wait_for([](const auto&) { return true; });
  ASSERT_TRUE(refreshed.has_value()) << "no refresh batch";
  EXPECT_TRUE(refreshed->users.empty());
  EXPECT_EQ(refreshed->kind, core::sync::Snapshot::Kind::incremental);

  slapd.add_ldif(person("live"));
  const auto added = batches.wait_for([](const core::sync::Snapshot& batch) {
    return batch.users.size() == 1 && batch.users[0].attributes.at("uid").front() == "live";
  });
  ASSERT_TRUE(added.has_value()) << "the live add did not arrive";
  EXPECT_TRUE(added->completeness.complete);
  EXPECT_NE(added->cursor, first.snapshot.cursor) << "the cursor advances with the change";
  const std::string live_anchor = added->users[0].anchor;

  slapd.modify_ldif("dn: uid=live,ou=people,dc=example,dc=com\nchangetype: delete\n\n");
  const auto deleted = batches.wait_for(
      [&](const core::sync::Snapshot& batch) { return !batch.deleted_anchors.empty(); });
  ASSERT_TRUE(deleted.has_value()) << "the live delete did not arrive";
  EXPECT_THAT(deleted->deleted_anchors, ElementsAre(live_anchor));

  const auto asked = Clock::now();
  stop.request_stop();
  ASSERT_EQ(persisting.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LT(Clock::now() - asked, std::chrono::seconds(2));
  const auto outcome = persisting.get();
  EXPECT_EQ(outcome.end, PersistEnd::stopped) << outcome.reason;
  EXPECT_EQ(outcome.cursor, deleted->cursor);

  // The last cursor resumes exactly after the delete: nothing is read again.
  const auto resumed = read_directory_incremental(settings, outcome.cursor);
  ASSERT_TRUE(resumed.snapshot.completeness.complete) << resumed.snapshot.completeness.reason;
  EXPECT_EQ(resumed.snapshot.kind, core::sync::Snapshot::Kind::incremental);
  EXPECT_TRUE(resumed.snapshot.users.empty());
}

TEST(Persist, AGroupChangeEndsItWithFullReadNeeded) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n" +
      person("p1") +
      "dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n"
      "dn: cn=A,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: A\n"
      "member: uid=p1,ou=people,dc=example,dc=com\n\n"
      "dn: cn=B,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: B\n"
      "member: cn=A,ou=groups,dc=example,dc=com\n\n");
  auto settings = settings_for(slapd);
  settings.group_base_dns = {"ou=groups,dc=example,dc=com"};
  const auto first = read_directory_incremental(settings, "");
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;

  Batches batches;
  std::stop_source stop;
  auto persisting = std::async(std::launch::async, [&] {
    return persist_directory(
        settings, first.snapshot.cursor,
        [&](const core::sync::Snapshot& batch) { batches.add(batch); }, stop.get_token());
  });
  ASSERT_TRUE(batches.wait_for([](const auto&) { return true; }).has_value());
  slapd.add_ldif(person("p2"));
  const auto added =
      batches.wait_for([](const core::sync::Snapshot& batch) { return batch.users.size() == 1; });
  ASSERT_TRUE(added.has_value());
  EXPECT_THAT(added->users[0].groups, ElementsAre()) << "p2 is in no group";

  slapd.modify_ldif(
      "dn: cn=A,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\n"
      "member: uid=p2,ou=people,dc=example,dc=com\n\n");
  ASSERT_EQ(persisting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const auto outcome = persisting.get();
  EXPECT_EQ(outcome.end, PersistEnd::full_read_needed);
  EXPECT_THAT(outcome.reason, HasSubstr("groups"));
}

// A provider restored from an older backup refuses a cookie newer than its own state: persisting
// cannot resume from it and asks for a full read, delivering nothing.
TEST(Persist, ACookieTheServerRefusesEndsItWithFullReadNeeded) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n" +
      person("p1"));
  const auto settings = settings_for(slapd);
  const auto first = read_directory_incremental(settings, "");
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;
  const auto& cursor = first.snapshot.cursor;
  const auto future = cursor.substr(0, cursor.rfind(';') + 1) +
                      hex_anchor("rid=000,csn=29990101000000.000000Z#000000#000#000000");
  int delivered = 0;
  std::stop_source never;
  const auto outcome = persist_directory(
      settings, future, [&](const core::sync::Snapshot&) { ++delivered; }, never.get_token());
  EXPECT_EQ(outcome.end, PersistEnd::full_read_needed) << outcome.reason;
  EXPECT_THAT(outcome.reason, HasSubstr("refused the cookie"));
  EXPECT_EQ(delivered, 0);
  EXPECT_EQ(outcome.cursor, future) << "nothing delivered: the cursor given";
}

// Without group base DNs, the groups the rules name are watched: adding a user to one changes only
// its memberOf, which syncprov never reports on the user.
TEST(Persist, ANamedGroupsChangeEndsItWithFullReadNeededAndOtherGroupsDoNot) {
  TempDir dir;
  Slapd slapd(dir);
  const auto group = [](const std::string& cn) {
    return "dn: cn=" + cn + ",ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: " + cn +
           "\nmember: uid=p1,ou=people,dc=example,dc=com\n\n";
  };
  const auto add_p2_to = [](const std::string& cn) {
    return "dn: cn=" + cn +
           ",ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\n"
           "member: uid=p2,ou=people,dc=example,dc=com\n\n";
  };
  slapd.add_ldif(
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n" +
      person("p1") + person("p2") +
      "dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n" +
      group("admins") + group("other") + group("helpdesk"));
  auto settings = settings_for(slapd);
  settings.rule_groups = {"admins", "cn=helpdesk,ou=groups,dc=example,dc=com"};
  const auto first = read_directory_incremental(settings, "");
  ASSERT_TRUE(first.snapshot.completeness.complete) << first.snapshot.completeness.reason;

  Batches batches;
  std::stop_source stop;
  auto persisting = std::async(std::launch::async, [&] {
    return persist_directory(
        settings, first.snapshot.cursor,
        [&](const core::sync::Snapshot& batch) { batches.add(batch); }, stop.get_token());
  });
  ASSERT_TRUE(batches.wait_for([](const auto&) { return true; }).has_value()) << "no refresh";
  slapd.modify_ldif(add_p2_to("other"));  // named by no rule: persisting goes on
  slapd.add_ldif(person("p3"));
  ASSERT_TRUE(batches
                  .wait_for([](const core::sync::Snapshot& batch) {
                    return batch.users.size() == 1 &&
                           batch.users[0].attributes.at("uid").front() == "p3";
                  })
                  .has_value())
      << "persisting ended after a change of a group no rule names";

  slapd.modify_ldif(add_p2_to("admins"));
  ASSERT_EQ(persisting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const auto outcome = persisting.get();
  EXPECT_EQ(outcome.end, PersistEnd::full_read_needed) << outcome.reason;
  EXPECT_THAT(outcome.reason, HasSubstr("groups the rules name changed"));

  // Changed while nobody was persisting: the refresh sees it against the cursor.
  slapd.modify_ldif(add_p2_to("helpdesk"));
  std::stop_source never;
  const auto restarted = persist_directory(
      settings, outcome.cursor, [](const core::sync::Snapshot&) {}, never.get_token());
  EXPECT_EQ(restarted.end, PersistEnd::full_read_needed) << restarted.reason;
  EXPECT_THAT(restarted.reason, HasSubstr("since the cursor"));
}

}  // namespace
}  // namespace idbridge::ldap
