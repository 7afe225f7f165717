// The sync applier against a real SQLite file: plans carried out through IdentityService with
// links, run records and cursors committed in the same page transactions; refusals isolated to
// their operation; disable, restore and delete by anchor; incremental views that only load what
// the read mentions; and a re-plan after applying is empty.
#include "idbridge/core/sync/apply.hpp"

#include "idbridge/crypto/crypto.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>

namespace idbridge::core::sync {
namespace {

using namespace std::chrono_literals;

class FixedClock final : public Clock {
 public:
  Timestamp now() const override { return at; }
  Timestamp at = Timestamp(std::chrono::milliseconds(1'800'000'000'000));
};

DirectoryEntry person(const std::string& uid, std::vector<std::string> groups = {},
                      const std::string& title = "Engineer") {
  DirectoryEntry entry;
  entry.anchor = "anchor-" + uid;
  entry.dn = "uid=" + uid + ",ou=people,dc=example,dc=com";
  entry.attributes = {{"uid", {uid}},
                      {"givenName", {"Given"}},
                      {"sn", {"Family"}},
                      {"mail", {uid + "@example.com"}},
                      {"title", {title}}};
  entry.groups = std::move(groups);
  return entry;
}

MappingRules rules() {
  MappingRules r;
  r.attributes = {{"userName", "{uid}"},
                  {"name.givenName", "{givenName}"},
                  {"name.familyName", "{sn}"},
                  {"emails.primary", "{mail}"},
                  {"title", "{title}"}};
  r.groups = {{"sales", "Sales", GroupKind::team}};
  return r;
}

Snapshot full(std::vector<DirectoryEntry> users, std::string cursor = "") {
  Snapshot s;
  s.directory = "corp";
  s.users = std::move(users);
  s.cursor = std::move(cursor);
  s.completeness = {true, ""};
  return s;
}

TenantSettings acme_settings() {
  TenantSettings acme;
  acme.id = TenantId("acme");
  return acme;
}

class SyncApplyTest : public ::testing::Test {
 protected:
  SyncApplyTest()
      : store_(store::open_sqlite_store({.path = dir_.file("idbridge.db")})),
        service_({*store_, clock_, ids_, hasher_, zones_}, ProviderSettings{"Provider"},
                 {acme_settings()}) {
    EXPECT_TRUE(service_.ensure_tenant(acme_));
  }

  Plan plan_for(const Snapshot& snapshot, const Policy& policy = {},
                const std::vector<std::string>& other_directories = {}) {
    const auto mapped = map_users(snapshot, rules_);
    const auto view =
        load_tenant_view(*store_->read(), snapshot, mapped, rules_, acme_, other_directories);
    return plan(mapped, snapshot, view, rules_, policy, clock_.now());
  }

  ApplyResult run(const Plan& p, ApplyOptions options = {}) {
    return apply(p, service_, sync_principal("corp", 1, acme_), clock_.now(), options);
  }

  // The lean path the daemon takes: the view drops what the plan would not touch.
  struct LeanPlan {
    Plan plan;
    std::size_t compared = 0;  // mapped users left after the view was loaded
    TenantView view;
  };
  LeanPlan lean_plan_for(const Snapshot& snapshot) {
    auto mapped = map_users(snapshot, rules_);
    LeanPlan out;
    out.view =
        load_tenant_view_dropping_unchanged(*store_->read(), snapshot, mapped, rules_, acme_, {});
    out.compared = mapped.users.size();
    out.plan = plan(std::move(mapped), snapshot, out.view, rules_, {}, clock_.now());
    return out;
  }

  // Edits stored documents behind the store's back (the version stays): what a load that reads
  // them would notice, and one that trusts the links' digests would not.
  void tamper_with_documents(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(
        sqlite3_open_v2(dir_.file("idbridge.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr),
        SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    EXPECT_GT(sqlite3_changes(db), 0);
    sqlite3_close_v2(db);
  }

  std::optional<User> user_named(const std::string& name) {
    return store_->read()->find_user_by_user_name(name);
  }

  std::vector<std::string> sales_members() {
    auto reader = store_->read();
    const auto group = reader->find_group_by_display_name(acme_, "Sales");
    std::vector<std::string> names;
    if (!group) {
      return names;
    }
    for (const auto& member : reader->list_members(acme_, group->id, {0, 100}).items) {
      names.push_back(reader->find_user(acme_, UserId(member.id))->user_name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  testing::TempDir dir_;
  FixedClock clock_;
  RandomUuidGenerator ids_;
  crypto::ScryptPasswordHasher hasher_{10};
  TzdataZoneCatalog zones_;
  std::unique_ptr<Store> store_;
  IdentityService service_;
  TenantId acme_{"acme"};
  MappingRules rules_ = rules();
};

TEST_F(SyncApplyTest, FirstSyncCreatesLinkedUsersAndGroupsAndASecondPlanIsEmpty) {
  const auto snapshot = full(
      {person("ann", {"cn=sales,ou=groups"}), person("bob"), person("cat", {"cn=sales,ou=groups"})},
      "cookie-1");
  const Plan first = plan_for(snapshot);
  ASSERT_EQ(first.counts.creates, 3u);
  const auto result = run(first);
  EXPECT_TRUE(result.failures.empty());
  EXPECT_EQ(result.applied, first.ops.size());
  EXPECT_TRUE(result.cursor_stored);
  EXPECT_EQ(store_->read()->sync_cursor("corp"), "cookie-1");

  const auto ann = user_named("ann");
  ASSERT_TRUE(ann);
  EXPECT_EQ(ann->title, "Engineer");
  const auto link = store_->read()->find_link("corp", "anchor-ann");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->user, ann->id);
  EXPECT_FALSE(link->disabled_by_sync_at);
  EXPECT_EQ(store_->read()->list_links("corp").size(), 3u);
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"ann", "cat"}));
  const auto group = store_->read()->find_group_by_display_name(acme_, "Sales");
  ASSERT_TRUE(group);
  EXPECT_EQ(group->kind, GroupKind::team);

  // Every write is recorded as this sync run, from this directory.
  const auto records = store_->read()->changes_after(0, 1000);
  const auto from_sync = std::count_if(records.begin(), records.end(), [](const ChangeRecord& r) {
    return r.origin == Origin{OriginKind::directory_sync, "corp"} &&
           r.actor.kind == ActorKind::sync_run;
  });
  EXPECT_GE(from_sync, 4);

  // Unchanged directory: nothing to do, and applying that writes no change record.
  const Plan second = plan_for(snapshot);
  EXPECT_TRUE(second.ops.empty()) << to_table(second);
  const auto before = store_->read()->last_change_sequence();
  run(second);
  EXPECT_EQ(store_->read()->last_change_sequence(), before);
}

TEST_F(SyncApplyTest, ARefusedOperationIsUndoneAloneAndTheCursorIsNotAdvanced) {
  // An unlinked tenant user already has bob's address as primary email.
  UserWrite taken;
  taken.user.user_name = "someone";
  taken.user.emails = {{"bob@example.com", "work", true}};
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, taken));

  const auto snapshot = full({person("ann"), person("bob", {"sales"})}, "cookie-2");
  const Plan p = plan_for(snapshot);
  const auto result = run(p);
  ASSERT_EQ(result.failures.size(), 2u);  // bob's creation, then his membership
  EXPECT_EQ(result.failures[0].error.code, ErrorCode::email_taken);
  EXPECT_EQ(result.failures[0].user_name, "bob");
  EXPECT_EQ(result.failures[1].kind, OpKind::add_membership);
  EXPECT_TRUE(user_named("ann"));
  EXPECT_FALSE(user_named("bob"));
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-bob"));
  EXPECT_FALSE(result.cursor_stored);
  EXPECT_EQ(store_->read()->sync_cursor("corp"), "");
}

std::shared_ptr<const std::vector<RuleGroupMembers>> groups_of_rules(
    std::vector<RuleGroupMembers> groups) {
  return std::make_shared<const std::vector<RuleGroupMembers>>(std::move(groups));
}

TEST_F(SyncApplyTest, RuleGroupsAreStoredWithTheCursorOnlyAndOnlyWhenTheirDigestChanged) {
  const RuleGroupMembers admins{"cn=admins", 1, {"uid=ann"}};
  const RuleGroupMembers sales{"cn=sales", 2, {"uid=ann", "uid=bob"}};
  auto first = full({person("ann")}, "c1");
  first.rule_groups = groups_of_rules({admins, sales});
  ASSERT_TRUE(run(plan_for(first)).cursor_stored);
  EXPECT_EQ(store_->read()->rule_group_digests("corp"),
            (std::vector<RuleGroupDigest>{{"cn=admins", 1}, {"cn=sales", 2}}));
  EXPECT_EQ(store_->read()->find_rule_group("corp", "cn=sales"), sales);

  // The same digest is not written again (these members would show if it were); a changed one
  // is; a group no longer there is deleted.
  const RuleGroupMembers helpdesk{"cn=helpdesk", 3, {"uid=cat"}};
  auto second = full({person("ann")}, "c2");
  second.rule_groups = groups_of_rules({{"cn=admins", 1, {"uid=not-written"}}, helpdesk});
  ASSERT_TRUE(run(plan_for(second)).cursor_stored);
  EXPECT_EQ(store_->read()->rule_group_digests("corp"),
            (std::vector<RuleGroupDigest>{{"cn=admins", 1}, {"cn=helpdesk", 3}}));
  EXPECT_EQ(store_->read()->find_rule_group("corp", "cn=admins"), admins);
  EXPECT_EQ(store_->read()->find_rule_group("corp", "cn=helpdesk"), helpdesk);

  // A snapshot that did not read them (a persist batch) leaves them; so does an incomplete read.
  auto batch = full({person("ann")}, "c3");
  ASSERT_TRUE(run(plan_for(batch)).cursor_stored);
  auto incomplete = full({person("ann")}, "c4");
  incomplete.completeness = {false, "size_limit_exceeded"};
  incomplete.rule_groups = groups_of_rules({{"cn=admins", 9, {}}});
  EXPECT_FALSE(run(plan_for(incomplete)).cursor_stored);
  EXPECT_EQ(store_->read()->sync_cursor("corp"), "c3");
  EXPECT_EQ(store_->read()->rule_group_digests("corp"),
            (std::vector<RuleGroupDigest>{{"cn=admins", 1}, {"cn=helpdesk", 3}}));

  // A refused operation keeps the cursor, and with it the lists, where they were.
  UserWrite taken;
  taken.user.user_name = "someone";
  taken.user.emails = {{"bob@example.com", "work", true}};
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, taken));
  auto refused = full({person("ann"), person("bob")}, "c5");
  refused.rule_groups = groups_of_rules({{"cn=admins", 9, {}}});
  const auto result = run(plan_for(refused));
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_FALSE(result.cursor_stored);
  EXPECT_EQ(store_->read()->sync_cursor("corp"), "c3");
  EXPECT_EQ(store_->read()->rule_group_digests("corp"),
            (std::vector<RuleGroupDigest>{{"cn=admins", 1}, {"cn=helpdesk", 3}}));
}

TEST_F(SyncApplyTest, PagesCommitSeparatelyAndTheRunRecordCountsWhatIsCommitted) {
  std::vector<DirectoryEntry> people;
  for (int i = 0; i < 5; ++i) {
    people.push_back(person("user" + std::to_string(i)));
  }
  const Plan p = plan_for(full(people));
  SyncRun record;
  record.directory = "corp";
  record.started = clock_.now();
  record.planned = static_cast<std::int64_t>(p.ops.size());
  std::int64_t run_id = 0;
  {
    auto tx = store_->write();
    run_id = tx->insert_sync_run(record);
    tx->commit();
  }
  std::vector<std::size_t> pages;
  std::vector<std::int64_t> committed;
  ApplyOptions options;
  options.page_size = 2;
  options.run_id = run_id;
  options.after_page = [&](std::size_t applied) {
    pages.push_back(applied);
    // What another process sees after each page: the run's count matches the users.
    committed.push_back(store_->read()->find_sync_run(run_id)->applied);
    EXPECT_EQ(store_->read()->count_users(acme_), static_cast<std::int64_t>(applied));
  };
  run(p, options);
  EXPECT_EQ(pages, (std::vector<std::size_t>{2, 4, 5}));
  EXPECT_EQ(committed, (std::vector<std::int64_t>{2, 4, 5}));
}

TEST_F(SyncApplyTest, AnInterruptedApplyResumesWhereItsCommittedPagesEnded) {
  std::vector<DirectoryEntry> people;
  for (int i = 0; i < 5; ++i) {
    people.push_back(person("user" + std::to_string(i), {"sales"}));
  }
  const auto snapshot = full(people);
  const Plan p = plan_for(snapshot);
  ApplyOptions options;
  options.page_size = 3;
  options.after_page = [](std::size_t) { throw std::runtime_error("killed"); };
  EXPECT_THROW(run(p, options), std::runtime_error);
  EXPECT_EQ(store_->read()->count_users(acme_), 2);  // the group and two users committed

  // Planning again from the new state gives exactly the rest of the first plan.
  const Plan rest = plan_for(snapshot);
  ASSERT_EQ(rest.ops.size(), p.ops.size() - 3);
  for (std::size_t i = 0; i < rest.ops.size(); ++i) {
    EXPECT_EQ(rest.ops[i].kind, p.ops[i + 3].kind);
    EXPECT_EQ(rest.ops[i].anchor, p.ops[i + 3].anchor);
  }
  EXPECT_TRUE(run(rest).failures.empty());
  EXPECT_EQ(sales_members().size(), 5u);
}

TEST_F(SyncApplyTest, GoneUsersAreDisabledThenDeletedAfterRetentionAndRestoredIfTheyReturn) {
  run(plan_for(full({person("ann", {"sales"}), person("bob", {"sales"})})));
  const auto bob = *user_named("bob");

  // bob leaves the directory: disabled, link marked, memberships kept.
  Policy policy;
  policy.retention = 24h;
  const Plan gone = plan_for(full({person("ann", {"sales"})}), policy);
  ASSERT_EQ(gone.counts.disables, 1u);
  EXPECT_TRUE(run(gone).failures.empty());
  EXPECT_FALSE(user_named("bob")->active);
  EXPECT_EQ(store_->read()->find_link("corp", "anchor-bob")->disabled_by_sync_at, clock_.now());

  // He comes back within the retention: the same user, enabled again, still in Sales.
  clock_.at += 1h;
  const Plan back = plan_for(full({person("ann", {"sales"}), person("bob", {"sales"})}), policy);
  ASSERT_EQ(back.counts.restores, 1u);
  EXPECT_TRUE(run(back).failures.empty());
  const auto restored = *user_named("bob");
  EXPECT_EQ(restored.id, bob.id);
  EXPECT_TRUE(restored.active);
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-bob")->disabled_by_sync_at);
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"ann", "bob"}));

  // He leaves again and stays away past the retention: deleted, link and memberships gone.
  run(plan_for(full({person("ann", {"sales"})}), policy));
  clock_.at += 25h;
  const Plan later = plan_for(full({person("ann", {"sales"})}), policy);
  ASSERT_EQ(later.counts.deletes, 1u);
  EXPECT_TRUE(run(later).failures.empty());
  EXPECT_FALSE(user_named("bob"));
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-bob"));
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"ann"}));
}

TEST_F(SyncApplyTest, AUserChangedSinceThePlanIsNotOverwritten) {
  run(plan_for(full({person("ann")})));
  const Plan p = plan_for(full({person("ann", {}, "Director")}));
  ASSERT_EQ(p.counts.updates, 1u);
  // Someone edits ann between planning and applying.
  const auto ann = *user_named("ann");
  ASSERT_TRUE(service_.modify_user(
      system_principal(), acme_, ann.id,
      [](const User& current) -> std::optional<UserWrite> {
        UserWrite write{current, std::nullopt};
        write.user.nick_name = "Annie";
        return write;
      },
      std::nullopt));
  const auto result = run(p);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].error.code, ErrorCode::version_mismatch);
  EXPECT_EQ(user_named("ann")->nick_name, "Annie");
  EXPECT_EQ(user_named("ann")->title, "Engineer");
  // The next plan picks the change up from the fresh state and keeps the edit.
  EXPECT_TRUE(run(plan_for(full({person("ann", {}, "Director")}))).failures.empty());
  EXPECT_EQ(user_named("ann")->title, "Director");
  EXPECT_EQ(user_named("ann")->nick_name, "Annie");
}

TEST_F(SyncApplyTest, DroppingUnchangedUsersWhileReadingTheTenantPlansTheSame) {
  run(plan_for(full({person("ann", {"cn=Sales,o=x"}), person("bob"), person("cid"),
                     person("dee", {"cn=Sales,o=x"}), person("fay")})));
  // Unlinked tenant users: one an entry adopts, one no entry names.
  UserWrite unlinked;
  unlinked.user.user_name = "eve";
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, unlinked));
  unlinked.user.user_name = "zed";
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, unlinked));
  // bob's title changes, cid leaves Sales for... joins Sales, dee leaves it, fay is gone, and
  // the tenant edited ann outside the directory's attributes (still unchanged for the plan).
  {
    auto tx = store_->write();
    auto ann = *tx->find_user(acme_, store_->read()->find_link("corp", "anchor-ann")->user);
    ann.nick_name = "Annie";
    const auto version = ann.version++;
    ASSERT_TRUE(tx->update_user(ann, version));
    tx->commit();
  }
  const auto second = full({person("ann", {"cn=Sales,o=x"}), person("bob", {}, "Director"),
                            person("cid", {"cn=Sales,o=x"}), person("dee"), person("eve")});
  const Plan whole = plan_for(second);

  auto mapped = map_users(second, rules_);
  const auto view =
      load_tenant_view_dropping_unchanged(*store_->read(), second, mapped, rules_, acme_, {});
  std::vector<std::string> left;
  for (const auto& desired : mapped.users) {
    left.push_back(desired.user.user_name);
  }
  EXPECT_EQ(left, (std::vector<std::string>{"bob", "cid", "dee", "eve"})) << "ann is unchanged";
  ASSERT_EQ(view.unlinked_with_names.size(), 1u) << "zed is named by no entry";
  EXPECT_EQ(view.unlinked_with_names[0].user_name, "eve");
  EXPECT_EQ(view.linked_total, 5u) << "thresholds still count every linked user";
  const Plan lean = plan(std::move(mapped), second, view, rules_, {}, clock_.now());
  EXPECT_EQ(to_json(lean), to_json(whole));
  EXPECT_EQ(lean.counts.read, 5u);
  EXPECT_EQ(lean.counts.updates, 2u);   // bob, eve adopted
  EXPECT_EQ(lean.counts.disables, 1u);  // fay
  EXPECT_EQ(lean.counts.memberships, 2u);

  // Once applied, a re-read drops every user and plans nothing.
  ASSERT_TRUE(run(lean).failures.empty());
  auto again = map_users(second, rules_);
  const auto settled =
      load_tenant_view_dropping_unchanged(*store_->read(), second, again, rules_, acme_, {});
  EXPECT_TRUE(again.users.empty());
  ASSERT_EQ(settled.linked.size(), 1u) << "only fay, disabled by sync, stays in view";
  EXPECT_TRUE(plan(std::move(again), second, settled, rules_, {}, clock_.now()).ops.empty());
}

TEST_F(SyncApplyTest, AnUnlinkedUserIsAdoptedUnlessAnotherDirectoryOwnsIt) {
  UserWrite existing;
  existing.user.user_name = "ann";
  existing.user.nick_name = "kept";
  const auto ann = *service_.create_user(system_principal(), acme_, existing);
  existing.user.user_name = "bob";
  const auto bob = *service_.create_user(system_principal(), acme_, existing);
  {
    auto tx = store_->write();
    tx->put_link(DirectoryLink{"hr", "hr-bob", acme_, bob.id, std::nullopt});
    tx->commit();
  }
  const Plan p = plan_for(full({person("ann"), person("bob")}), {}, {"hr"});
  ASSERT_EQ(p.counts.updates, 1u);  // ann adopted
  ASSERT_EQ(p.counts.creates, 1u);  // bob would be a new user: his name is taken by hr's bob
  const auto result = run(p);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].error.code, ErrorCode::user_name_taken);
  EXPECT_EQ(store_->read()->find_link("corp", "anchor-ann")->user, ann.id);
  EXPECT_EQ(user_named("ann")->nick_name, "kept");
  EXPECT_EQ(user_named("ann")->title, "Engineer");
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-bob"));
}

TEST_F(SyncApplyTest, AnIncrementalReadLoadsAndChangesOnlyWhatItMentions) {
  run(plan_for(full({person("ann"), person("bob"), person("cat")}, "c1")));

  Snapshot delta;
  delta.directory = "corp";
  delta.kind = Snapshot::Kind::incremental;
  delta.users = {person("ann", {}, "Director"), person("dan")};
  delta.deleted_anchors = {"anchor-cat"};
  delta.cursor = "c2";
  delta.completeness = {true, ""};
  const auto mapped = map_users(delta, rules_);
  const auto view = load_tenant_view(*store_->read(), delta, mapped, rules_, acme_, {});
  ASSERT_EQ(view.linked.size(), 2u);  // ann and cat, not bob
  EXPECT_EQ(view.linked_total, 3u);

  const Plan p = plan(mapped, delta, view, rules_, Policy{}, clock_.now());
  EXPECT_EQ(p.counts.updates, 1u);
  EXPECT_EQ(p.counts.creates, 1u);
  EXPECT_EQ(p.counts.disables, 1u);
  EXPECT_TRUE(run(p).failures.empty());
  EXPECT_EQ(user_named("ann")->title, "Director");
  EXPECT_TRUE(user_named("bob")->active);
  EXPECT_FALSE(user_named("cat")->active);
  EXPECT_TRUE(user_named("dan"));
  EXPECT_EQ(store_->read()->sync_cursor("corp"), "c2");

  // With a present set instead: whoever is linked and not in it is gone.
  Snapshot present;
  present.directory = "corp";
  present.kind = Snapshot::Kind::incremental;
  present.present_anchors = std::vector<std::string>{"anchor-ann", "anchor-cat", "anchor-dan"};
  present.completeness = {true, ""};
  const auto none = map_users(present, rules_);
  const auto view2 = load_tenant_view(*store_->read(), present, none, rules_, acme_, {});
  const Plan p2 = plan(none, present, view2, rules_, Policy{}, clock_.now());
  ASSERT_EQ(p2.counts.disables, 1u);
  EXPECT_EQ(p2.ops[0].user_name, "bob");

  // An incomplete incremental read disables no one.
  present.completeness = {false, "connection lost"};
  const Plan p3 = plan(none, present, view2, rules_, Policy{}, clock_.now());
  EXPECT_EQ(p3.counts.disables, 0u);
}

TEST_F(SyncApplyTest, AnAccountReCreatedInTheDirectoryKeepsItsTenantUser) {
  run(plan_for(full({person("ann", {"sales"}), person("bob")})));
  const auto ann = *user_named("ann");

  // The directory admin deletes ann and creates her again: same uid, new entryUUID.
  DirectoryEntry again = person("ann", {"sales"}, "Director");
  again.anchor = "anchor-ann-2";
  const Plan p = plan_for(full({again, person("bob")}));
  EXPECT_EQ(p.counts.creates, 0u) << to_table(p);
  EXPECT_EQ(p.counts.disables, 0u);
  ASSERT_EQ(p.ops.size(), 1u) << to_table(p);
  EXPECT_EQ(p.ops[0].kind, OpKind::reanchor_user);
  EXPECT_EQ(p.ops[0].previous_anchor, "anchor-ann");
  EXPECT_TRUE(run(p).failures.empty());

  const auto after = *user_named("ann");
  EXPECT_EQ(after.id, ann.id);
  EXPECT_EQ(after.title, "Director");
  EXPECT_EQ(store_->read()->find_link("corp", "anchor-ann-2")->user, ann.id);
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-ann"));
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"ann"}));
  EXPECT_TRUE(plan_for(full({again, person("bob")})).ops.empty());

  // With an incomplete read the old object may still exist: no take-over, nothing disabled.
  DirectoryEntry third = person("ann");
  third.anchor = "anchor-ann-3";
  auto partial = full({third});
  partial.completeness = {false, "size limit"};
  const Plan careful = plan_for(partial);
  EXPECT_EQ(careful.counts.disables, 0u);
  for (const auto& op : careful.ops) {
    EXPECT_NE(op.kind, OpKind::reanchor_user);
  }
}

// ---- creates applied as one batch per page ---------------------------------------------------

// Refuses the creation of one userName (after a write of its own, which must be undone with it).
class RefusingInterceptor final : public ChangeInterceptor {
 public:
  explicit RefusingInterceptor(std::string refused) : refused_(std::move(refused)) {}
  std::optional<Error> before_write(StoreWriter& tx, const Principal&,
                                    const PendingChange& change) override {
    if (change.after != nullptr && change.kind == ChangeKind::created) {
      tx.set_sync_cursor("seen-" + change.after->user_name, "yes");
      if (change.after->user_name == refused_) {
        return make_error(ErrorCode::owned_by_directory, "refused by the interceptor");
      }
    }
    // Also refuses any group change that adds the user of `refused_groups_for`.
    for (const auto& member : change.members_added) {
      const auto user = tx.find_user(change.tenant, UserId(member.id));
      if (user && user->user_name == refused_groups_for) {
        return make_error(ErrorCode::owned_by_directory, "membership refused");
      }
    }
    return std::nullopt;
  }

  std::string refused_groups_for;

 private:
  std::string refused_;
};

// The index of the create op for `user_name` in `p`.
std::size_t create_of(const Plan& p, const std::string& user_name) {
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    if (p.ops[i].kind == OpKind::create_user && p.ops[i].user_name == user_name) {
      return i;
    }
  }
  ADD_FAILURE() << "no create for " << user_name;
  return 0;
}

// `p` with a copy of the create of `user_name` inserted right after it, under another anchor,
// with `change` applied to the copy's user: a page the planner would not make, as a store or
// another writer can still make the batch's validation matter.
Plan with_second_create(Plan p, const std::string& user_name, const std::string& anchor,
                        const std::function<void(User&)>& change = {}) {
  const std::size_t at = create_of(p, user_name);
  Op copy = p.ops[at];
  copy.anchor = anchor;
  auto user = std::make_shared<User>(*copy.desired);
  if (change) {
    change(*user);
  }
  copy.desired = std::move(user);
  p.ops.insert(p.ops.begin() + static_cast<std::ptrdiff_t>(at) + 1, std::move(copy));
  return p;
}

class BatchedApplyTest : public SyncApplyTest {
 protected:
  // The change records written since `after`, as (kind, user name) of each created user.
  std::vector<std::string> created_since(ChangeSequence after) {
    std::vector<std::string> names;
    auto reader = store_->read();
    for (const auto& record : reader->changes_after(after, 10'000)) {
      if (record.resource_type == ResourceType::user && record.kind == ChangeKind::created) {
        names.push_back(reader->find_user(acme_, UserId(record.resource_id))->user_name);
      }
    }
    return names;
  }

  // Each failure as "index kind code".
  static std::vector<std::string> failures_of(const ApplyResult& result) {
    std::vector<std::string> out;
    for (const auto& failure : result.failures) {
      out.push_back(std::to_string(failure.index) + " " + std::string(to_string(failure.kind)) +
                    " " + std::string(to_string(failure.error.code)));
    }
    return out;
  }
};

TEST_F(BatchedApplyTest, ADuplicateUserNameInsideThePageFailsAloneAndTheRestCommit) {
  const Plan planned = plan_for(full({person("ann"), person("bob", {"sales"}), person("cat")}));
  const Plan p = with_second_create(planned, "bob", "anchor-bob-twin",
                                    [](User& user) { user.user_name = "BOB"; });
  const std::size_t twin = create_of(p, "bob") + 1;
  const auto before = store_->read()->last_change_sequence();
  const auto result = run(p);
  EXPECT_EQ(failures_of(result),
            (std::vector<std::string>{std::to_string(twin) + " createUser user_name_taken"}));
  EXPECT_EQ(result.failures[0].anchor, "anchor-bob-twin");
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-bob-twin"));
  EXPECT_EQ(store_->read()->find_link("corp", "anchor-bob")->user, user_named("bob")->id);
  auto created = created_since(before);
  std::sort(created.begin(), created.end());
  EXPECT_EQ(created, (std::vector<std::string>{"ann", "bob", "cat"}))
      << "one change record per created user";
  EXPECT_EQ(store_->read()->count_users(acme_), 3);
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"bob"}));
  EXPECT_FALSE(result.cursor_stored);
}

TEST_F(BatchedApplyTest, DuplicatesAgainstTheStoreAndASecondAccountOwnerFailAlone) {
  UserWrite taken;
  taken.user.user_name = "someone";
  taken.user.emails = {{"bob@example.com", "work", true}};
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, taken));
  const Plan planned = plan_for(full({person("ann"), person("bob"), person("cat"), person("dan")}));
  // ann and cat both arrive as Account Owner candidates: the first one in plan order wins.
  Plan p = planned;
  for (auto& op : p.ops) {
    if (op.user_name == "ann" || op.user_name == "cat") {
      auto user = std::make_shared<User>(*op.desired);
      std::erase(user->profiles, default_profile_name(user->role));
      user->role = Role::account_owner;
      op.desired = std::move(user);
    }
  }
  const auto before = store_->read()->last_change_sequence();
  const auto result = run(p);
  EXPECT_EQ(failures_of(result),
            (std::vector<std::string>{
                std::to_string(create_of(p, "bob")) + " createUser email_taken",
                std::to_string(create_of(p, "cat")) + " createUser account_owner_exists"}));
  EXPECT_EQ(created_since(before), (std::vector<std::string>{"ann", "dan"}));
  EXPECT_EQ(store_->read()->find_account_owner(acme_)->user_name, "ann");
  EXPECT_EQ(store_->read()->list_links("corp").size(), 2U);
}

TEST_F(BatchedApplyTest, AnInterceptorRefusalFailsAloneWithNothingOfItsOwnLeft) {
  RefusingInterceptor interceptor("bob");
  IdentityService service({*store_, clock_, ids_, hasher_, zones_, &interceptor},
                          ProviderSettings{"Provider"}, {acme_settings()});
  const Plan p = plan_for(full({person("ann"), person("bob"), person("cat")}));
  const auto before = store_->read()->last_change_sequence();
  const auto result = apply(p, service, sync_principal("corp", 1, acme_), clock_.now(), {});
  EXPECT_EQ(failures_of(result), (std::vector<std::string>{std::to_string(create_of(p, "bob")) +
                                                           " createUser owned_by_directory"}));
  EXPECT_EQ(created_since(before), (std::vector<std::string>{"ann", "cat"}));
  EXPECT_FALSE(store_->read()->find_link("corp", "anchor-bob"));
  EXPECT_EQ(store_->read()->sync_cursor("seen-bob"), "");
  EXPECT_EQ(store_->read()->sync_cursor("seen-ann"), "yes");
}

TEST_F(BatchedApplyTest, BatchedAndOneByOneApplyLeaveTheSameState) {
  UserWrite taken;
  taken.user.user_name = "someone";
  taken.user.emails = {{"user2@example.com", "work", true}};
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, taken));
  std::vector<DirectoryEntry> people;
  for (int i = 0; i < 7; ++i) {
    people.push_back(person("user" + std::to_string(i), i % 2 == 0
                                                            ? std::vector<std::string>{"sales"}
                                                            : std::vector<std::string>{}));
  }
  const Plan p = with_second_create(plan_for(full(people)), "user4", "anchor-twin");

  // What a store holds after the apply, ids aside: links, user change records, and the members
  // the group change records added (one record per member one by one, per group and page in a
  // batch).
  const auto state_of = [](Store& store) {
    auto reader = store.read();
    std::vector<std::string> out;
    for (const auto& link : reader->list_links("corp")) {
      out.push_back(link.anchor + "=" + reader->find_user(link.tenant, link.user)->user_name);
    }
    std::vector<std::string> members_added;
    for (const auto& record : reader->changes_after(0, 10'000)) {
      if (record.resource_type == ResourceType::user) {
        out.push_back("user " + std::string(to_string(record.kind)) + " " +
                      reader->find_user(record.tenant, UserId(record.resource_id))->user_name);
        continue;
      }
      for (const auto& attribute : record.attributes) {
        if (attribute.path == "members" && attribute.after) {
          const auto id = attribute.after->substr(attribute.after->find(':') + 1);
          members_added.push_back(reader->find_user(record.tenant, UserId(id))->user_name);
        }
      }
    }
    std::sort(members_added.begin(), members_added.end());
    out.insert(out.end(), members_added.begin(), members_added.end());
    return out;
  };
  const auto group_records = [](Store& store) {
    std::size_t count = 0;
    for (const auto& record : store.read()->changes_after(0, 10'000)) {
      count += record.resource_type == ResourceType::group && record.kind == ChangeKind::updated;
    }
    return count;
  };
  ApplyOptions batched;
  batched.page_size = 4;
  const auto batched_result = run(p, batched);

  testing::TempDir other_dir;
  auto other = store::open_sqlite_store({.path = other_dir.file("idbridge.db")});
  IdentityService other_service({*other, clock_, ids_, hasher_, zones_},
                                ProviderSettings{"Provider"}, {acme_settings()});
  ASSERT_TRUE(other_service.ensure_tenant(acme_));
  ASSERT_TRUE(other_service.create_user(system_principal(), acme_, taken));
  ApplyOptions single = batched;
  single.one_by_one = true;
  const auto single_result =
      apply(p, other_service, sync_principal("corp", 1, acme_), clock_.now(), single);

  EXPECT_EQ(failures_of(batched_result), failures_of(single_result));
  EXPECT_EQ(failures_of(batched_result).size(), 3U)
      << "user2's email, then its membership, and user4's twin";
  EXPECT_EQ(state_of(*store_), state_of(*other));
  EXPECT_EQ(group_records(*other), 3U) << "user0, user4, user6 joined Sales one by one";
  EXPECT_EQ(group_records(*store_), 2U) << "one per page holding Sales memberships";
  EXPECT_LT(store_->read()->find_system_group(acme_)->version,
            other->read()->find_system_group(acme_)->version)
      << "one All Users version per batch, not per user";
}

TEST_F(BatchedApplyTest, AMembershipRefusedInAGroupsBatchFailsAloneAndTheOthersJoin) {
  RefusingInterceptor interceptor("nobody");
  interceptor.refused_groups_for = "bob";
  IdentityService service({*store_, clock_, ids_, hasher_, zones_, &interceptor},
                          ProviderSettings{"Provider"}, {acme_settings()});
  const Plan p = plan_for(
      full({person("ann", {"sales"}), person("bob", {"sales"}), person("cat", {"sales"})}));
  const auto result = apply(p, service, sync_principal("corp", 1, acme_), clock_.now(), {});
  ASSERT_EQ(result.failures.size(), 1U);
  EXPECT_EQ(result.failures[0].kind, OpKind::add_membership);
  EXPECT_EQ(result.failures[0].user_name, "bob");
  EXPECT_EQ(result.failures[0].error.code, ErrorCode::owned_by_directory);
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"ann", "cat"}));
  EXPECT_TRUE(user_named("bob")) << "only the membership was refused";
}

TEST_F(SyncApplyTest, AnUnchangedFullReadReadsNoUserAndWritesNothing) {
  const auto snapshot = full({person("ann", {"cn=sales,o=x"}), person("bob"), person("cat")}, "c1");
  ASSERT_TRUE(run(plan_for(snapshot)).failures.empty());
  for (const auto& link : store_->read()->list_links("corp")) {
    EXPECT_EQ(link.mapped_digest.size(), 32u) << link.anchor << ": written with the create";
    EXPECT_EQ(link.settled_version, store_->read()->find_user(acme_, link.user)->version);
  }
  // Every document now says "Tampered": a load that decoded them would plan three updates.
  tamper_with_documents("UPDATE users SET doc = json_set(doc, '$.title', 'Tampered')");
  ASSERT_EQ(user_named("ann")->title, "Tampered");

  const auto before = store_->read()->last_change_sequence();
  const auto links_before = store_->read()->list_links("corp");
  const auto lean = lean_plan_for(snapshot);
  EXPECT_EQ(lean.compared, 0u) << "every user was dropped by its link, unread";
  EXPECT_TRUE(lean.view.linked.empty());
  EXPECT_TRUE(lean.view.settled_links.empty());
  EXPECT_TRUE(lean.plan.ops.empty()) << to_table(lean.plan);
  ASSERT_TRUE(run(lean.plan).failures.empty());
  EXPECT_EQ(store_->read()->last_change_sequence(), before);
  EXPECT_EQ(store_->read()->list_links("corp"), links_before);
  // The whole path (every user read) does see the documents: the lean one did not read them.
  EXPECT_EQ(plan_for(snapshot).counts.updates, 3u);
}

TEST_F(SyncApplyTest, AUserChangedThroughScimSinceTheLastSyncIsComparedAgain) {
  const auto snapshot = full({person("ann", {"cn=sales,o=x"}), person("bob"), person("cat")}, "c1");
  ASSERT_TRUE(run(plan_for(snapshot)).failures.empty());
  const auto edit = [&](const std::string& name, const std::function<void(User&)>& change) {
    ASSERT_TRUE(service_.modify_user(
        system_principal(), acme_, user_named(name)->id,
        [&](const User& current) -> std::optional<UserWrite> {
          UserWrite write{current, std::nullopt};
          change(write.user);
          return write;
        },
        std::nullopt));
  };
  // A directory-owned attribute (corrected), one the tenant owns (kept, and the link settled),
  // and a rule-managed membership removed through SCIM (no new user version: still restored).
  edit("ann", [](User& u) { u.title = "Changed in SCIM"; });
  edit("bob", [](User& u) { u.nick_name = "Bobby"; });
  {
    const auto sales = *store_->read()->find_group_by_display_name(acme_, "Sales");
    MembershipChange change;
    change.remove.push_back(MemberRef{MemberType::user, user_named("ann")->id.str()});
    ASSERT_TRUE(service_.change_members(system_principal(), acme_, sales.id, change, std::nullopt));
  }
  const auto lean = lean_plan_for(snapshot);
  EXPECT_EQ(to_json(lean.plan), to_json(plan_for(snapshot)));
  EXPECT_EQ(lean.plan.counts.updates, 1u) << to_table(lean.plan);
  EXPECT_EQ(lean.plan.counts.memberships, 1u);
  ASSERT_EQ(lean.view.settled_links.size(), 1u);
  EXPECT_EQ(lean.view.settled_links[0].anchor, "anchor-bob");
  ASSERT_TRUE(run(lean.plan).failures.empty());
  EXPECT_EQ(user_named("ann")->title, "Engineer");
  EXPECT_EQ(sales_members(), (std::vector<std::string>{"ann"}));
  EXPECT_EQ(user_named("bob")->nick_name, "Bobby");
  const auto bob_link = *store_->read()->find_link("corp", "anchor-bob");
  EXPECT_EQ(bob_link.settled_version, user_named("bob")->version);

  // Settled again: nothing is compared, nothing planned.
  const auto again = lean_plan_for(snapshot);
  EXPECT_EQ(again.compared, 0u);
  EXPECT_TRUE(again.plan.ops.empty()) << to_table(again.plan);
  EXPECT_TRUE(again.view.settled_links.empty());
}

TEST_F(SyncApplyTest, AChangedEntryOrAChangedRuleIsComparedAgain) {
  const auto snapshot = full({person("ann"), person("bob"), person("cat")}, "c1");
  ASSERT_TRUE(run(plan_for(snapshot)).failures.empty());

  // One entry changed: that one user is compared and updated.
  const auto changed = full({person("ann"), person("bob", {}, "Director"), person("cat")}, "c2");
  const auto one = lean_plan_for(changed);
  EXPECT_EQ(one.compared, 1u);
  EXPECT_EQ(one.plan.counts.updates, 1u);
  ASSERT_TRUE(run(one.plan).failures.empty());
  EXPECT_EQ(lean_plan_for(changed).compared, 0u) << "the update stored bob's new digest";

  // A rule that changes no user still changes every digest: all are compared (and settled)...
  rules_.profiles.push_back({"cn=nobody,o=x", "Auditors"});
  const auto recompared = lean_plan_for(changed);
  EXPECT_EQ(recompared.view.settled_links.size(), 3u);
  EXPECT_TRUE(recompared.plan.ops.empty()) << to_table(recompared.plan);
  ASSERT_TRUE(run(recompared.plan).failures.empty());
  EXPECT_EQ(lean_plan_for(changed).view.settled_links.size(), 0u);
  // ...and a rule that changes users plans each of them, exactly as the whole path does.
  rules_.attributes.push_back({"nickName", "{givenName}-{uid}"});
  const auto everyone = lean_plan_for(changed);
  EXPECT_EQ(everyone.compared, 3u);
  EXPECT_EQ(everyone.plan.counts.updates, 3u);
  EXPECT_EQ(to_json(everyone.plan), to_json(plan_for(changed)));
}

TEST_F(SyncApplyTest, LinksWithoutADigestAreComparedInFullAndThenSettled) {
  const auto snapshot = full({person("ann"), person("bob")}, "c1");
  ASSERT_TRUE(run(plan_for(snapshot)).failures.empty());
  // Links as schema 4 left them: no digest, no version.
  {
    auto tx = store_->write();
    for (auto link : tx->list_links("corp")) {
      link.mapped_digest.clear();
      link.settled_version = 0;
      tx->put_link(link);
    }
    tx->commit();
  }
  tamper_with_documents(
      "UPDATE users SET doc = json_set(doc, '$.title', 'Tampered') WHERE user_name = 'ann'");
  const auto first = lean_plan_for(snapshot);
  EXPECT_EQ(first.compared, 1u) << "ann's document was read: it differs";
  EXPECT_EQ(first.plan.counts.updates, 1u);
  ASSERT_EQ(first.view.settled_links.size(), 1u);
  EXPECT_EQ(first.view.settled_links[0].anchor, "anchor-bob");
  ASSERT_TRUE(run(first.plan).failures.empty());
  EXPECT_EQ(user_named("ann")->title, "Engineer");
  for (const auto& link : store_->read()->list_links("corp")) {
    EXPECT_FALSE(link.mapped_digest.empty()) << link.anchor;
  }
  const auto second = lean_plan_for(snapshot);
  EXPECT_EQ(second.compared, 0u);
  EXPECT_TRUE(second.plan.ops.empty());
}

TEST_F(SyncApplyTest, SettledUsersAreLeftOutAsTheyAreMappedAndNeverRead) {
  ASSERT_TRUE(
      run(plan_for(full({person("ann"), person("bob"), person("cat")}, "c1"))).failures.empty());
  const auto settled = SettledUsers::load(*store_->read(), "corp", rules_, acme_);
  EXPECT_EQ(settled.size(), 3u);
  const auto map_leaving_out = [&](const Snapshot& snapshot) {
    UserMapper mapper(rules_);
    mapper.leave_out_settled([&](const DesiredUser& d) { return settled.settled(d); });
    for (const auto& entry : snapshot.users) {
      mapper.add(entry);
    }
    return std::move(mapper).finish();
  };
  // Documents edited behind the store's back: only a user that is read would show it.
  tamper_with_documents("UPDATE users SET doc = json_set(doc, '$.nickName', 'Tampered')");
  rules_.attributes.push_back({"nickName", "{uid}"});
  const auto with_nick = SettledUsers::load(*store_->read(), "corp", rules_, acme_);
  EXPECT_EQ(with_nick.size(), 3u) << "links and versions alone: the rules are in the digest";
  rules_.attributes.pop_back();

  const auto snapshot = full({person("ann"), person("bob", {}, "Director"), person("cat")}, "c2");
  auto mapped = map_leaving_out(snapshot);
  ASSERT_EQ(mapped.users.size(), 1u);
  EXPECT_EQ(mapped.users[0].anchor, "anchor-bob");
  EXPECT_EQ(mapped.settled_anchors, (std::vector<std::string>{"anchor-ann", "anchor-cat"}));
  const auto view =
      load_tenant_view_dropping_unchanged(*store_->read(), snapshot, mapped, rules_, acme_, {});
  ASSERT_EQ(view.linked.size(), 1u) << "bob only: ann and cat were not read";
  const Plan lean = plan(std::move(mapped), snapshot, view, rules_, {}, clock_.now());
  EXPECT_EQ(lean.counts.updates, 1u) << to_table(lean);
  EXPECT_EQ(lean.counts.disables, 0u) << "left-out users are present";

  // A settled entry whose userName another entry maps too is reported with it, as before.
  DirectoryEntry twin = person("ann");
  twin.anchor = "anchor-twin";
  const auto twins = full({person("ann"), person("bob"), person("cat"), twin}, "c3");
  const auto left = map_leaving_out(twins);
  const auto whole = map_users(twins, rules_);
  EXPECT_EQ(left.settled_anchors, (std::vector<std::string>{"anchor-bob", "anchor-cat"}))
      << "not ann, mapped twice";
  ASSERT_EQ(left.problems.size(), 2u);
  ASSERT_EQ(whole.problems.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(left.problems[i].anchor, whole.problems[i].anchor);
    EXPECT_EQ(left.problems[i].message, whole.problems[i].message);
  }
}

TEST_F(SyncApplyTest, AViewGivenTheSettledLinksFindsTheFewLeftByLookupAsTheScanWould) {
  std::vector<DirectoryEntry> entries;
  for (int i = 0; i < 28; ++i) {
    entries.push_back(person("u" + std::to_string(100 + i)));
  }
  auto first = entries;
  first.push_back(person("fay"));
  ASSERT_TRUE(run(plan_for(full(first, "c1"))).failures.empty());
  UserWrite unlinked;
  unlinked.user.user_name = "eve";
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, unlinked));
  unlinked.user.user_name = "zed";
  ASSERT_TRUE(service_.create_user(system_principal(), acme_, unlinked));
  {  // the tenant edits u100 outside the directory's attributes: unchanged, but not settled
    auto tx = store_->write();
    auto user = *tx->find_user(acme_, store_->read()->find_link("corp", "anchor-u100")->user);
    user.nick_name = "Nick";
    const auto version = user.version++;
    ASSERT_TRUE(tx->update_user(user, version));
    tx->commit();
  }
  // u101's title changes, fay is gone, a new entry eve adopts the unlinked eve.
  auto second_entries = entries;
  second_entries[1] = person("u101", {}, "Director");
  second_entries.push_back(person("eve"));
  const auto second = full(second_entries, "c2");
  const Plan whole = plan_for(second);

  const auto settled = SettledUsers::load(*store_->read(), "corp", rules_, acme_);
  EXPECT_EQ(settled.links().size(), 29u);
  EXPECT_EQ(settled.size(), 28u) << "every link but u100's, edited since";
  const auto map_leaving_out = [&] {
    UserMapper mapper(rules_);
    mapper.leave_out_settled([&](const DesiredUser& d) { return settled.settled(d); });
    for (const auto& entry : second.users) {
      mapper.add(entry);
    }
    return std::move(mapper).finish();
  };
  auto by_lookup = map_leaving_out();
  auto by_scan = map_leaving_out();
  ASSERT_EQ(by_lookup.settled_anchors.size(), 26u) << "all but u100, u101 and fay";
  ASSERT_EQ(by_lookup.users.size(), 3u) << "u100, u101 and eve";
  ASSERT_LE(29u - 26u + 3u, 29u / 4) << "few enough for the lookup path";

  const auto lookup_view = load_tenant_view_dropping_unchanged(*store_->read(), second, by_lookup,
                                                               rules_, acme_, {}, &settled);
  const auto scan_view =
      load_tenant_view_dropping_unchanged(*store_->read(), second, by_scan, rules_, acme_, {});
  const auto anchors = [](const TenantView& view) {
    std::vector<std::string> out;
    for (const auto& linked : view.linked) {
      out.push_back(linked.anchor);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(anchors(lookup_view), (std::vector<std::string>{"anchor-fay", "anchor-u101"}));
  EXPECT_EQ(anchors(lookup_view), anchors(scan_view));
  ASSERT_EQ(lookup_view.unlinked_with_names.size(), 1u) << "zed is named by no entry";
  EXPECT_EQ(lookup_view.unlinked_with_names[0].user_name, "eve");
  EXPECT_EQ(lookup_view.unlinked_with_names, scan_view.unlinked_with_names);
  EXPECT_EQ(lookup_view.linked_total, 29u);
  EXPECT_EQ(lookup_view.linked_total, scan_view.linked_total);
  ASSERT_EQ(lookup_view.settled_links.size(), 1u);
  EXPECT_EQ(lookup_view.settled_links[0].anchor, "anchor-u100") << "settled at its new version";
  EXPECT_EQ(lookup_view.settled_links, scan_view.settled_links);
  EXPECT_EQ(lookup_view.existing_groups, scan_view.existing_groups);

  const Plan lookup_plan =
      plan(std::move(by_lookup), second, lookup_view, rules_, {}, clock_.now());
  const Plan scan_plan = plan(std::move(by_scan), second, scan_view, rules_, {}, clock_.now());
  EXPECT_EQ(to_json(lookup_plan), to_json(scan_plan));
  EXPECT_EQ(to_json(lookup_plan), to_json(whole));
  EXPECT_EQ(lookup_plan.counts.updates, 2u) << to_table(lookup_plan);  // u101, eve adopted
  EXPECT_EQ(lookup_plan.counts.disables, 1u);                          // fay

  // Once applied, the next read leaves every entry out and the lookup path reads no user.
  ASSERT_TRUE(run(lookup_plan).failures.empty());
  const auto resettled = SettledUsers::load(*store_->read(), "corp", rules_, acme_);
  UserMapper mapper(rules_);
  mapper.leave_out_settled([&](const DesiredUser& d) { return resettled.settled(d); });
  for (const auto& entry : second.users) {
    mapper.add(entry);
  }
  auto again = std::move(mapper).finish();
  EXPECT_TRUE(again.users.empty());
  const auto quiet = load_tenant_view_dropping_unchanged(*store_->read(), second, again, rules_,
                                                         acme_, {}, &resettled);
  ASSERT_EQ(quiet.linked.size(), 1u) << "only fay, disabled by sync, stays in view";
  EXPECT_TRUE(plan(std::move(again), second, quiet, rules_, {}, clock_.now()).ops.empty());
}

}  // namespace
}  // namespace idbridge::core::sync
