// The pure sync planner and mapper: rules to desired users, and plans that are safe on
// incomplete reads, held over thresholds, idempotent on an unchanged directory, and restore a
// returning anchor as the same user.
#include "idbridge/core/sync/mapping.hpp"
#include "idbridge/core/sync/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace idbridge::core::sync {
namespace {

using namespace std::chrono_literals;

DirectoryEntry person(const std::string& anchor, const std::string& uid,
                      std::vector<std::string> groups = {}) {
  DirectoryEntry entry;
  entry.anchor = anchor;
  entry.dn = "uid=" + uid + ",ou=people,dc=example,dc=com";
  entry.attributes = {{"uid", {uid}},
                      {"givenName", {"Given " + uid}},
                      {"sn", {"Family"}},
                      {"mail", {uid + "@example.com"}},
                      {"title", {"Engineer"}}};
  entry.groups = std::move(groups);
  return entry;
}

MappingRules rules() {
  MappingRules r;
  r.attributes = {{"userName", "{uid}"},        {"name.givenName", "{givenName}"},
                  {"name.familyName", "{sn}"},  {"displayName", "{givenName} {sn}"},
                  {"emails.primary", "{mail}"}, {"title", "{title}"}};
  r.roles = {{"cn=admins,ou=groups,dc=example,dc=com", Role::administrator, 10},
             {"owners", Role::account_owner, 20},
             {"limited", Role::limited_access_user, 10}};
  r.profiles = {{"helpdesk", "helpdesk"}};
  r.groups = {{"sales", "Sales", GroupKind::team}};
  return r;
}

Snapshot snapshot(std::vector<DirectoryEntry> users, bool complete = true) {
  Snapshot s;
  s.directory = "corp";
  s.users = std::move(users);
  s.completeness = {complete, complete ? "" : "size limit exceeded"};
  return s;
}

const Timestamp now = Timestamp(std::chrono::milliseconds(1'800'000'000'000));

// Applies a plan's user ops to a tenant view, as the applier will, so a second plan can be
// checked against the result.
TenantView apply(const Plan& plan, TenantView view) {
  int next_id = static_cast<int>(view.linked.size()) + 1;
  for (const auto& op : plan.ops) {
    if (op.kind == OpKind::create_group) {
      view.existing_groups.push_back(op.group);
    }
    if (op.kind == OpKind::create_user) {
      LinkedUser linked{*op.desired, op.anchor, std::nullopt, {}};
      linked.user.id = UserId("u" + std::to_string(next_id++));
      view.linked.push_back(linked);
    }
    auto it = std::find_if(view.linked.begin(), view.linked.end(),
                           [&](const LinkedUser& l) { return l.anchor == op.anchor; });
    if (it == view.linked.end()) {
      continue;
    }
    switch (op.kind) {
      case OpKind::update_user:
      case OpKind::restore_user:
        it->user = *op.desired;
        it->disabled_by_sync_at.reset();
        break;
      case OpKind::disable_user:
        it->user = *op.desired;
        it->disabled_by_sync_at = now;
        break;
      case OpKind::add_membership:
        it->tenant_groups.push_back(op.group);
        std::sort(it->tenant_groups.begin(), it->tenant_groups.end());
        break;
      case OpKind::remove_membership: std::erase(it->tenant_groups, op.group); break;
      case OpKind::delete_user: view.linked.erase(it); break;
      default: break;
    }
  }
  return view;
}

Plan plan_for(const Snapshot& s, const TenantView& view, const MappingRules& r = rules(),
              const Policy& policy = {}, Timestamp at = now) {
  return plan(map_users(s, r), s, view, r, policy, at);
}

std::size_t count(const Plan& p, OpKind kind) {
  return static_cast<std::size_t>(
      std::count_if(p.ops.begin(), p.ops.end(), [&](const Op& op) { return op.kind == kind; }));
}

TEST(SyncMapping, TemplatesExpandAndCollapseSpaces) {
  DirectoryEntry entry = person("a1", "ann");
  EXPECT_EQ(expand_template("{givenName} {sn}", entry), "Given ann Family");
  EXPECT_EQ(expand_template("{GIVENNAME}", entry), "Given ann") << "attribute names fold case";
  EXPECT_EQ(expand_template("{missing} {sn}", entry), "Family");
  EXPECT_EQ(expand_template("{{literal}} {uid}", entry), "{literal} ann");
}

TEST(SyncMapping, RolePrecedenceTiesAndTheSingleAccountOwner) {
  MappingRules r = rules();
  const auto mapped = map_users(
      snapshot({person("a1", "ann", {"cn=Admins,ou=groups,dc=example,dc=com"}),
                person("a2", "bob", {"cn=admins, ou=groups, dc=example, dc=com", "cn=limited,o=x"}),
                person("a3", "cid",
                       {"cn=owners,ou=groups,dc=example,dc=com",
                        "cn=admins,ou=groups,dc=example,dc=com"}),
                person("a4", "dee")}),
      r);
  ASSERT_EQ(mapped.users.size(), 4U);
  EXPECT_EQ(mapped.users[0].role, Role::administrator) << "DN match ignores case";
  EXPECT_FALSE(mapped.users[1].role.has_value()) << "admins and limited tie at precedence 10";
  EXPECT_EQ(mapped.users[2].role, Role::account_owner) << "exactly one owner candidate";
  EXPECT_EQ(mapped.users[3].role, Role::standard_user) << "no rule: the default role";
  ASSERT_EQ(mapped.problems.size(), 1U);
  EXPECT_NE(mapped.problems[0].message.find("disagree"), std::string::npos);

  const auto two_owners = map_users(
      snapshot({person("a1", "ann", {"cn=owners,o=x"}), person("a2", "bob", {"cn=owners,o=x"})}),
      r);
  EXPECT_EQ(two_owners.users[0].role, Role::standard_user);
  EXPECT_EQ(two_owners.users[1].role, Role::standard_user);
  EXPECT_NE(two_owners.problems.at(0).message.find("matches 2 users"), std::string::npos);
}

TEST(SyncMapping, DisabledStateProfilesGroupsAndSkippedEntries) {
  MappingRules r = rules();
  r.disabled.kind = DisabledRule::Kind::ad_account_disabled;
  DirectoryEntry disabled = person("a1", "ann", {"cn=helpdesk,o=x", "cn=Sales,o=x"});
  disabled.attributes["userAccountControl"] = {"514"};  // NORMAL_ACCOUNT | ACCOUNTDISABLE
  DirectoryEntry enabled = person("a2", "bob");
  enabled.attributes["userAccountControl"] = {"512"};
  DirectoryEntry nameless = person("a3", "cid");
  nameless.attributes.erase("uid");
  const auto mapped = map_users(snapshot({disabled, enabled, nameless}), r);
  ASSERT_EQ(mapped.users.size(), 2U);
  EXPECT_FALSE(mapped.users[0].user.active);
  EXPECT_EQ(mapped.users[0].profiles, std::vector<std::string>{"helpdesk"});
  EXPECT_EQ(mapped.users[0].tenant_groups, std::vector<std::string>{"Sales"});
  EXPECT_TRUE(mapped.users[1].user.active);
  ASSERT_EQ(mapped.problems.size(), 1U);
  EXPECT_EQ(mapped.problems[0].anchor, "a3");
}

TEST(SyncMapping, DuplicateUserNamesAreReportedNotGuessed) {
  DirectoryEntry twin = person("a2", "ANN");
  const auto mapped =
      map_users(snapshot({person("a1", "ann"), twin, person("a3", "bob")}), rules());
  ASSERT_EQ(mapped.users.size(), 1U);
  EXPECT_EQ(mapped.users[0].anchor, "a3");
  EXPECT_EQ(mapped.problems.size(), 2U);
}

TEST(SyncMapping, EntriesMappedOneByOneDecideTheAccountOwnerOverTheWholeRead) {
  MappingRules r = rules();
  r.roles.push_back({"bosses", Role::administrator, 20});  // ties with owners at 20
  DirectoryEntry nameless_owner = person("a0", "zed", {"cn=owners,o=x"});
  nameless_owner.attributes.erase("uid");
  const DirectoryEntry tied = person("a5", "eve", {"cn=owners,o=x", "cn=bosses,o=x"});
  const DirectoryEntry owner = person("a3", "cid", {"cn=owners,o=x"});

  // Two candidates (one without a userName still counts): nobody is Account Owner, and without
  // the owner rule eve's tie is gone.
  UserMapper two(r);
  for (const auto& entry : {owner, tied, nameless_owner, person("a1", "ann")}) {
    two.add(entry);
  }
  const auto none = std::move(two).finish();
  ASSERT_EQ(none.users.size(), 3u);
  EXPECT_EQ(none.users[0].anchor, "a1") << "sorted by anchor, whatever the read order";
  EXPECT_EQ(none.users[1].role, Role::standard_user);
  EXPECT_EQ(none.users[2].role, Role::administrator);
  ASSERT_EQ(none.problems.size(), 2u);
  EXPECT_NE(none.problems[0].message.find("matches 2 users"), std::string::npos);
  EXPECT_EQ(none.problems[1].anchor, "a0");

  // One candidate: cid is Account Owner, and eve's tie between owner and boss is reported.
  UserMapper one(r);
  for (const auto& entry : {tied, owner, person("a1", "ann")}) {
    one.add(entry);
  }
  const auto single = std::move(one).finish();
  ASSERT_EQ(single.users.size(), 3u);
  EXPECT_EQ(single.users[1].role, Role::account_owner);
  EXPECT_FALSE(single.users[2].role.has_value());
  ASSERT_EQ(single.problems.size(), 1u);
  EXPECT_EQ(single.problems[0].anchor, "a5");
  EXPECT_NE(single.problems[0].message.find("disagree"), std::string::npos);
  // map_users of the same entries is the same mapping.
  const auto whole = map_users(snapshot({tied, owner, person("a1", "ann")}), r);
  EXPECT_EQ(whole.users[1].role, Role::account_owner);
  EXPECT_EQ(whole.problems.size(), 1u);
}

TEST(SyncPlan, PlanningFromAMovedMappingIsThePlanOfTheWholeAndCreatesDeriveTheirChanges) {
  const MappingRules r = rules();
  const auto first = snapshot({person("a1", "ann", {"cn=sales,o=x"}), person("a2", "bob")});
  const TenantView empty{TenantId("acme"), {}, {}, {}, std::nullopt};
  const TenantView view = apply(plan(map_users(first, r), first, empty, r, {}, now), empty);
  DirectoryEntry promoted = person("a2", "bob");
  promoted.attributes["title"] = {"Director"};
  const auto second = snapshot({person("a1", "ann"), promoted, person("a3", "cid")});

  const auto mapped = map_users(second, r);
  const Plan whole = plan(mapped, second, view, r, {}, now);
  MappingResult moved = mapped;
  const Plan consumed = plan(std::move(moved), second, view, r, {}, now);
  EXPECT_TRUE(moved.users.empty()) << "each mapped user is released once planned";
  EXPECT_EQ(to_json(consumed), to_json(whole));
  EXPECT_EQ(to_table(consumed), to_table(whole));
  EXPECT_EQ(consumed.counts.creates, 1u);
  EXPECT_EQ(consumed.counts.updates, 1u);
  EXPECT_EQ(consumed.counts.memberships, 1u);

  const auto create = std::find_if(consumed.ops.begin(), consumed.ops.end(),
                                   [](const Op& op) { return op.kind == OpKind::create_user; });
  ASSERT_NE(create, consumed.ops.end());
  EXPECT_TRUE(create->changes.empty()) << "not held twice";
  const auto changes = changes_of(*create);
  EXPECT_EQ(changes, diff_users(nullptr, create->desired.get()));
  ASSERT_FALSE(changes.empty());
  EXPECT_NE(to_json(consumed).find(R"({"path":"userName","after":"cid"})"), std::string::npos);
  EXPECT_NE(to_table(consumed).find("    userName: - -> cid\n"), std::string::npos);
  const auto update = std::find_if(consumed.ops.begin(), consumed.ops.end(),
                                   [](const Op& op) { return op.kind == OpKind::update_user; });
  ASSERT_NE(update, consumed.ops.end());
  EXPECT_EQ(changes_of(*update), update->changes);

  // write_json's pieces make to_json; write_table writes to_table.
  std::string pieces;
  std::size_t count_of_pieces = 0;
  write_json(consumed, [&](std::string_view piece) {
    pieces += piece;
    ++count_of_pieces;
  });
  EXPECT_EQ(pieces, to_json(consumed));
  EXPECT_GT(count_of_pieces, consumed.ops.size()) << "one piece per operation and the rest";
  std::ostringstream table;
  write_table(consumed, table);
  EXPECT_EQ(table.str(), to_table(consumed));
}

TEST(SyncPlan, FirstRunCreatesUsersGroupsAndMembershipsThenAReRunIsEmpty) {
  const auto s = snapshot({person("a1", "ann", {"cn=sales,o=x"}), person("a2", "bob")});
  TenantView view;
  view.tenant = TenantId("acme");
  const Plan first = plan_for(s, view);
  EXPECT_EQ(first.counts.creates, 2U);
  EXPECT_EQ(count(first, OpKind::create_group), 1U);
  EXPECT_EQ(first.ops.front().kind, OpKind::create_group) << "groups come first";
  EXPECT_EQ(count(first, OpKind::add_membership), 1U);
  const auto created = std::find_if(first.ops.begin(), first.ops.end(),
                                    [](const Op& op) { return op.kind == OpKind::create_user; });
  EXPECT_EQ(created->desired->display_name, "Given ann Family");
  EXPECT_EQ(created->desired->emails.at(0).value, "ann@example.com");

  const TenantView after = apply(first, view);
  const Plan second = plan_for(s, after);
  EXPECT_TRUE(second.ops.empty()) << to_table(second);
  EXPECT_EQ(to_json(plan_for(s, after)), to_json(second)) << "the plan is deterministic";
}

TEST(SyncPlan, UpdatesOnlyDirectoryOwnedAttributesAndKeepsTenantOnes) {
  const auto s1 = snapshot({person("a1", "ann")});
  TenantView view;
  view = apply(plan_for(s1, view), view);
  view.linked[0].user.nick_name = "Annie";  // set in the tenant, not mapped from the directory
  view.linked[0].user.profiles.push_back("billing");
  std::sort(view.linked[0].user.profiles.begin(), view.linked[0].user.profiles.end());
  auto changed = person("a1", "ann");
  changed.attributes["title"] = {"Director"};
  const Plan p = plan_for(snapshot({changed}), view);
  ASSERT_EQ(p.ops.size(), 1U) << to_table(p);
  EXPECT_EQ(p.ops[0].kind, OpKind::update_user);
  ASSERT_EQ(p.ops[0].changes.size(), 1U);
  EXPECT_EQ(p.ops[0].changes[0].path, "title");
  EXPECT_EQ(p.ops[0].desired->nick_name, "Annie");
  EXPECT_NE(
      std::find(p.ops[0].desired->profiles.begin(), p.ops[0].desired->profiles.end(), "billing"),
      p.ops[0].desired->profiles.end());
}

TEST(SyncPlan, AttributesOwnedBySCIMAreSetOnCreateAndNeverUpdatedFromTheDirectory) {
  // Write-back authority gives title to SCIM (the Rocket.Chat failure: a sync re-applying an
  // attribute someone else owns).
  MappingRules r = rules();
  r.set_on_create_only = {"title"};
  const auto s1 = snapshot({person("a1", "ann")});
  TenantView view;
  const Plan first = plan_for(s1, view, r);
  ASSERT_EQ(count(first, OpKind::create_user), 1U);
  const auto created = std::find_if(first.ops.begin(), first.ops.end(),
                                    [](const Op& op) { return op.kind == OpKind::create_user; });
  EXPECT_EQ(created->desired->title, "Engineer") << "a new user takes the directory's value";
  view = apply(first, view);
  view.linked[0].user.title = "Staff Engineer";  // set over SCIM since
  auto changed = person("a1", "ann");
  changed.attributes["title"] = {"Director"};
  changed.attributes["sn"] = {"Smith"};
  const Plan p = plan_for(snapshot({changed}), view, r);
  ASSERT_EQ(p.ops.size(), 1U) << to_table(p);
  EXPECT_EQ(p.ops[0].desired->title, "Staff Engineer");
  EXPECT_EQ(p.ops[0].desired->name.family_name, "Smith") << "directory-owned ones still follow";
  for (const auto& change : p.ops[0].changes) {
    EXPECT_NE(change.path, "title");
  }
}

TEST(SyncPlan, ADirectoryEditOfAnAttributeSCIMOwnsIsCorrectedNotTaken) {
  // SCIM owns title and write-back may modify the entry: the owner wins, so an entry holding
  // another value gets the tenant's back, and the plan says which value the directory loses.
  MappingRules r = rules();
  r.set_on_create_only = {"title"};
  r.corrected_in_directory = {"title"};
  TenantView view = apply(plan_for(snapshot({person("a1", "ann")}), TenantView{}, r), TenantView{});
  view.linked[0].user.title = "Staff Engineer";  // set over SCIM since
  auto edited = person("a1", "ann");
  edited.attributes["title"] = {"Director"};  // and edited in the directory
  const Plan p = plan_for(snapshot({edited}), view, r);
  ASSERT_EQ(p.ops.size(), 1U) << to_table(p);
  const Op& op = p.ops[0];
  EXPECT_EQ(op.kind, OpKind::correct_directory);
  EXPECT_EQ(op.user, view.linked[0].user.id);
  ASSERT_EQ(op.changes.size(), 1U);
  EXPECT_EQ(op.changes[0].path, "title");
  EXPECT_EQ(op.changes[0].before, std::optional<std::string>("Director"));
  EXPECT_EQ(op.changes[0].after, std::optional<std::string>("Staff Engineer"));
  EXPECT_EQ(p.counts.corrections, 1U);
  EXPECT_EQ(p.counts.updates, 0U) << "the tenant keeps its value";
  EXPECT_NE(to_table(p).find("directory corrections 1"), std::string::npos) << to_table(p);
  EXPECT_NE(to_json(p).find("\"correctDirectory\""), std::string::npos);

  // A directory change of a directory-owned attribute in the same read: both, update first (a
  // correction queues a write, which would make the update wait a run).
  edited.attributes["sn"] = {"Smith"};
  const Plan both = plan_for(snapshot({edited}), view, r);
  ASSERT_EQ(both.ops.size(), 2U) << to_table(both);
  EXPECT_EQ(both.ops[0].kind, OpKind::update_user);
  EXPECT_EQ(both.ops[1].kind, OpKind::correct_directory);

  // Equal values: nothing to correct. Without modify write-back: nothing either (read-only).
  auto same = person("a1", "ann");
  same.attributes["title"] = {"Staff Engineer"};
  EXPECT_TRUE(plan_for(snapshot({same}), view, r).ops.empty());
  MappingRules read_only = r;
  read_only.corrected_in_directory.clear();
  EXPECT_TRUE(plan_for(snapshot({person("a1", "ann")}), view, read_only).ops.empty());
}

TEST(SyncPlan, AnIncompleteReadNeverDisablesOrDeletes) {
  TenantView view;
  view = apply(plan_for(snapshot({person("a1", "ann"), person("a2", "bob")}), view), view);
  const Plan p = plan_for(snapshot({person("a1", "ann")}, false), view);
  EXPECT_EQ(p.counts.disables, 0U);
  EXPECT_EQ(p.counts.deletes, 0U);
  EXPECT_FALSE(p.completeness.complete);
  ASSERT_FALSE(p.diagnostics.empty());
  EXPECT_NE(p.diagnostics.back().message.find("nothing is disabled or deleted"), std::string::npos);
  EXPECT_NE(to_json(p).find("\"complete\":false"), std::string::npos);
}

TEST(SyncPlan, GoneUsersAreDisabledThenDeletedAfterRetentionOrRestoredIfTheyReturn) {
  TenantView view;
  const auto both = snapshot({person("a1", "ann", {"cn=sales,o=x"}), person("a2", "bob")});
  view = apply(plan_for(both, view), view);
  const UserId ann_id = view.linked[0].user.id;
  const Plan gone = plan_for(snapshot({person("a2", "bob")}), view);
  ASSERT_EQ(count(gone, OpKind::disable_user), 1U);
  EXPECT_FALSE(gone.ops.back().desired->active);
  view = apply(gone, view);

  Policy policy;
  policy.retention = 24h * 30;
  const Plan waiting = plan_for(snapshot({person("a2", "bob")}), view, rules(), policy, now + 24h);
  EXPECT_TRUE(waiting.ops.empty()) << "still inside the retention";
  const Plan expired =
      plan_for(snapshot({person("a2", "bob")}), view, rules(), policy, now + 24h * 31);
  EXPECT_EQ(count(expired, OpKind::delete_user), 1U);

  const Plan back = plan_for(both, view, rules(), policy, now + 24h);
  ASSERT_EQ(count(back, OpKind::restore_user), 1U);
  const auto restore = std::find_if(back.ops.begin(), back.ops.end(),
                                    [](const Op& op) { return op.kind == OpKind::restore_user; });
  EXPECT_EQ(restore->user, ann_id) << "the same tenant user returns, with its id";
  EXPECT_TRUE(restore->desired->active);
  EXPECT_EQ(count(back, OpKind::add_membership), 0U) << "memberships were kept while disabled";
}

TEST(SyncPlan, EntriesSkippedForMappingProblemsAreNotTreatedAsGone) {
  TenantView view;
  view = apply(plan_for(snapshot({person("a1", "ann")}), view), view);
  DirectoryEntry broken = person("a1", "ann");
  broken.attributes.erase("uid");
  const Plan p = plan_for(snapshot({broken}), view);
  EXPECT_EQ(p.counts.disables, 0U);
}

TEST(SyncPlan, DestructivePlansOverAThresholdAreHeld) {
  std::vector<DirectoryEntry> many;
  for (int i = 0; i < 200; ++i) {
    many.push_back(person("a" + std::to_string(1000 + i), "user" + std::to_string(i)));
  }
  TenantView view;
  view = apply(plan_for(snapshot(many), view), view);
  Policy policy;
  policy.disables = {50, 0.10, 100};
  const std::vector<DirectoryEntry> most(many.begin(), many.begin() + 175);
  const Plan by_fraction = plan_for(snapshot(most), view, rules(), policy);
  EXPECT_EQ(by_fraction.counts.disables, 25U);
  EXPECT_TRUE(by_fraction.held) << "25 of 200 is over 10%";
  const std::vector<DirectoryEntry> nearly_all(many.begin(), many.begin() + 190);
  EXPECT_FALSE(plan_for(snapshot(nearly_all), view, rules(), policy).held) << "10 of 200";
  policy.disables = {5, 1.0, 100};
  const Plan by_count = plan_for(snapshot(nearly_all), view, rules(), policy);
  EXPECT_TRUE(by_count.held);
  EXPECT_NE(by_count.hold_reasons.at(0).find("10 disables"), std::string::npos);
}

TEST(SyncPlan, AnUnlinkedTenantUserWithTheSameUserNameIsAdopted) {
  TenantView view;
  User existing;
  existing.id = UserId("scim-1");
  existing.user_name = "Ann";
  existing.title = "Old title";
  view.unlinked_with_names.push_back(existing);
  const Plan p = plan_for(snapshot({person("a1", "ann")}), view);
  ASSERT_EQ(count(p, OpKind::adopt_user), 1U);
  EXPECT_EQ(p.counts.creates, 0U);
  EXPECT_EQ(p.ops[0].user, UserId("scim-1"));
}

TEST(AttributesReadBy, TemplatesAndTheDisabledRuleWithoutRepeats) {
  MappingRules r;
  r.attributes = {{"userName", "{uid}"},
                  {"displayName", "{givenName} {sn}"},
                  {"name.givenName", "{GIVENNAME}"},
                  {"title", "{{literal}} {title}"}};
  r.disabled = {DisabledRule::Kind::attribute_equals, "employeeStatus", "gone"};
  EXPECT_EQ(attributes_read_by(r),
            (std::vector<std::string>{"uid", "givenName", "sn", "title", "employeeStatus"}));
  r.disabled = {DisabledRule::Kind::ad_account_disabled, "", ""};
  EXPECT_EQ(attributes_read_by(r).back(), "userAccountControl");
}

TEST(GroupsNamedBy, EveryRuleKindOnceComparedAsTheMapperCompares) {
  MappingRules r;
  r.roles = {{"cn=Admins, ou=groups,dc=example,dc=com", Role::administrator, 10},
             {"helpdesk", Role::limited_access_user, 1}};
  r.profiles = {{"HelpDesk", "helpdesk"}, {"cn=admins,ou=groups,dc=example,dc=com", "admin"}};
  r.groups = {{"sales", "Sales", GroupKind::team}};
  EXPECT_EQ(groups_named_by(r), (std::vector<std::string>{"cn=Admins, ou=groups,dc=example,dc=com",
                                                          "helpdesk", "sales"}));
  EXPECT_TRUE(groups_named_by(MappingRules{}).empty());
}

}  // namespace
}  // namespace idbridge::core::sync
