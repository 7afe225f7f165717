// Write-back in the core, against a real SQLite file: the interceptor refuses changes to what a
// directory owns and queues what it takes in the same transaction; sync defers users whose SCIM
// changes are still queued; and the pure delivery decisions (order per user, parking, backoff,
// conflict resolution by owner).
#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/sync/apply.hpp"
#include "idbridge/core/writeback/delivery.hpp"
#include "idbridge/core/writeback/interceptor.hpp"
#include "idbridge/crypto/crypto.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>

namespace idbridge::core::writeback {
namespace {

class FixedClock final : public Clock {
 public:
  Timestamp now() const override { return at; }
  Timestamp at = Timestamp(std::chrono::milliseconds(1'800'000'000'000));
};

Policy corp_policy() {
  Policy policy;
  policy.directory = "corp";
  policy.tenant = TenantId("acme");
  policy.operations.modify = true;
  policy.operations.create = true;
  policy.attributes = {{"userName", "uid", Authority::directory, false},
                       {"name.givenName", "givenName", Authority::directory, false},
                       {"displayName", "", Authority::directory, false},
                       {"title", "title", Authority::scim, false},
                       {"name.familyName", "sn", Authority::directory, true},
                       {"enterprise.department", "departmentNumber", Authority::tenant, false}};
  policy.user_dn_template = "uid={userName},ou=people,dc=example,dc=com";
  policy.object_classes = {"inetOrgPerson"};
  return policy;
}

Principal scim_principal() {
  Principal who;
  who.actor = {ActorKind::credential, "okta"};
  who.origin = {OriginKind::scim, ""};
  who.ceiling = Role::administrator;
  who.tenant_scope = TenantId("acme");
  return who;
}

class WriteBackCoreTest : public ::testing::Test {
 protected:
  WriteBackCoreTest()
      : store_(store::open_sqlite_store({.path = dir_.file("idbridge.db")})),
        interceptor_({corp_policy()}, clock_, nullptr),
        service_({*store_, clock_, ids_, hasher_, zones_, &interceptor_},
                 ProviderSettings{"Provider"}, {settings()}) {
    EXPECT_TRUE(service_.ensure_tenant(acme_));
  }

  static TenantSettings settings() {
    TenantSettings acme;
    acme.id = TenantId("acme");
    return acme;
  }

  // A user created by a sync of corp (so nothing is queued) and linked to `anchor`.
  User linked_user(const std::string& name, const std::string& anchor) {
    User user;
    user.user_name = name;
    user.name.given_name = "Given";
    user.name.family_name = "Family";
    user.title = "Engineer";
    auto created = service_.create_user(sync::sync_principal("corp", 1, acme_), acme_,
                                        UserWrite{user, std::nullopt});
    EXPECT_TRUE(created) << created.error().detail;
    auto tx = store_->write();
    tx->put_link({"corp", anchor, acme_, created->id, std::nullopt});
    tx->commit();
    return *created;
  }

  Result<User> change(const UserId& id, const std::function<void(User&)>& edit) {
    return service_.modify_user(
        scim_principal(), acme_, id,
        [&](const User& current) -> std::optional<UserWrite> {
          User next = current;
          edit(next);
          return UserWrite{next, std::nullopt};
        },
        std::nullopt);
  }

  std::vector<OutboxItem> outbox() { return store_->read()->outbox_items("corp", 0, 100); }

  // corp's mapping of uid, givenName, sn and title.
  static sync::MappingRules corp_rules() {
    sync::MappingRules rules;
    rules.attributes = {{"userName", "{uid}"},
                        {"name.givenName", "{givenName}"},
                        {"name.familyName", "{sn}"},
                        {"title", "{title}"}};
    return rules;
  }

  // The plan of a complete read of corp that finds ann's entry (anchor uuid-ann) with `title`
  // ("" for none), against the tenant as stored now.
  sync::Plan plan_reading_ann(const std::string& title, const sync::MappingRules& rules,
                              const std::string& cursor = "") {
    sync::Snapshot snapshot;
    snapshot.directory = "corp";
    snapshot.cursor = cursor;
    snapshot.completeness = {true, ""};
    sync::DirectoryEntry entry;
    entry.anchor = "uuid-ann";
    entry.dn = "uid=ann,ou=people,dc=example,dc=com";
    entry.attributes = {{"uid", {"ann"}}, {"givenName", {"Given"}}, {"sn", {"Family"}}};
    if (!title.empty()) {
      entry.attributes["title"] = {title};
    }
    snapshot.users = {entry};
    const auto mapped = sync::map_users(snapshot, rules);
    const auto view = sync::load_tenant_view(*store_->read(), snapshot, mapped, rules, acme_, {});
    return sync::plan(mapped, snapshot, view, rules, {}, clock_.now());
  }

  testing::TempDir dir_;
  FixedClock clock_;
  RandomUuidGenerator ids_;
  crypto::ScryptPasswordHasher hasher_{10};
  TzdataZoneCatalog zones_;
  std::unique_ptr<Store> store_;
  WriteBackInterceptor interceptor_;
  IdentityService service_;
  TenantId acme_{"acme"};
};

TEST_F(WriteBackCoreTest, AScimWriteToADirectoryOwnedAttributeIsRefusedAndWritesNothing) {
  const User ann = linked_user("ann", "uuid-ann");
  const auto refused = change(ann.id, [](User& u) {
    u.title = "Manager";            // SCIM's: would be queued...
    u.name.given_name = "Annette";  // ...but the directory owns this one
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::owned_by_directory);
  EXPECT_EQ(refused.error().attribute, "name.givenName");
  EXPECT_NE(refused.error().detail.find("directory 'corp'"), std::string::npos);
  const auto stored = store_->read()->find_user(acme_, ann.id);
  EXPECT_EQ(stored->version, ann.version);
  EXPECT_EQ(stored->title, "Engineer");
  EXPECT_TRUE(outbox().empty()) << "the refused change queued nothing";
}

TEST_F(WriteBackCoreTest, AcceptedChangesAreQueuedWithTheValueTheDirectoryHolds) {
  const User ann = linked_user("ann", "uuid-ann");
  ASSERT_TRUE(change(ann.id, [](User& u) {
    u.title = "Manager";              // SCIM-owned: written back
    u.name.family_name = "Smith";     // directory-owned, but it accepts SCIM writes
    u.enterprise.department = "R&D";  // the tenant's: kept here only
    u.nick_name = "Annie";            // not mapped at all
  }));
  const auto items = outbox();
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].kind, WriteKind::modify_user);
  EXPECT_EQ(items[0].anchor, "uuid-ann");
  EXPECT_EQ(items[0].user, ann.id);
  EXPECT_EQ(items[0].actor.id, "okta");
  EXPECT_EQ(items[0].changes,
            (std::vector<AttributeChange>{{"title", "Engineer", "Manager"},
                                          {"name.familyName", "Family", "Smith"}}));
}

TEST_F(WriteBackCoreTest, UsersNotLinkedToTheDirectoryAreNotItsBusiness) {
  User local;
  local.user_name = "local";
  local.name.given_name = "Lo";
  Policy no_create = corp_policy();
  no_create.operations.create = false;
  WriteBackInterceptor interceptor({no_create}, clock_, nullptr);
  IdentityService service({*store_, clock_, ids_, hasher_, zones_, &interceptor},
                          ProviderSettings{"Provider"}, {settings()});
  const auto created = service.create_user(scim_principal(), acme_, UserWrite{local, std::nullopt});
  ASSERT_TRUE(created);
  const auto renamed = service.modify_user(
      scim_principal(), acme_, created->id,
      [](const User& current) -> std::optional<UserWrite> {
        User next = current;
        next.name.given_name = "Local";
        return UserWrite{next, std::nullopt};
      },
      std::nullopt);
  EXPECT_TRUE(renamed) << "not linked: the directory owns nothing of it";
  EXPECT_TRUE(outbox().empty());
}

// Records each queued() with what another connection sees of the outbox at that moment: an
// item the notifier announces must already be committed.
class RecordingNotifier final : public OutboxNotifier {
 public:
  explicit RecordingNotifier(Store& store) : store_(store) {}
  void queued(std::string_view directory) override {
    calls.push_back(std::string(directory));
    visible.push_back(store_.read()->outbox_items(directory, 0, 100).size());
  }
  std::vector<std::string> calls;
  std::vector<std::size_t> visible;  // outbox items another reader saw at each call

 private:
  Store& store_;
};

TEST_F(WriteBackCoreTest, TheNotifierHearsOfAQueuedWriteOnlyOnceItIsCommitted) {
  RecordingNotifier notifier(*store_);
  WriteBackInterceptor interceptor({corp_policy()}, clock_, nullptr, &notifier);
  IdentityService service({*store_, clock_, ids_, hasher_, zones_, &interceptor},
                          ProviderSettings{"Provider"}, {settings()});
  const User ann = linked_user("ann", "uuid-ann");
  const auto edit = [&](const std::function<void(User&)>& change) {
    return service.modify_user(
        scim_principal(), acme_, ann.id,
        [&](const User& current) -> std::optional<UserWrite> {
          User next = current;
          change(next);
          return UserWrite{next, std::nullopt};
        },
        std::nullopt);
  };

  ASSERT_TRUE(edit([](User& u) { u.enterprise.department = "R&D"; }));
  EXPECT_TRUE(notifier.calls.empty()) << "a change of the tenant's own attribute queues nothing";
  ASSERT_FALSE(edit([](User& u) {
    u.title = "Manager";
    u.name.given_name = "Annette";  // the directory's: the whole change is refused
  }));
  EXPECT_TRUE(notifier.calls.empty()) << "a refused change is rolled back: nothing to deliver";

  ASSERT_TRUE(edit([](User& u) { u.title = "Manager"; }));
  ASSERT_EQ(notifier.calls, std::vector<std::string>{"corp"});
  EXPECT_EQ(notifier.visible, std::vector<std::size_t>{1}) << "called after the commit";

  const auto synced = service.modify_user(
      sync::sync_principal("corp", 2, acme_), acme_, ann.id,
      [](const User& current) -> std::optional<UserWrite> {
        User next = current;
        next.name.given_name = "Ann";
        return UserWrite{next, std::nullopt};
      },
      std::nullopt);
  ASSERT_TRUE(synced) << synced.error().detail;
  EXPECT_EQ(notifier.calls.size(), 1U) << "the directory's own changes are never written back";
}

TEST_F(WriteBackCoreTest, ACreateIsQueuedAndDeletingTheUserBeforeDeliveryDropsItsWrites) {
  User carol;
  carol.user_name = "carol";
  carol.name.given_name = "Carol";
  carol.name.family_name = "Jones";
  carol.title = "Buyer";
  const auto created =
      service_.create_user(scim_principal(), acme_, UserWrite{carol, std::nullopt});
  ASSERT_TRUE(created);
  auto items = outbox();
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].kind, WriteKind::create_user);
  EXPECT_EQ(items[0].anchor, "");
  const auto has = [&](const std::string& target, const std::string& value) {
    return std::find(items[0].changes.begin(), items[0].changes.end(),
                     AttributeChange{target, std::nullopt, value}) != items[0].changes.end();
  };
  EXPECT_TRUE(has("userName", "carol"));
  EXPECT_TRUE(has("title", "Buyer"));
  EXPECT_TRUE(has("name.familyName", "Jones"));

  // Pending create: later changes of it are queued behind it, even directory-owned ones are not
  // refused yet... but the directory-owned givenName is: the entry will be the directory's.
  ASSERT_TRUE(change(created->id, [](User& u) { u.title = "Lead Buyer"; }));
  EXPECT_EQ(outbox().size(), 2U);

  ASSERT_TRUE(service_.delete_user(scim_principal(), acme_, created->id, std::nullopt));
  EXPECT_TRUE(outbox().empty()) << "an entry never created is not created then deleted";
}

TEST_F(WriteBackCoreTest, DeletingALinkedUserNeedsRemoveWriteBack) {
  const User ann = linked_user("ann", "uuid-ann");
  const auto refused = service_.delete_user(scim_principal(), acme_, ann.id, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::owned_by_directory);
  EXPECT_TRUE(store_->read()->find_user(acme_, ann.id));

  Policy with_remove = corp_policy();
  with_remove.operations.remove = true;
  WriteBackInterceptor interceptor({with_remove}, clock_, nullptr);
  IdentityService service({*store_, clock_, ids_, hasher_, zones_, &interceptor},
                          ProviderSettings{"Provider"}, {settings()});
  ASSERT_TRUE(service.delete_user(scim_principal(), acme_, ann.id, std::nullopt));
  const auto items = outbox();
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].kind, WriteKind::delete_user);
  EXPECT_EQ(items[0].anchor, "uuid-ann") << "kept: the link is gone with the user";

  // A sync reading the entry before the delete is delivered finds it unlinked: it must not
  // create the user again (the account would come back after its deprovisioning).
  const auto plan = plan_reading_ann("", corp_rules(), "cookie-9");
  ASSERT_EQ(plan.ops.size(), 1U) << sync::to_table(plan);
  ASSERT_EQ(plan.ops[0].kind, sync::OpKind::create_user);
  const auto result =
      sync::apply(plan, service, sync::sync_principal("corp", 5, acme_), clock_.now(), {});
  ASSERT_EQ(result.failures.size(), 1U);
  EXPECT_NE(result.failures[0].error.detail.find("not created again"), std::string::npos);
  EXPECT_FALSE(result.cursor_stored) << "read again once the delete is delivered";
  EXPECT_FALSE(store_->read()->find_user_by_user_name("ann").has_value());
  EXPECT_FALSE(store_->read()->find_link("corp", "uuid-ann").has_value());
}

TEST_F(WriteBackCoreTest, ChangesFromTheDirectorysOwnSyncAreNeitherRefusedNorEchoed) {
  const User ann = linked_user("ann", "uuid-ann");
  const auto synced = service_.modify_user(
      sync::sync_principal("corp", 2, acme_), acme_, ann.id,
      [](const User& current) -> std::optional<UserWrite> {
        User next = current;
        next.name.given_name = "Annette";
        next.title = "Director";
        return UserWrite{next, std::nullopt};
      },
      std::nullopt);
  EXPECT_TRUE(synced);
  EXPECT_TRUE(outbox().empty());
}

TEST_F(WriteBackCoreTest, SyncDefersAUserWhoseScimChangesAreStillQueued) {
  const User ann = linked_user("ann", "uuid-ann");
  ASSERT_TRUE(change(ann.id, [](User& u) { u.name.family_name = "Smith"; }));
  // The directory still says "Family" (the write-back has not landed).
  const auto plan = plan_reading_ann("Engineer", corp_rules(), "cookie-2");
  ASSERT_EQ(plan.ops.size(), 1U) << sync::to_table(plan);
  const auto result =
      sync::apply(plan, service_, sync::sync_principal("corp", 3, acme_), clock_.now(), {});
  ASSERT_EQ(result.failures.size(), 1U);
  EXPECT_NE(result.failures[0].error.detail.find("written back"), std::string::npos);
  EXPECT_FALSE(result.cursor_stored) << "the entry must be read again";
  EXPECT_EQ(store_->read()->find_user(acme_, ann.id)->name.family_name, "Smith")
      << "the SCIM change was not undone by the older directory state";

  // Parked writes no longer hold the directory back.
  auto item = outbox().at(0);
  item.parked = clock_.now();
  auto tx = store_->write();
  tx->update_write(item);
  tx->commit();
  const auto again =
      sync::apply(plan, service_, sync::sync_principal("corp", 4, acme_), clock_.now(), {});
  EXPECT_TRUE(again.failures.empty());
}

TEST_F(WriteBackCoreTest, ADirectoryEditOfWhatSCIMOwnsIsWrittenBackAndRecordedAsAConflict) {
  const User ann = linked_user("ann", "uuid-ann");
  ASSERT_TRUE(change(ann.id, [](User& u) { u.title = "Manager"; }));  // SCIM owns title
  {
    // Delivered: the outbox is empty and the directory held "Manager"...
    auto tx = store_->write();
    for (const auto& item : tx->outbox_items("corp", 0, 10)) {
      tx->remove_write(item.id);
    }
    tx->commit();
  }
  // ...until a directory admin set it to "Director".
  auto rules = corp_rules();
  rules.set_on_create_only = {"title"};
  rules.corrected_in_directory = {"title"};
  const auto plan = plan_reading_ann("Director", rules);
  ASSERT_EQ(plan.ops.size(), 1U) << sync::to_table(plan);
  ASSERT_EQ(plan.ops[0].kind, sync::OpKind::correct_directory);

  // The tenant changed the title again after the plan was made: refused, nothing recorded.
  ASSERT_TRUE(change(ann.id, [](User& u) { u.title = "VP"; }));
  auto stale =
      sync::apply(plan, service_, sync::sync_principal("corp", 2, acme_), clock_.now(), {});
  ASSERT_EQ(stale.failures.size(), 1U);
  EXPECT_EQ(store_->read()->count_conflicts("corp"), 0);
  ASSERT_EQ(outbox().size(), 1U) << "only the SCIM change's own write";
  EXPECT_EQ(outbox()[0].kind, WriteKind::modify_user);
  EXPECT_EQ(outbox()[0].actor.kind, ActorKind::credential);
  {
    auto tx = store_->write();
    tx->remove_write(outbox()[0].id);
    tx->commit();
  }
  ASSERT_TRUE(change(ann.id, [](User& u) { u.title = "Manager"; }));  // back as planned
  // Queued SCIM write: the correction waits like any update (the queued write carries it).
  auto deferred =
      sync::apply(plan, service_, sync::sync_principal("corp", 3, acme_), clock_.now(), {});
  ASSERT_EQ(deferred.failures.size(), 1U);
  EXPECT_NE(deferred.failures[0].error.detail.find("written back"), std::string::npos);
  {
    auto tx = store_->write();
    for (const auto& item : tx->outbox_items("corp", 0, 10)) {
      tx->remove_write(item.id);
    }
    tx->commit();
  }

  const auto applied =
      sync::apply(plan, service_, sync::sync_principal("corp", 4, acme_), clock_.now(), {});
  ASSERT_TRUE(applied.failures.empty()) << applied.failures[0].error.detail;
  EXPECT_EQ(store_->read()->find_user(acme_, ann.id)->title, "Manager") << "the owner's value";
  const auto queued = outbox();
  ASSERT_EQ(queued.size(), 1U);
  EXPECT_EQ(queued[0].kind, WriteKind::modify_user);
  EXPECT_EQ(queued[0].anchor, "uuid-ann");
  ASSERT_EQ(queued[0].changes.size(), 1U);
  EXPECT_EQ(queued[0].changes[0].path, "title");
  EXPECT_EQ(queued[0].changes[0].before, std::optional<std::string>("Director"))
      << "delivery asserts what the read found, so a newer directory edit is detected";
  EXPECT_EQ(queued[0].changes[0].after, std::optional<std::string>("Manager"));
  const auto conflicts = store_->read()->list_conflicts("corp", 10);
  ASSERT_EQ(conflicts.size(), 1U);
  EXPECT_EQ(conflicts[0].target, "title");
  EXPECT_EQ(conflicts[0].owner, Authority::scim);
  EXPECT_EQ(conflicts[0].kept, "Manager");
  EXPECT_EQ(conflicts[0].lost, "Director");
  EXPECT_EQ(conflicts[0].lost_by, "directory");
}

OutboxItem item_for(const std::string& user, std::int64_t id) {
  OutboxItem item;
  item.id = id;
  item.directory = "corp";
  item.tenant = TenantId("acme");
  item.user = UserId(user);
  return item;
}

TEST(WriteBackDelivery, OnlyTheOldestWriteOfEachUserIsDueAndAParkedOneBlocksOnlyItsUser) {
  const Timestamp now = Timestamp(std::chrono::milliseconds(10'000));
  std::vector<OutboxItem> items{item_for("ann", 1), item_for("bob", 2), item_for("ann", 3),
                                item_for("cat", 4), item_for("bob", 5), item_for("dan", 6)};
  items[1].parked = now;                                  // bob's first is parked
  items[3].next_attempt = now + std::chrono::seconds(1);  // cat's waits a second
  std::vector<std::int64_t> due;
  for (const auto* item : deliverable(items, now)) {
    due.push_back(item->id);
  }
  EXPECT_EQ(due, (std::vector<std::int64_t>{1, 6}));

  // Across windows of one walk: bob's item 5 still waits behind item 2 of an earlier window.
  UsersSeen seen;
  deliverable({items[0], items[1]}, now, seen);
  const auto second_window = deliverable({items[4], items[5]}, now, seen);
  ASSERT_EQ(second_window.size(), 1U);
  EXPECT_EQ(second_window[0]->id, 6);
}

TEST(WriteBackDelivery, BackoffDoublesUpToFiveMinutesAndParkingFollowsMaxAttempts) {
  EXPECT_EQ(retry_delay(1), std::chrono::seconds(1));
  EXPECT_EQ(retry_delay(2), std::chrono::seconds(2));
  EXPECT_EQ(retry_delay(5), std::chrono::seconds(16));
  EXPECT_EQ(retry_delay(40), std::chrono::minutes(5));
  Policy policy;
  policy.max_attempts = 3;
  EXPECT_FALSE(should_park(policy, 2));
  EXPECT_TRUE(should_park(policy, 3));
}

TEST(WriteBackDelivery, AFailedAssertionIsResolvedPerAttributeByItsOwner) {
  Policy policy = corp_policy();
  OutboxItem item = item_for("ann", 1);
  item.actor = {ActorKind::credential, "okta"};
  item.changes = {{"title", "Engineer", "Manager"},          // SCIM's; the directory changed it
                  {"name.familyName", "Family", "Smith"},    // directory's; it changed it too
                  {"userName", "ann", "ann2"},               // unchanged in the directory
                  {"name.givenName", std::nullopt, "Zoë"}};  // already written (a repeat)
  const auto now = Timestamp(std::chrono::milliseconds(5'000));
  const auto resolution = resolve_conflicts(policy, item,
                                            {{"title", "Director"},
                                             {"name.familyName", "Jones"},
                                             {"userName", "ann"},
                                             {"name.givenName", "Zoë"}},
                                            now);
  EXPECT_EQ(resolution.to_write, (std::vector<AttributeChange>{{"title", "Director", "Manager"},
                                                               {"userName", "ann", "ann2"}}));
  EXPECT_EQ(resolution.dropped, (std::vector<std::string>{"name.familyName"}));
  ASSERT_EQ(resolution.conflicts.size(), 2U);
  EXPECT_EQ(resolution.conflicts[0].target, "title");
  EXPECT_EQ(resolution.conflicts[0].owner, Authority::scim);
  EXPECT_EQ(resolution.conflicts[0].kept, "Manager");
  EXPECT_EQ(resolution.conflicts[0].lost, "Director");
  EXPECT_EQ(resolution.conflicts[0].lost_by, "directory");
  EXPECT_EQ(resolution.conflicts[1].target, "name.familyName");
  EXPECT_EQ(resolution.conflicts[1].kept, "Jones");
  EXPECT_EQ(resolution.conflicts[1].lost, "Smith");
  EXPECT_EQ(resolution.conflicts[1].lost_by, "okta");
  EXPECT_EQ(resolution.conflicts[1].detected, now);
}

}  // namespace
}  // namespace idbridge::core::writeback
