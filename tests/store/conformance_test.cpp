// The Store port's conformance suite: the contract of core/store.hpp, run against every backend
// instantiated in a *_backend_test.cpp file.
#include "conformance.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace idbridge::store_test {
namespace {

using core::ErrorCode;
using core::GroupId;
using core::MemberRef;
using core::MemberType;
using core::TenantId;
using core::User;
using core::UserId;
using core::UserRowKey;

MemberRef user_ref(const std::string& id) {
  return {MemberType::user, id};
}
MemberRef group_ref(const std::string& id) {
  return {MemberType::group, id};
}

TEST_P(StoreConformance, EnsureTenantCreatesOnceAndListsInCreationOrder) {
  auto writer = store().write();
  EXPECT_TRUE(writer->ensure_tenant(TenantId("initech"), at_millis(3)));
  EXPECT_FALSE(writer->ensure_tenant(TenantId("initech"), at_millis(4)));
  writer->commit();

  auto reader = store().read();
  const auto found = reader->find_tenant(TenantId("initech"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->created, at_millis(3));
  EXPECT_FALSE(reader->find_tenant(TenantId("nobody")).has_value());
  const auto tenants = reader->list_tenants();
  ASSERT_EQ(tenants.size(), 3u);
  EXPECT_EQ(tenants[0].id, acme);
  EXPECT_EQ(tenants[1].id, globex);
  EXPECT_EQ(tenants[2].id, TenantId("initech"));
}

TEST_P(StoreConformance, EveryUserFieldRoundTrips) {
  const auto original = full_user("acme", "u1", "zoe");
  insert(original);
  const auto stored = stored_user(acme, "u1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, original);

  const auto minimal = make_user("acme", "u2", "bare");
  insert(minimal);
  EXPECT_EQ(stored_user(acme, "u2"), minimal);
}

TEST_P(StoreConformance, FindUserIsScopedToTheTenant) {
  insert(make_user("acme", "u1", "alice"));
  EXPECT_TRUE(stored_user(acme, "u1").has_value());
  EXPECT_FALSE(stored_user(globex, "u1").has_value());
  EXPECT_FALSE(stored_user(acme, "u404").has_value());
}

TEST_P(StoreConformance, UserNameLookupIsCaseInsensitiveAndGlobal) {
  insert(make_user("globex", "u1", "Alice.Smith"));
  auto reader = store().read();
  for (const auto* spelling : {"Alice.Smith", "alice.smith", "ALICE.SMITH"}) {
    const auto found = reader->find_user_by_user_name(spelling);
    ASSERT_TRUE(found.has_value()) << spelling;
    EXPECT_EQ(found->user_name, "Alice.Smith");
    EXPECT_EQ(found->tenant, globex);
  }
  EXPECT_FALSE(reader->find_user_by_user_name("alice").has_value());
}

TEST_P(StoreConformance, PrimaryEmailLookupIsCaseInsensitiveAndIgnoresBackup) {
  insert(full_user("acme", "u1", "zoe"));  // primary zoe@Example.com, backup backup@example.net
  auto reader = store().read();
  const auto found = reader->find_user_by_primary_email(acme, "ZOE@example.COM");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, UserId("u1"));
  EXPECT_FALSE(reader->find_user_by_primary_email(acme, "backup@example.net").has_value());
  EXPECT_FALSE(reader->find_user_by_primary_email(globex, "zoe@example.com").has_value());
}

TEST_P(StoreConformance, AnyEmailLookupFindsPrimaryAndBackupAndFollowsUpdatesAndDeletes) {
  insert(full_user("acme", "u1", "zoe"));  // primary zoe@Example.com, backup backup@example.net
  auto shared_backup = make_user("acme", "u2", "yann");
  shared_backup.emails = {{"yann@example.com", "work", true}, {"backup@example.net", "", false}};
  insert(shared_backup);
  {
    auto reader = store().read();
    const auto primary = reader->find_users_by_email(acme, "ZOE@example.com");
    ASSERT_EQ(primary.size(), 1U);
    EXPECT_EQ(primary[0].id, UserId("u1"));
    const auto backup = reader->find_users_by_email(acme, "Backup@Example.net");
    ASSERT_EQ(backup.size(), 2U) << "a backup address may be shared";
    EXPECT_EQ(backup[0].id, UserId("u1")) << "creation order";
    EXPECT_EQ(backup[1].id, UserId("u2"));
    EXPECT_TRUE(reader->find_users_by_email(globex, "zoe@example.com").empty());
  }
  auto changed = shared_backup;
  changed.emails = {{"yann@example.org", "work", true}};
  changed.version = shared_backup.version + 1;
  {
    auto writer = store().write();
    ASSERT_TRUE(writer->update_user(changed, shared_backup.version));
    ASSERT_TRUE(writer->delete_user(acme, UserId("u1")));
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_TRUE(reader->find_users_by_email(acme, "backup@example.net").empty());
  EXPECT_TRUE(reader->find_users_by_email(acme, "zoe@example.com").empty());
  ASSERT_EQ(reader->find_users_by_email(acme, "yann@example.org").size(), 1U);
}

TEST_P(StoreConformance, ExternalIdLookupIsPerTenantAndExact) {
  auto alice = make_user("acme", "u1", "alice");
  alice.external_id = "CN=Alice";
  insert(alice);
  auto reader = store().read();
  EXPECT_EQ(reader->find_users_by_external_id(acme, "CN=Alice"), std::vector<core::User>{alice});
  EXPECT_TRUE(reader->find_users_by_external_id(globex, "CN=Alice").empty());
  EXPECT_TRUE(reader->find_users_by_external_id(acme, "cn=alice").empty());
}

TEST_P(StoreConformance, ExternalIdIsNotUniqueAndLookupsReturnEveryMatchInCreationOrder) {
  auto first = make_user("acme", "u2", "first");
  first.external_id = "shared";
  auto second = make_user("acme", "u1", "second");
  second.external_id = "shared";
  auto other = make_user("acme", "u3", "other");
  other.external_id = "different";
  insert(first);
  insert(other);
  insert(second);
  auto first_group = make_group("acme", "g2", "First");
  first_group.external_id = "shared";
  auto second_group = make_group("acme", "g1", "Second");
  second_group.external_id = "shared";
  insert(first_group);
  insert(second_group);
  auto reader = store().read();
  EXPECT_EQ(reader->find_users_by_external_id(acme, "shared"),
            (std::vector<core::User>{first, second}));
  EXPECT_EQ(reader->find_groups_by_external_id(acme, "shared"),
            (std::vector<core::Group>{first_group, second_group}));
  EXPECT_TRUE(reader->find_groups_by_external_id(globex, "shared").empty());
}

TEST_P(StoreConformance, FindsAccountOwnerAndExtensionOwner) {
  auto owner = make_user("acme", "u1", "owner");
  owner.role = core::Role::account_owner;
  owner.extensions = {{"100", "HQ", true}};
  insert(make_user("acme", "u0", "staff"));
  insert(owner);
  auto reader = store().read();
  const auto found = reader->find_account_owner(acme);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, UserId("u1"));
  EXPECT_FALSE(reader->find_account_owner(globex).has_value());
  EXPECT_EQ(reader->find_extension_owner(acme, "100"), UserId("u1"));
  EXPECT_FALSE(reader->find_extension_owner(acme, "101").has_value());
  EXPECT_FALSE(reader->find_extension_owner(globex, "100").has_value());
}

TEST_P(StoreConformance, UpdateUserWithMatchingVersionReplacesEverything) {
  const auto before = full_user("acme", "u1", "zoe");
  insert(before);
  auto after = before;
  after.user_name = "Zoe.Renamed";
  after.emails = {{"new@example.com", "work", true}};
  after.extensions = {{"555", "Somewhere", true}};
  after.external_id.reset();
  after.role = core::Role::account_owner;
  after.version = before.version + 1;
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->update_user(after, before.version));
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_EQ(reader->find_user(acme, UserId("u1")), after);
  EXPECT_EQ(reader->find_user_by_user_name("zoe.renamed"), after);
  EXPECT_FALSE(reader->find_user_by_user_name("zoe").has_value());
  EXPECT_EQ(reader->find_user_by_primary_email(acme, "new@example.com"), after);
  EXPECT_FALSE(reader->find_user_by_primary_email(acme, "zoe@example.com").has_value());
  EXPECT_EQ(reader->find_extension_owner(acme, "555"), UserId("u1"));
  EXPECT_FALSE(reader->find_extension_owner(acme, before.extensions[0].number).has_value());
  EXPECT_TRUE(reader->find_users_by_external_id(acme, *before.external_id).empty());
  EXPECT_EQ(reader->find_account_owner(acme), after);
}

TEST_P(StoreConformance, UpdateUserWithStaleVersionChangesNothing) {
  const auto before = full_user("acme", "u1", "zoe");
  insert(before);
  auto after = before;
  after.title = "changed";
  after.extensions.clear();
  after.version = before.version + 1;
  {
    auto writer = store().write();
    EXPECT_FALSE(writer->update_user(after, before.version - 1));
    EXPECT_EQ(writer->find_user(acme, UserId("u1")), before);
    writer->commit();
  }
  EXPECT_EQ(stored_user(acme, "u1"), before);
  EXPECT_EQ(store().read()->find_extension_owner(acme, before.extensions[0].number), UserId("u1"));

  auto ghost = make_user("acme", "u404", "ghost");
  auto writer = store().write();
  EXPECT_FALSE(writer->update_user(ghost, 1));
  EXPECT_FALSE(writer->find_user(acme, UserId("u404")).has_value());
}

// update_user(user, stored) may skip what did not change; every kind of change must still reach
// the document and each lookup, one at a time and all together.
TEST_P(StoreConformance, UpdateUserAgainstTheStoredUserKeepsEveryLookupRight) {
  auto current = full_user("acme", "u1", "zoe");
  insert(current);
  const auto step = [&](const std::function<void(User&)>& change) {
    auto next = current;
    change(next);
    next.version = current.version + 1;
    {
      auto writer = store().write();
      EXPECT_TRUE(writer->update_user(next, current));
      writer->commit();
    }
    const auto before = current;
    current = next;
    auto reader = store().read();
    EXPECT_EQ(reader->find_user(acme, UserId("u1")), current);
    EXPECT_EQ(reader->find_user_by_user_name(current.user_name), current);
    if (before.user_name != current.user_name) {
      EXPECT_FALSE(reader->find_user_by_user_name(before.user_name).has_value());
    }
    for (const auto& email : current.emails) {
      EXPECT_EQ(reader->find_users_by_email(acme, email.value).size(), 1U) << email.value;
    }
    for (const auto& email : before.emails) {
      const bool kept = std::any_of(current.emails.begin(), current.emails.end(),
                                    [&](const auto& e) { return e.value == email.value; });
      EXPECT_EQ(reader->find_users_by_email(acme, email.value).size(), kept ? 1U : 0U)
          << email.value;
    }
    for (const auto& extension : current.extensions) {
      EXPECT_EQ(reader->find_extension_owner(acme, extension.number), UserId("u1"));
    }
    for (const auto& extension : before.extensions) {
      const bool kept = std::any_of(current.extensions.begin(), current.extensions.end(),
                                    [&](const auto& e) { return e.number == extension.number; });
      EXPECT_EQ(reader->find_extension_owner(acme, extension.number).has_value(), kept);
    }
    if (current.external_id) {
      EXPECT_EQ(reader->find_users_by_external_id(acme, *current.external_id).size(), 1U);
    }
    if (before.external_id && before.external_id != current.external_id) {
      EXPECT_TRUE(reader->find_users_by_external_id(acme, *before.external_id).empty());
    }
    if (const auto* primary = core::primary_email(current)) {
      EXPECT_EQ(reader->find_user_by_primary_email(acme, primary->value), current);
    }
    EXPECT_EQ(reader->find_account_owner(acme).has_value(),
              current.role == core::Role::account_owner);
  };
  step([](User& u) { u.title = "only the document changes"; });
  step([](User& u) { u.user_name = "Zoe.Renamed"; });
  step([](User& u) { u.emails[1].value = "other-backup@example.net"; });
  step([](User& u) { u.emails[0].value = "zoe.new@example.com"; });
  step([](User& u) { std::swap(u.emails[0].primary, u.emails[1].primary); });
  step([](User& u) { u.extensions[1].number = "7777"; });
  step([](User& u) { u.extensions[0].e911_location = "moved"; });
  step([](User& u) { u.external_id = "ext-new"; });
  step([](User& u) { u.external_id.reset(); });
  step([](User& u) { u.role = core::Role::account_owner; });
  step([](User& u) {
    u.user_name = "zoe";
    u.emails = {{"z@example.com", "work", true}};
    u.extensions.clear();
    u.role = core::Role::standard_user;
    u.external_id = "ext-last";
    u.display_name = "Zoë";
  });
}

TEST_P(StoreConformance, DuplicateUserNameIsRefusedAcrossTenantsAndCase) {
  insert(make_user("acme", "u1", "alice"));
  auto writer = store().write();
  expect_violation(ErrorCode::user_name_taken,
                   [&] { writer->insert_user(make_user("globex", "u2", "ALICE")); });
  // The transaction is still usable and the failed insert left nothing behind.
  EXPECT_FALSE(writer->find_user(globex, UserId("u2")).has_value());
  writer->insert_user(make_user("globex", "u3", "bob"));
  writer->commit();
  auto reader = store().read();
  EXPECT_EQ(reader->count_users(acme), 1);
  EXPECT_EQ(reader->count_users(globex), 1);
  EXPECT_EQ(reader->find_user_by_user_name("alice")->id, UserId("u1"));
}

TEST_P(StoreConformance, ARefusedInsertLeavesNoEmailRowAndTheTransactionUsable) {
  // Many inserts in one transaction, some refused, none of them in a nested transaction of its
  // own: what a batch of creates does. A refused user leaves none of its email rows behind.
  auto alice = make_user("acme", "u1", "alice");
  alice.emails = {{"alice@example.com", "work", true}};
  insert(alice);
  auto writer = store().write();
  auto clash = make_user("acme", "u2", "ALICE");
  clash.emails = {{"clash@example.com", "work", true}, {"backup@example.com", "home", false}};
  expect_violation(ErrorCode::user_name_taken, [&] { writer->insert_user(clash); });
  auto bob = make_user("acme", "u3", "bob");
  bob.emails = {{"bob@example.com", "work", true}, {"shared@example.com", "home", false}};
  writer->insert_user(bob);
  auto email_clash = make_user("acme", "u4", "carol");
  email_clash.emails = {{"BOB@example.com", "work", true}, {"carol@example.com", "home", false}};
  expect_violation(ErrorCode::email_taken, [&] { writer->insert_user(email_clash); });
  writer->commit();
  auto reader = store().read();
  EXPECT_TRUE(reader->find_users_by_email(acme, "clash@example.com").empty());
  EXPECT_TRUE(reader->find_users_by_email(acme, "backup@example.com").empty());
  EXPECT_TRUE(reader->find_users_by_email(acme, "carol@example.com").empty());
  EXPECT_EQ(reader->find_users_by_email(acme, "shared@example.com"), std::vector<core::User>{bob});
  EXPECT_EQ(reader->count_users(acme), 2);
}

TEST_P(StoreConformance, DuplicatePrimaryEmailIsRefusedWithinTheTenantOnly) {
  auto alice = make_user("acme", "u1", "alice");
  alice.emails = {{"shared@example.com", "work", true}};
  insert(alice);

  auto clash = make_user("acme", "u2", "bob");
  clash.emails = {{"SHARED@example.com", "work", true}};
  clash.extensions = {{"200", "HQ", true}};
  {
    auto writer = store().write();
    expect_violation(ErrorCode::email_taken, [&] { writer->insert_user(clash); });
    EXPECT_FALSE(writer->find_user(acme, UserId("u2")).has_value());
    EXPECT_FALSE(writer->find_extension_owner(acme, "200").has_value());
    writer->commit();
  }
  // A backup address equal to someone's primary is not a clash.
  auto backup = make_user("acme", "u3", "carol");
  backup.emails = {{"carol@example.com", "work", true}, {"shared@example.com", "home", false}};
  insert(backup);

  auto other_tenant = clash;
  other_tenant.tenant = globex;
  insert(other_tenant);
  EXPECT_EQ(store().read()->find_user_by_primary_email(globex, "shared@example.com"), other_tenant);
  EXPECT_EQ(store().read()->count_users(acme), 2);
}

TEST_P(StoreConformance, DuplicateExtensionIsRefusedWithinTheTenantOnly) {
  auto alice = make_user("acme", "u1", "alice");
  alice.extensions = {{"100", "HQ", true}};
  insert(alice);

  auto clash = make_user("acme", "u2", "bob");
  clash.extensions = {{"101", "HQ", true}, {"100", "HQ", false}};
  {
    auto writer = store().write();
    expect_violation(ErrorCode::extension_taken, [&] { writer->insert_user(clash); });
    // Neither the user row nor its first extension survived the failed insert.
    EXPECT_FALSE(writer->find_user(acme, UserId("u2")).has_value());
    EXPECT_FALSE(writer->find_extension_owner(acme, "101").has_value());
    writer->commit();
  }
  auto other_tenant = clash;
  other_tenant.tenant = globex;
  insert(other_tenant);
  EXPECT_EQ(store().read()->find_extension_owner(globex, "100"), UserId("u2"));
  EXPECT_EQ(store().read()->find_extension_owner(acme, "100"), UserId("u1"));
}

TEST_P(StoreConformance, UpdateThatWouldClashChangesNothing) {
  auto alice = make_user("acme", "u1", "alice");
  alice.emails = {{"alice@example.com", "work", true}};
  alice.extensions = {{"100", "HQ", true}};
  auto bob = make_user("acme", "u2", "bob");
  bob.emails = {{"bob@example.com", "work", true}};
  bob.extensions = {{"200", "HQ", true}};
  insert(alice);
  insert(bob);

  auto writer = store().write();
  auto renamed = bob;
  renamed.version = 2;
  renamed.user_name = "Alice";
  expect_violation(ErrorCode::user_name_taken, [&] { writer->update_user(renamed, 1); });
  auto emailed = bob;
  emailed.version = 2;
  emailed.emails = {{"ALICE@example.com", "work", true}};
  expect_violation(ErrorCode::email_taken, [&] { writer->update_user(emailed, 1); });
  auto extended = bob;
  extended.version = 2;
  extended.extensions = {{"201", "HQ", true}, {"100", "HQ", false}};
  expect_violation(ErrorCode::extension_taken, [&] { writer->update_user(extended, 1); });
  // The same through update_user against the stored user, and a stale stored user.
  expect_violation(ErrorCode::user_name_taken, [&] { writer->update_user(renamed, bob); });
  expect_violation(ErrorCode::email_taken, [&] { writer->update_user(emailed, bob); });
  expect_violation(ErrorCode::extension_taken, [&] { writer->update_user(extended, bob); });
  auto stale = bob;
  stale.version = 0;
  auto retitled = bob;
  retitled.version = 2;
  retitled.title = "lost";
  EXPECT_FALSE(writer->update_user(retitled, stale));
  EXPECT_EQ(writer->find_user(acme, UserId("u2")), bob);
  EXPECT_EQ(writer->find_extension_owner(acme, "200"), UserId("u2"));
  EXPECT_FALSE(writer->find_extension_owner(acme, "201").has_value());
  writer->commit();
  EXPECT_EQ(stored_user(acme, "u2"), bob);
  EXPECT_EQ(store().read()->find_extension_owner(acme, "200"), UserId("u2"));
}

TEST_P(StoreConformance, PasswordHashIsStoredReplacedAndDeletedWithTheUser) {
  insert(make_user("acme", "u1", "alice"));
  auto writer = store().write();
  EXPECT_FALSE(writer->password_hash(acme, UserId("u1")).has_value());
  writer->set_password_hash(acme, UserId("u1"), "$argon2id$one");
  writer->set_password_hash(acme, UserId("u1"), "$argon2id$two");
  writer->commit();
  EXPECT_EQ(store().read()->password_hash(acme, UserId("u1")), "$argon2id$two");
  EXPECT_FALSE(store().read()->password_hash(globex, UserId("u1")).has_value());
}

TEST_P(StoreConformance, DeleteUserRemovesMembershipsExtensionsAndPassword) {
  auto alice = make_user("acme", "u1", "alice");
  alice.extensions = {{"100", "HQ", true}};
  alice.emails = {{"alice@example.com", "work", true}};
  insert(alice);
  insert(make_user("acme", "u2", "bob"));
  insert(make_group("acme", "g1", "Support"));
  {
    auto writer = store().write();
    writer->set_password_hash(acme, UserId("u1"), "hash");
    writer->add_member(acme, GroupId("g1"), user_ref("u1"));
    writer->add_member(acme, GroupId("g1"), user_ref("u2"));
    writer->commit();
  }
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->delete_user(acme, UserId("u1")));
    EXPECT_FALSE(writer->delete_user(acme, UserId("u1")));
    EXPECT_FALSE(writer->delete_user(globex, UserId("u2")));
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_FALSE(reader->find_user(acme, UserId("u1")).has_value());
  EXPECT_FALSE(reader->password_hash(acme, UserId("u1")).has_value());
  EXPECT_FALSE(reader->find_extension_owner(acme, "100").has_value());
  EXPECT_FALSE(reader->is_member(acme, GroupId("g1"), user_ref("u1")));
  EXPECT_TRUE(reader->groups_containing(acme, user_ref("u1")).empty());
  EXPECT_TRUE(reader->is_member(acme, GroupId("g1"), user_ref("u2")));
  EXPECT_EQ(reader->count_users(acme), 1);
  reader.reset();

  // Its userName, email and extension are free again.
  auto again = make_user("acme", "u3", "ALICE");
  again.extensions = {{"100", "HQ", true}};
  again.emails = {{"alice@example.com", "work", true}};
  insert(again);
  EXPECT_EQ(store().read()->find_extension_owner(acme, "100"), UserId("u3"));
}

TEST_P(StoreConformance, GroupsRoundTripAndLookUpCaseInsensitively) {
  auto all_users = make_group("acme", "g0", std::string(core::all_users_group_name));
  all_users.kind = core::GroupKind::access;
  all_users.system = true;
  auto support = make_group("acme", "g1", "Support Team");
  support.external_id = "CN=Support";
  support.kind = core::GroupKind::contact_type;
  insert(all_users);
  insert(support);

  auto reader = store().read();
  EXPECT_EQ(reader->find_group(acme, GroupId("g1")), support);
  EXPECT_FALSE(reader->find_group(globex, GroupId("g1")).has_value());
  EXPECT_EQ(reader->find_group_by_display_name(acme, "support TEAM"), support);
  EXPECT_FALSE(reader->find_group_by_display_name(globex, "Support Team").has_value());
  EXPECT_EQ(reader->find_groups_by_external_id(acme, "CN=Support"),
            std::vector<core::Group>{support});
  EXPECT_TRUE(reader->find_groups_by_external_id(acme, "CN=Other").empty());
  EXPECT_EQ(reader->find_system_group(acme), all_users);
  EXPECT_FALSE(reader->find_system_group(globex).has_value());
}

TEST_P(StoreConformance, DuplicateGroupNameIsRefusedWithinTheTenantOnly) {
  insert(make_group("acme", "g1", "Support"));
  insert(make_group("acme", "g2", "Sales"));
  auto writer = store().write();
  expect_violation(ErrorCode::group_name_taken,
                   [&] { writer->insert_group(make_group("acme", "g3", "SUPPORT")); });
  auto renamed = make_group("acme", "g2", "support");
  renamed.version = 2;
  expect_violation(ErrorCode::group_name_taken, [&] { writer->update_group(renamed, 1); });
  writer->insert_group(make_group("globex", "g3", "Support"));
  writer->commit();
  auto reader = store().read();
  EXPECT_FALSE(reader->find_group(acme, GroupId("g3")).has_value());
  EXPECT_EQ(reader->find_group(acme, GroupId("g2"))->display_name, "Sales");
  EXPECT_EQ(reader->list_groups(acme, {}).total, 2);
  EXPECT_TRUE(reader->find_group(globex, GroupId("g3")).has_value());
}

TEST_P(StoreConformance, UpdateGroupIsCompareAndSwap) {
  const auto before = make_group("acme", "g1", "Support");
  insert(before);
  auto after = before;
  after.display_name = "Helpdesk";
  after.external_id = "CN=Helpdesk";
  after.kind = core::GroupKind::distribution;
  after.version = 2;
  {
    auto writer = store().write();
    EXPECT_FALSE(writer->update_group(after, 5));
    EXPECT_EQ(writer->find_group(acme, GroupId("g1")), before);
    EXPECT_TRUE(writer->update_group(after, 1));
    EXPECT_FALSE(writer->update_group(after, 1));
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_EQ(reader->find_group(acme, GroupId("g1")), after);
  EXPECT_EQ(reader->find_group_by_display_name(acme, "helpdesk"), after);
  EXPECT_FALSE(reader->find_group_by_display_name(acme, "support").has_value());
}

TEST_P(StoreConformance, MembershipAddAndRemoveAreIdempotent) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_group("acme", "g1", "Support"));
  insert(make_group("acme", "g2", "Nested"));
  auto writer = store().write();
  EXPECT_TRUE(writer->add_member(acme, GroupId("g1"), user_ref("u1")));
  EXPECT_FALSE(writer->add_member(acme, GroupId("g1"), user_ref("u1")));
  EXPECT_TRUE(writer->add_member(acme, GroupId("g1"), group_ref("g2")));
  EXPECT_TRUE(writer->add_member(acme, GroupId("g2"), user_ref("u1")));
  // The same id as a group member is a different member.
  EXPECT_TRUE(writer->add_member(acme, GroupId("g1"), group_ref("u1")));
  EXPECT_TRUE(writer->is_member(acme, GroupId("g1"), user_ref("u1")));
  EXPECT_TRUE(writer->remove_member(acme, GroupId("g1"), group_ref("u1")));
  EXPECT_FALSE(writer->remove_member(acme, GroupId("g1"), group_ref("u1")));
  EXPECT_FALSE(writer->remove_member(acme, GroupId("g2"), user_ref("nobody")));
  writer->commit();

  auto reader = store().read();
  EXPECT_TRUE(reader->is_member(acme, GroupId("g1"), user_ref("u1")));
  EXPECT_TRUE(reader->is_member(acme, GroupId("g1"), group_ref("g2")));
  EXPECT_FALSE(reader->is_member(acme, GroupId("g1"), group_ref("u1")));
  EXPECT_FALSE(reader->is_member(globex, GroupId("g1"), user_ref("u1")));
  const auto members = reader->list_members(acme, GroupId("g1"), {});
  EXPECT_EQ(members.total, 2);
  EXPECT_EQ(members.items, (std::vector<MemberRef>{user_ref("u1"), group_ref("g2")}));
  EXPECT_EQ(reader->groups_containing(acme, user_ref("u1")),
            (std::vector<GroupId>{GroupId("g1"), GroupId("g2")}));
  EXPECT_EQ(reader->groups_containing(acme, group_ref("g2")),
            (std::vector<GroupId>{GroupId("g1")}));
  EXPECT_TRUE(reader->groups_containing(globex, user_ref("u1")).empty());
}

TEST_P(StoreConformance, GroupNamesOfUserListTheSystemGroupThenDirectGroupsInJoinOrder) {
  auto all_users = make_group("acme", "g0", std::string(core::all_users_group_name));
  all_users.system = true;
  insert(all_users);
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  // Ids and names out of lexical order, so join order is distinguishable from sorting.
  insert(make_group("acme", "g2", "Zeta"));
  insert(make_group("acme", "g1", "Alpha"));
  insert(make_group("acme", "g3", "Other"));
  insert(make_group("globex", "g4", "Elsewhere"));
  {
    auto writer = store().write();
    writer->add_member(acme, GroupId("g2"), user_ref("u1"));
    writer->add_member(acme, GroupId("g1"), user_ref("u1"));
    writer->add_member(acme, GroupId("g3"), user_ref("u2"));
    writer->add_member(acme, GroupId("g3"), group_ref("u1"));  // a group member named u1
    writer->add_member(globex, GroupId("g4"), user_ref("u1"));
    auto renamed = make_group("acme", "g1", "Alpha Renamed");
    renamed.version = 2;
    EXPECT_TRUE(writer->update_group(renamed, 1));
    writer->commit();
  }
  auto reader = store().read();
  const std::vector<core::GroupName> expected{
      {GroupId("g0"), std::string(core::all_users_group_name)},
      {GroupId("g2"), "Zeta"},
      {GroupId("g1"), "Alpha Renamed"}};
  EXPECT_EQ(reader->group_names_of_user(acme, UserId("u1")), expected);
  // The backend's answer is the port's default one (find_system_group, groups_containing,
  // find_group), called without virtual dispatch.
  EXPECT_EQ(reader->core::StoreReader::group_names_of_user(acme, UserId("u1")), expected);
  EXPECT_EQ(reader->group_names_of_user(acme, UserId("nobody")),
            (std::vector<core::GroupName>{expected.front()}));
  EXPECT_TRUE(reader->group_names_of_user(globex, UserId("u2")).empty());
  EXPECT_EQ(reader->group_names_of_user(globex, UserId("u1")),
            (std::vector<core::GroupName>{{GroupId("g4"), "Elsewhere"}}));
}

TEST_P(StoreConformance, MembersPageInInsertionOrderWithTotals) {
  insert(make_group("acme", "g1", "Big"));
  {
    auto writer = store().write();
    for (int i = 0; i < 25; ++i) {
      // Ids out of lexical order, so creation order is distinguishable from sorting.
      writer->add_member(acme, GroupId("g1"), user_ref("u" + std::to_string(100 - i)));
    }
    writer->commit();
  }
  auto reader = store().read();
  const auto page = reader->list_members(acme, GroupId("g1"), {.offset = 10, .limit = 10});
  EXPECT_EQ(page.total, 25);
  ASSERT_EQ(page.items.size(), 10u);
  EXPECT_EQ(page.items.front(), user_ref("u90"));
  EXPECT_EQ(page.items.back(), user_ref("u81"));
  const auto tail = reader->list_members(acme, GroupId("g1"), {.offset = 20, .limit = 10});
  EXPECT_EQ(tail.total, 25);
  EXPECT_EQ(tail.items.size(), 5u);
  const auto past = reader->list_members(acme, GroupId("g1"), {.offset = 30, .limit = 10});
  EXPECT_EQ(past.total, 25);
  EXPECT_TRUE(past.items.empty());
}

TEST_P(StoreConformance, SystemGroupNeverHoldsMemberRows) {
  auto all_users = make_group("acme", "g0", std::string(core::all_users_group_name));
  all_users.system = true;
  insert(all_users);
  insert(make_user("acme", "u1", "alice"));
  auto writer = store().write();
  EXPECT_THROW(writer->add_member(acme, GroupId("g0"), user_ref("u1")), core::StoreFailure);
  EXPECT_FALSE(writer->is_member(acme, GroupId("g0"), user_ref("u1")));
  EXPECT_EQ(writer->list_members(acme, GroupId("g0"), {}).total, 0);
  writer->commit();
}

TEST_P(StoreConformance, DeleteGroupRemovesItsMembersAndItsMemberships) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_group("acme", "g1", "Outer"));
  insert(make_group("acme", "g2", "Inner"));
  {
    auto writer = store().write();
    writer->add_member(acme, GroupId("g1"), group_ref("g2"));
    writer->add_member(acme, GroupId("g2"), user_ref("u1"));
    writer->add_member(acme, GroupId("g1"), user_ref("u1"));
    writer->commit();
  }
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->delete_group(acme, GroupId("g2")));
    EXPECT_FALSE(writer->delete_group(acme, GroupId("g2")));
    EXPECT_FALSE(writer->delete_group(globex, GroupId("g1")));
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_FALSE(reader->find_group(acme, GroupId("g2")).has_value());
  EXPECT_EQ(reader->list_members(acme, GroupId("g2"), {}).total, 0);
  EXPECT_EQ(reader->list_members(acme, GroupId("g1"), {}).items,
            (std::vector<MemberRef>{user_ref("u1")}));
  EXPECT_EQ(reader->groups_containing(acme, user_ref("u1")), (std::vector<GroupId>{GroupId("g1")}));
  EXPECT_TRUE(reader->groups_containing(acme, group_ref("g2")).empty());
  EXPECT_TRUE(reader->find_user(acme, UserId("u1")).has_value());
  reader.reset();
  insert(make_group("acme", "g3", "inner"));  // the name is free again
}

TEST_P(StoreConformance, UsersAndGroupsPageInCreationOrderWithTotals) {
  {
    auto writer = store().write();
    for (int i = 0; i < 12; ++i) {
      const auto n = std::to_string(20 - i);
      auto user = make_user("acme", "u" + n, "user" + n);
      // Creation order is the order of insertion, whatever the timestamps say.
      user.created = at_millis(1'000'000 - i);
      writer->insert_user(user);
      writer->insert_group(make_group("acme", "g" + n, "group" + n));
    }
    writer->insert_user(make_user("globex", "x1", "outsider"));
    writer->insert_group(make_group("globex", "x1", "outsiders"));
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_EQ(reader->count_users(acme), 12);
  EXPECT_EQ(reader->count_users(globex), 1);
  EXPECT_EQ(reader->count_users(TenantId("nobody")), 0);

  const auto users = reader->list_users(acme, {.offset = 5, .limit = 4});
  EXPECT_EQ(users.total, 12);
  ASSERT_EQ(users.items.size(), 4u);
  EXPECT_EQ(users.items[0].id, UserId("u15"));
  EXPECT_EQ(users.items[3].id, UserId("u12"));
  const auto all = reader->list_users(acme, {.offset = 0, .limit = 100});
  ASSERT_EQ(all.items.size(), 12u);
  EXPECT_EQ(all.items.front().id, UserId("u20"));
  EXPECT_EQ(all.items.back().id, UserId("u9"));
  const auto empty = reader->list_users(acme, {.offset = 12, .limit = 5});
  EXPECT_EQ(empty.total, 12);
  EXPECT_TRUE(empty.items.empty());

  const auto groups = reader->list_groups(acme, {.offset = 10, .limit = 10});
  EXPECT_EQ(groups.total, 12);
  ASSERT_EQ(groups.items.size(), 2u);
  EXPECT_EQ(groups.items[0].id, GroupId("g10"));
  EXPECT_EQ(groups.items[1].id, GroupId("g9"));
  EXPECT_EQ(reader->list_groups(globex, {}).total, 1);
}

TEST_P(StoreConformance, ForEachUserVisitsTheTenantsUsersInCreationOrder) {
  {
    auto writer = store().write();
    for (int i = 0; i < 5; ++i) {
      const auto n = std::to_string(20 - i);
      auto user = make_user("acme", "u" + n, "user" + n);
      user.created = at_millis(1'000'000 - i);  // creation order is insertion order
      writer->insert_user(user);
      if (i == 2) {
        writer->insert_user(make_user("globex", "x1", "outsider"));
      }
    }
    writer->commit();
  }
  auto reader = store().read();
  std::vector<User> seen;
  reader->for_each_user(acme, [&](User& user) { seen.push_back(user); });
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.front().id, UserId("u20"));
  EXPECT_EQ(seen.back().id, UserId("u16"));
  EXPECT_EQ(seen[1], *reader->find_user(acme, UserId("u19"))) << "whole users, as stored";
  std::vector<std::string> outsiders;
  reader->for_each_user(globex, [&](User& user) { outsiders.push_back(user.id.str()); });
  EXPECT_EQ(outsiders, std::vector<std::string>{"x1"});
  std::size_t none = 0;
  reader->for_each_user(TenantId("nobody"), [&](User&) { ++none; });
  EXPECT_EQ(none, 0u);

  // A writer sees its own uncommitted users; a reader opened before does not.
  auto writer = store().write();
  writer->insert_user(make_user("acme", "u99", "late"));
  std::size_t in_writer = 0;
  writer->for_each_user(acme, [&](User&) { ++in_writer; });
  EXPECT_EQ(in_writer, 6u);
  std::size_t in_reader = 0;
  reader->for_each_user(acme, [&](User&) { ++in_reader; });
  EXPECT_EQ(in_reader, 5u);
}

TEST_P(StoreConformance, ForEachUserWhereDecodesOnlyTheUsersItWants) {
  {
    auto writer = store().write();
    for (int i = 0; i < 4; ++i) {
      const auto n = std::to_string(i);
      writer->insert_user(make_user("acme", "u" + n, "User" + n));
    }
    writer->insert_user(make_user("globex", "x1", "outsider"));
    writer->commit();
  }
  {
    // A stored version other than the first, so the key's version is seen to be the row's.
    auto writer = store().write();
    auto user = *writer->find_user(acme, UserId("u2"));
    user.version += 5;
    ASSERT_TRUE(writer->update_user(user, user.version - 5));
    writer->commit();
  }
  auto reader = store().read();
  std::vector<std::string> asked;
  std::vector<User> decoded;
  reader->for_each_user_where(
      acme,
      [&](const UserRowKey& key) {
        asked.push_back(std::string(key.id) + ":" + std::string(key.user_name) + ":" +
                        std::to_string(key.version));
        return key.id == "u1" || key.id == "u2";
      },
      [&](User& user) {
        EXPECT_EQ(asked.back().substr(0, user.id.str().size()), user.id.str())
            << "each wanted user is handed over right after it was asked about";
        decoded.push_back(user);
      });
  const auto version_of = [&](const char* id) {
    return std::to_string(reader->find_user(acme, UserId(id))->version);
  };
  EXPECT_EQ(asked, (std::vector<std::string>{
                       "u0:User0:" + version_of("u0"), "u1:User1:" + version_of("u1"),
                       "u2:User2:" + version_of("u2"), "u3:User3:" + version_of("u3")}))
      << "every user of the tenant, in creation order, with its userName as written";
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0], *reader->find_user(acme, UserId("u1")));
  EXPECT_EQ(decoded[1], *reader->find_user(acme, UserId("u2")));
  std::size_t none = 0;
  reader->for_each_user_where(
      TenantId("nobody"), [&](const UserRowKey&) { return true; }, [&](User&) { ++none; });
  EXPECT_EQ(none, 0u);
}

TEST_P(StoreConformance, WriterSeesItsOwnWritesReadersDoNotUntilCommit) {
  auto writer = store().write();
  writer->insert_user(make_user("acme", "u1", "alice"));
  EXPECT_TRUE(writer->find_user(acme, UserId("u1")).has_value());
  EXPECT_EQ(writer->count_users(acme), 1);
  EXPECT_FALSE(stored_user(acme, "u1").has_value());
  writer->commit();
  EXPECT_TRUE(stored_user(acme, "u1").has_value());
}

TEST_P(StoreConformance, WriterDestroyedWithoutCommitRollsBack) {
  insert(make_user("acme", "u1", "alice"));
  {
    auto writer = store().write();
    writer->insert_user(make_user("acme", "u2", "bob"));
    auto changed = make_user("acme", "u1", "alice");
    changed.title = "changed";
    changed.version = 2;
    EXPECT_TRUE(writer->update_user(changed, 1));
    writer->insert_group(make_group("acme", "g1", "Support"));
    writer->add_member(acme, GroupId("g1"), user_ref("u1"));
    writer->set_password_hash(acme, UserId("u1"), "hash");
    writer->append_change(make_change("acme", "u1", 2));
    EXPECT_TRUE(writer->ensure_tenant(TenantId("initech"), at_millis(5)));
  }
  auto reader = store().read();
  EXPECT_EQ(reader->find_user(acme, UserId("u1")), make_user("acme", "u1", "alice"));
  EXPECT_FALSE(reader->find_user(acme, UserId("u2")).has_value());
  EXPECT_FALSE(reader->find_group(acme, GroupId("g1")).has_value());
  EXPECT_FALSE(reader->password_hash(acme, UserId("u1")).has_value());
  EXPECT_EQ(reader->last_change_sequence(), 0);
  EXPECT_FALSE(reader->find_tenant(TenantId("initech")).has_value());
  reader.reset();
  // The write slot was released.
  auto writer = store().write();
  writer->commit();
}

TEST_P(StoreConformance, ReaderKeepsItsSnapshotAcrossCommits) {
  insert(make_user("acme", "u1", "alice"));
  auto before = store().read();
  {
    auto writer = store().write();
    writer->insert_user(make_user("acme", "u2", "bob"));
    auto changed = make_user("acme", "u1", "alice");
    changed.title = "changed";
    changed.version = 2;
    writer->update_user(changed, 1);
    writer->append_change(make_change("acme", "u1", 2));
    writer->commit();
  }
  EXPECT_EQ(before->count_users(acme), 1);
  EXPECT_FALSE(before->find_user(acme, UserId("u2")).has_value());
  EXPECT_EQ(before->find_user(acme, UserId("u1"))->title, "");
  EXPECT_EQ(before->last_change_sequence(), 0);
  EXPECT_TRUE(before->changes_after(0, 10).empty());

  auto after = store().read();
  EXPECT_EQ(after->count_users(acme), 2);
  EXPECT_EQ(after->find_user(acme, UserId("u1"))->title, "changed");
  EXPECT_EQ(after->last_change_sequence(), 1);
}

TEST_P(StoreConformance, ChangeLogIsOrderedGapFreeAndRoundTrips) {
  std::vector<core::ChangeRecord> appended;
  {
    auto writer = store().write();
    EXPECT_EQ(writer->last_change_sequence(), 0);
    for (int i = 1; i <= 5; ++i) {
      auto record = make_change(i % 2 == 0 ? "acme" : "globex", "u" + std::to_string(i), i);
      if (i == 3) {
        record.resource_type = core::ResourceType::group;
        record.kind = core::ChangeKind::deleted;
        record.actor = {core::ActorKind::sync_run, "run-9"};
        record.origin = {core::OriginKind::directory_sync, "ldap:corp"};
        record.attributes = {
            {"members", "user:u1", std::nullopt},
            {"password", std::string(core::redacted_value), std::string(core::redacted_value)}};
      }
      if (i == 4) {
        record.attributes.clear();
      }
      record.sequence = 999;  // ignored: the store assigns it
      record.sequence = writer->append_change(record);
      appended.push_back(record);
    }
    EXPECT_EQ(writer->last_change_sequence(), appended.back().sequence);
    writer->commit();
  }
  for (std::size_t i = 1; i < appended.size(); ++i) {
    EXPECT_EQ(appended[i].sequence, appended[i - 1].sequence + 1);
  }
  {
    // A rolled-back append leaves no hole.
    auto writer = store().write();
    writer->append_change(make_change("acme", "gone", 1));
  }
  {
    auto writer = store().write();
    auto record = make_change("acme", "u6", 6);
    record.sequence = writer->append_change(record);
    EXPECT_EQ(record.sequence, appended.back().sequence + 1);
    appended.push_back(record);
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_EQ(reader->changes_after(0, 100), appended);
  EXPECT_EQ(reader->changes_after(appended[1].sequence, 2),
            (std::vector<core::ChangeRecord>{appended[2], appended[3]}));
  EXPECT_TRUE(reader->changes_after(appended.back().sequence, 10).empty());
  EXPECT_TRUE(reader->changes_after(0, 0).empty());
  EXPECT_EQ(reader->last_change_sequence(), appended.back().sequence);
}

TEST_P(StoreConformance, ReopenKeepsEverything) {
  const auto alice = full_user("acme", "u1", "alice");
  const auto group = make_group("acme", "g1", "Support");
  core::ChangeRecord change = make_change("acme", "u1", 7);
  {
    auto writer = store().write();
    writer->insert_user(alice);
    writer->set_password_hash(acme, UserId("u1"), "hash");
    writer->insert_group(group);
    writer->add_member(acme, GroupId("g1"), user_ref("u1"));
    change.sequence = writer->append_change(change);
    writer->commit();
  }
  const int version = store().schema_version();
  reopen();
  EXPECT_EQ(store().schema_version(), version);
  store().check();
  auto reader = store().read();
  EXPECT_EQ(reader->list_tenants().size(), 2u);
  EXPECT_EQ(reader->find_user(acme, UserId("u1")), alice);
  EXPECT_EQ(reader->find_user_by_user_name("ALICE"), alice);
  EXPECT_EQ(reader->password_hash(acme, UserId("u1")), "hash");
  EXPECT_EQ(reader->find_group(acme, GroupId("g1")), group);
  EXPECT_TRUE(reader->is_member(acme, GroupId("g1"), user_ref("u1")));
  EXPECT_EQ(reader->changes_after(0, 10), (std::vector<core::ChangeRecord>{change}));
}

TEST_P(StoreConformance, CheckAndSchemaVersionWork) {
  EXPECT_NO_THROW(store().check());
  EXPECT_GE(store().schema_version(), 1);
}

TEST_P(StoreConformance, FinishedWriterRefusesFurtherUse) {
  auto writer = store().write();
  writer->commit();
  EXPECT_THROW(writer->insert_user(make_user("acme", "u1", "alice")), core::StoreFailure);
  EXPECT_THROW(writer->commit(), core::StoreFailure);
}

TEST_P(StoreConformance, ManyReadersAtOnce) {
  insert(make_user("acme", "u1", "alice"));
  std::vector<std::unique_ptr<core::StoreReader>> readers;
  for (int i = 0; i < 16; ++i) {
    readers.push_back(store().read());
  }
  for (auto& reader : readers) {
    EXPECT_EQ(reader->count_users(acme), 1);
  }
}

TEST_P(StoreConformance, ConcurrentWritersAreSerialisedWithoutLostUpdates) {
  insert(make_user("acme", "counter", "counter"));
  insert(make_group("acme", "g", "Everyone"));
  constexpr int threads = 4;
  constexpr int rounds = 20;
  std::atomic<int> failures = 0;
  std::atomic<bool> writing = true;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        for (int round = 0; round < rounds; ++round) {
          auto writer = store().write();
          auto current = writer->find_user(acme, UserId("counter"));
          auto next = *current;
          next.version = current->version + 1;
          next.title = std::to_string(next.version);
          if (!writer->update_user(next, current->version)) {
            ++failures;
          }
          const auto n = std::to_string(t) + "-" + std::to_string(round);
          writer->insert_user(make_user("acme", "u" + n, "user" + n));
          writer->add_member(acme, GroupId("g"), user_ref("u" + n));
          writer->append_change(make_change("acme", "counter", next.version));
          writer->commit();
        }
      } catch (const std::exception& error) {
        ADD_FAILURE() << error.what();
        ++failures;
      }
    });
  }
  // Readers run alongside and must always see a consistent state: members == users - 1.
  std::thread observer([&] {
    while (writing) {
      auto reader = store().read();
      const auto users = reader->count_users(acme);
      const auto members = reader->list_members(acme, GroupId("g"), {.offset = 0, .limit = 0});
      if (users - 1 != members.total) {
        ++failures;
      }
    }
  });
  for (auto& worker : workers) {
    worker.join();
  }
  writing = false;
  observer.join();

  EXPECT_EQ(failures, 0);
  auto reader = store().read();
  const auto counter = reader->find_user(acme, UserId("counter"));
  EXPECT_EQ(counter->version, 1 + threads * rounds);
  EXPECT_EQ(reader->count_users(acme), 1 + threads * rounds);
  EXPECT_EQ(reader->list_members(acme, GroupId("g"), {}).total, threads * rounds);
  const auto log = reader->changes_after(0, 1000);
  ASSERT_EQ(log.size(), static_cast<std::size_t>(threads * rounds));
  for (std::size_t i = 0; i < log.size(); ++i) {
    // Serialised: the log's order is the order of the counter's versions.
    EXPECT_EQ(log[i].version, static_cast<core::ResourceVersion>(i + 2));
  }
}

}  // namespace
}  // namespace idbridge::store_test
