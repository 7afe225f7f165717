// The Store port's conformance suite, directory sync part: links, cursors and runs
// (core/sync/state.hpp), and nested write transactions, which the sync applier uses to keep each
// operation atomic inside one durable transaction per page.
#include "conformance.hpp"

#include <string>
#include <vector>

namespace idbridge::store_test {
namespace {

using core::ErrorCode;
using core::TenantId;
using core::UserId;
using core::sync::DirectoryLink;
using core::sync::RunKind;
using core::sync::RunOutcome;
using core::sync::SyncRun;

std::vector<std::string> anchors_of(const std::vector<DirectoryLink>& links) {
  std::vector<std::string> out;
  for (const auto& link : links) {
    out.push_back(link.anchor);
  }
  return out;
}

TEST_P(StoreConformance, LinksRoundTripAndListInAnchorOrderPerDirectory) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  insert(make_user("acme", "u3", "carol"));
  insert(make_user("globex", "u1", "dave"));
  auto disabled = make_link("ldap", "a-10", "acme", "u2");
  disabled.disabled_by_sync_at = at_millis(1'700'000'123'456);
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "c-30", "acme", "u3"));
    writer->put_link(disabled);
    writer->put_link(make_link("ldap", "B-20", "globex", "u1"));
    writer->put_link(make_link("ldap", "b-20", "acme", "u1"));
    // The same user in another directory is a separate link.
    writer->put_link(make_link("ad", "0a0b", "acme", "u1"));
    EXPECT_EQ(writer->find_link("ldap", "a-10"), disabled) << "the writer reads its own links";
    writer->commit();
  }
  auto reader = store().read();
  const auto links = reader->list_links("ldap");
  EXPECT_EQ(anchors_of(links), (std::vector<std::string>{"B-20", "a-10", "b-20", "c-30"}))
      << "ordered by anchor, byte-wise";
  ASSERT_EQ(links.size(), 4U);
  EXPECT_EQ(links[1], disabled);
  EXPECT_EQ(links[0], make_link("ldap", "B-20", "globex", "u1"));
  EXPECT_EQ(reader->list_links("ad"), (std::vector{make_link("ad", "0a0b", "acme", "u1")}));
  EXPECT_TRUE(reader->list_links("nowhere").empty());

  EXPECT_EQ(reader->find_link("ldap", "c-30"), make_link("ldap", "c-30", "acme", "u3"));
  EXPECT_FALSE(reader->find_link("ldap", "C-30").has_value()) << "anchors are exact";
  EXPECT_FALSE(reader->find_link("ad", "c-30").has_value());

  EXPECT_EQ(reader->find_link_of_user("ldap", acme, UserId("u1")),
            make_link("ldap", "b-20", "acme", "u1"));
  EXPECT_EQ(reader->find_link_of_user("ad", acme, UserId("u1")),
            make_link("ad", "0a0b", "acme", "u1"));
  EXPECT_EQ(reader->find_link_of_user("ldap", globex, UserId("u1")),
            make_link("ldap", "B-20", "globex", "u1"));
  EXPECT_FALSE(reader->find_link_of_user("ad", acme, UserId("u2")).has_value());
  EXPECT_FALSE(reader->find_link_of_user("ldap", globex, UserId("u2")).has_value());
}

TEST_P(StoreConformance, PutLinkReplacesTheLinkWithTheSameAnchor) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "a", "acme", "u1"));
    writer->commit();
  }
  auto moved = make_link("ldap", "a", "acme", "u2");
  moved.disabled_by_sync_at = at_millis(42);
  {
    auto writer = store().write();
    writer->put_link(moved);
    writer->commit();
  }
  {
    auto reader = store().read();
    EXPECT_EQ(reader->list_links("ldap"), (std::vector{moved}));
    EXPECT_FALSE(reader->find_link_of_user("ldap", acme, UserId("u1")).has_value());
    EXPECT_EQ(reader->find_link_of_user("ldap", acme, UserId("u2")), moved);
  }
  // Restored: the disabled time is cleared by putting the link without it.
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "a", "acme", "u2"));
    writer->commit();
  }
  EXPECT_EQ(store().read()->find_link("ldap", "a"), make_link("ldap", "a", "acme", "u2"));
}

TEST_P(StoreConformance, LinkDigestAndSettledVersionRoundTripAndAreSetAlone) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  auto settled = make_link("ldap", "a", "acme", "u1");
  settled.mapped_digest = "0123456789abcdef0123456789abcdef";
  settled.settled_version = 7;
  auto disabled = make_link("ldap", "b", "acme", "u2");
  disabled.disabled_by_sync_at = at_millis(42);
  {
    auto writer = store().write();
    writer->put_link(settled);
    writer->put_link(disabled);
    writer->commit();
  }
  EXPECT_EQ(store().read()->find_link("ldap", "a"), settled);
  EXPECT_EQ(store().read()->find_link_of_user("ldap", acme, UserId("u1")), settled);
  EXPECT_EQ(store().read()->list_links("ldap"), (std::vector{settled, disabled}));

  // set_link_settled changes the digest and version only, and only of the link naming that user.
  auto resettled = disabled;
  resettled.mapped_digest = "fedcba9876543210fedcba9876543210";
  resettled.settled_version = 3;
  resettled.disabled_by_sync_at.reset();  // not written by set_link_settled
  auto elsewhere = resettled;
  elsewhere.user = UserId("u1");
  auto gone = resettled;
  gone.anchor = "zz";
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->set_link_settled(resettled));
    EXPECT_FALSE(writer->set_link_settled(elsewhere)) << "the link names u2, not u1";
    EXPECT_FALSE(writer->set_link_settled(gone)) << "no such link";
    writer->commit();
  }
  auto expected = disabled;
  expected.mapped_digest = resettled.mapped_digest;
  expected.settled_version = 3;
  EXPECT_EQ(store().read()->find_link("ldap", "b"), expected);
  EXPECT_EQ(store().read()->find_link("ldap", "a"), settled);
  EXPECT_FALSE(store().read()->find_link("ldap", "zz").has_value());

  // A link put again without them forgets them.
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "a", "acme", "u1"));
    writer->commit();
  }
  EXPECT_EQ(store().read()->find_link("ldap", "a"), make_link("ldap", "a", "acme", "u1"));
}

TEST_P(StoreConformance, LinkStatesJudgeEachLinkAgainstItsUsersCurrentVersion) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  insert(make_user("acme", "u3", "carol"));
  insert(make_user("acme", "u4", "dan"));
  insert(make_user("acme", "u5", "erin"));
  insert(make_user("globex", "g1", "gina"));
  const std::string digest = "0123456789abcdef0123456789abcdef";
  const auto with_digest = [&](DirectoryLink link, core::ResourceVersion version) {
    link.mapped_digest = digest;
    link.settled_version = version;
    return link;
  };
  auto disabled = with_digest(make_link("ldap", "d", "acme", "u4"), 1);
  disabled.disabled_by_sync_at = at_millis(42);
  {
    auto writer = store().write();
    writer->put_link(with_digest(make_link("ldap", "a", "acme", "u1"), 1));    // settled
    writer->put_link(with_digest(make_link("ldap", "b", "acme", "u2"), 1));    // user edited since
    writer->put_link(make_link("ldap", "c", "acme", "u3"));                    // no digest
    writer->put_link(disabled);                                                // disabled by sync
    writer->put_link(with_digest(make_link("other", "e", "acme", "u5"), 1));   // another directory
    writer->put_link(with_digest(make_link("ldap", "g", "globex", "g1"), 1));  // another tenant
    auto bob = *writer->find_user(acme, UserId("u2"));
    bob.title = "Edited";
    bob.version = 2;
    ASSERT_TRUE(writer->update_user(bob, 1));
    writer->commit();
  }
  using core::sync::LinkState;
  const std::vector<LinkState> expected{{"a", UserId("u1"), digest, true},
                                        {"b", UserId("u2"), digest, false},
                                        {"c", UserId("u3"), "", false},
                                        {"d", UserId("u4"), digest, false}};
  auto reader = store().read();
  EXPECT_EQ(reader->link_states("ldap", acme), expected);
  // The port's own answer (every user's row key and every link), which a backend's must equal.
  EXPECT_EQ(reader->core::StoreReader::link_states("ldap", acme), expected);
  EXPECT_EQ(reader->link_states("ldap", TenantId("globex")),
            (std::vector<LinkState>{{"g", UserId("g1"), digest, true}}));
  EXPECT_TRUE(reader->link_states("nowhere", acme).empty());
}

TEST_P(StoreConformance, UserLinkedTwiceInOneDirectoryIsRefusedAndTheTransactionStaysUsable) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  insert(make_user("acme", "u3", "carol"));
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "a", "acme", "u1"));
    writer->put_link(make_link("ldap", "c", "acme", "u2"));
    writer->commit();
  }
  auto writer = store().write();
  writer->put_link(make_link("ldap", "d", "acme", "u3"));
  // A new anchor for a linked user, and an existing anchor moved onto a linked user.
  expect_violation(ErrorCode::user_name_taken,
                   [&] { writer->put_link(make_link("ldap", "b", "acme", "u1")); });
  expect_violation(ErrorCode::user_name_taken,
                   [&] { writer->put_link(make_link("ldap", "c", "acme", "u1")); });
  EXPECT_FALSE(writer->find_link("ldap", "b").has_value());
  EXPECT_EQ(writer->find_link("ldap", "c"), make_link("ldap", "c", "acme", "u2"));
  // Neither failure undid the transaction's earlier work, and it can go on and commit.
  EXPECT_EQ(writer->find_link("ldap", "d"), make_link("ldap", "d", "acme", "u3"));
  ASSERT_TRUE(writer->delete_link("ldap", "a"));
  writer->put_link(make_link("ldap", "b", "acme", "u1"));
  writer->commit();
  EXPECT_EQ(anchors_of(store().read()->list_links("ldap")),
            (std::vector<std::string>{"b", "c", "d"}));
}

TEST_P(StoreConformance, LinkNeedsAnExistingUser) {
  insert(make_user("globex", "u1", "alice"));
  auto writer = store().write();
  EXPECT_THROW(writer->put_link(make_link("ldap", "a", "acme", "u404")), core::StoreFailure);
  EXPECT_THROW(writer->put_link(make_link("ldap", "a", "acme", "u1")), core::StoreFailure)
      << "the user is looked up in the link's tenant";
  writer->put_link(make_link("ldap", "a", "globex", "u1"));
  writer->commit();
  EXPECT_EQ(store().read()->list_links("ldap").size(), 1U);
}

TEST_P(StoreConformance, DeleteLinkAndDeleteUserRemovesItsLinks) {
  insert(make_user("acme", "u1", "alice"));
  insert(make_user("acme", "u2", "bob"));
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "a", "acme", "u1"));
    writer->put_link(make_link("ad", "x", "acme", "u1"));
    writer->put_link(make_link("ldap", "b", "acme", "u2"));
    writer->commit();
  }
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->delete_link("ldap", "b"));
    EXPECT_FALSE(writer->delete_link("ldap", "b"));
    EXPECT_FALSE(writer->delete_link("ad", "a"));
    ASSERT_TRUE(writer->delete_user(acme, UserId("u1")));
    EXPECT_TRUE(writer->list_links("ldap").empty()) << "in the same transaction";
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_TRUE(reader->list_links("ldap").empty());
  EXPECT_TRUE(reader->list_links("ad").empty());
  EXPECT_FALSE(reader->find_link_of_user("ad", acme, UserId("u1")).has_value());
  EXPECT_TRUE(reader->find_user(acme, UserId("u2")).has_value());
}

TEST_P(StoreConformance, SyncCursorIsSetReplacedAndClearedPerDirectory) {
  // An RFC 4533 cookie is an octet string: any byte, NUL included, must come back.
  const std::string cookie("rid=001,csn=20240101000000.000000Z#000000#000#000000\0\xff\x01", 57);
  EXPECT_EQ(store().read()->sync_cursor("ldap"), "");
  {
    auto writer = store().write();
    writer->set_sync_cursor("ldap", cookie);
    writer->set_sync_cursor("ad", "uSNChanged=1000");
    EXPECT_EQ(writer->sync_cursor("ldap"), cookie);
    writer->commit();
  }
  EXPECT_EQ(store().read()->sync_cursor("ldap"), cookie);
  {
    auto writer = store().write();
    writer->set_sync_cursor("ad", "uSNChanged=2000");
    writer->set_sync_cursor("ldap", "");
    writer->set_sync_cursor("never-set", "");
    writer->commit();
  }
  reopen();
  auto reader = store().read();
  EXPECT_EQ(reader->sync_cursor("ldap"), "");
  EXPECT_EQ(reader->sync_cursor("ad"), "uSNChanged=2000");
  EXPECT_EQ(reader->sync_cursor("never-set"), "");
}

TEST_P(StoreConformance, RuleGroupsArePutReplacedDeletedAndListedPerDirectory) {
  using core::sync::RuleGroupDigest;
  using core::sync::RuleGroupMembers;
  std::vector<std::string> everyone;
  for (int i = 0; i < 3000; ++i) {
    everyone.push_back("uid=user" + std::to_string(i) + ",ou=people,dc=example,dc=com");
  }
  // Members are bytes: a colon, a digit run, a comma and UTF-8 must come back as they went in.
  const RuleGroupMembers admins{"cn=admins,ou=groups,dc=example,dc=com",
                                0xfedcba9876543210ull,  // above INT64_MAX
                                {"uid=12:3,ou=people", "CN=Zoë Ünal,OU=People", "1:", ""}};
  const RuleGroupMembers staff{"cn=staff,ou=groups,dc=example,dc=com", 7, everyone};
  const RuleGroupMembers empty{"cn=empty,ou=groups,dc=example,dc=com", 0, {}};
  EXPECT_TRUE(store().read()->rule_group_digests("ldap").empty());
  EXPECT_FALSE(store().read()->find_rule_group("ldap", admins.group).has_value());
  {
    auto writer = store().write();
    writer->put_rule_group("ldap", staff);
    writer->put_rule_group("ldap", admins);
    writer->put_rule_group("ldap", empty);
    writer->put_rule_group("ad", admins);
    EXPECT_EQ(writer->find_rule_group("ldap", staff.group), staff) << "the writer reads its own";
    writer->commit();
  }
  {
    // A rolled-back replacement and deletion leave the stored groups as they were.
    auto writer = store().write();
    writer->put_rule_group("ldap", {staff.group, 8, {"uid=nobody"}});
    EXPECT_TRUE(writer->delete_rule_group("ldap", admins.group));
  }
  reopen();
  {
    auto reader = store().read();
    EXPECT_EQ(reader->rule_group_digests("ldap"),
              (std::vector<RuleGroupDigest>{
                  {admins.group, admins.digest}, {empty.group, 0}, {staff.group, 7}}))
        << "ordered by group";
    EXPECT_EQ(reader->find_rule_group("ldap", admins.group), admins);
    EXPECT_EQ(reader->find_rule_group("ldap", staff.group), staff);
    EXPECT_EQ(reader->find_rule_group("ldap", empty.group), empty);
    EXPECT_EQ(reader->find_rule_group("ad", admins.group), admins);
    EXPECT_FALSE(reader->find_rule_group("ldap", "CN=admins,ou=groups,dc=example,dc=com"))
        << "keys are exact: the reader normalises them";
    EXPECT_TRUE(reader->rule_group_digests("nowhere").empty());
  }
  {
    auto writer = store().write();
    writer->put_rule_group("ldap", {staff.group, 8, {everyone[5], everyone[1]}});
    EXPECT_TRUE(writer->delete_rule_group("ldap", admins.group));
    EXPECT_FALSE(writer->delete_rule_group("ldap", admins.group));
    EXPECT_FALSE(writer->delete_rule_group("ldap", "cn=never"));
    writer->commit();
  }
  reopen();
  auto reader = store().read();
  EXPECT_EQ(reader->rule_group_digests("ldap"),
            (std::vector<RuleGroupDigest>{{empty.group, 0}, {staff.group, 8}}));
  EXPECT_EQ(reader->find_rule_group("ldap", staff.group),
            (RuleGroupMembers{staff.group, 8, {everyone[5], everyone[1]}}))
      << "replaced whole, members in the order put";
  EXPECT_EQ(reader->find_rule_group("ad", admins.group), admins) << "another directory's stays";
}

TEST_P(StoreConformance, SyncRunsRoundTripUpdateAndListNewestFirst) {
  SyncRun running;
  running.directory = "ldap";
  running.started = at_millis(1'700'000'000'000);
  std::vector<SyncRun> stored;
  {
    auto writer = store().write();
    running.id = 999;  // ignored: the store assigns ids
    running.id = writer->insert_sync_run(running);
    stored.push_back(running);
    for (int i = 1; i <= 4; ++i) {
      auto run = make_run(i % 2 == 0 ? "ldap" : "ad", 1'700'000'000'000 + i);
      run.id = writer->insert_sync_run(run);
      EXPECT_GT(run.id, stored.back().id);
      stored.push_back(run);
    }
    writer->commit();
  }
  {
    auto reader = store().read();
    EXPECT_EQ(reader->find_sync_run(running.id), running) << "a running run has no finish time";
    EXPECT_EQ(reader->find_sync_run(stored[3].id), stored[3]);
    EXPECT_FALSE(reader->find_sync_run(stored.back().id + 1).has_value());
  }

  auto finished = running;
  finished.kind = RunKind::incremental;
  finished.finished = at_millis(1'700'000'009'000);
  finished.outcome = RunOutcome::incomplete;
  finished.read = 7;
  finished.error = "size limit exceeded";
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->update_sync_run(finished));
    auto absent = finished;
    absent.id = stored.back().id + 100;
    EXPECT_FALSE(writer->update_sync_run(absent));
    writer->commit();
  }
  stored[0] = finished;

  auto reader = store().read();
  EXPECT_EQ(reader->find_sync_run(finished.id), finished);
  EXPECT_FALSE(reader->find_sync_run(stored.back().id + 100).has_value());
  EXPECT_EQ(reader->list_sync_runs("", 100),
            (std::vector{stored[4], stored[3], stored[2], stored[1], stored[0]}));
  EXPECT_EQ(reader->list_sync_runs("", 2), (std::vector{stored[4], stored[3]}));
  EXPECT_EQ(reader->list_sync_runs("ldap", 100), (std::vector{stored[4], stored[2], stored[0]}));
  EXPECT_EQ(reader->list_sync_runs("ldap", 2), (std::vector{stored[4], stored[2]}));
  EXPECT_EQ(reader->list_sync_runs("ad", 1), (std::vector{stored[3]}));
  EXPECT_TRUE(reader->list_sync_runs("ldap", 0).empty());
  EXPECT_TRUE(reader->list_sync_runs("nowhere", 10).empty());
}

TEST_P(StoreConformance, NestedCommitIsVisibleToTheOuterAndDurableOnlyWithIt) {
  auto outer = store().write();
  {
    auto nested = outer->nested();
    nested->insert_user(make_user("acme", "u1", "alice"));
    nested->put_link(make_link("ldap", "a", "acme", "u1"));
    EXPECT_TRUE(nested->find_user(acme, UserId("u1")).has_value()) << "reads its own writes";
    nested->commit();
  }
  EXPECT_TRUE(outer->find_user(acme, UserId("u1")).has_value());
  EXPECT_EQ(outer->find_link("ldap", "a"), make_link("ldap", "a", "acme", "u1"));
  EXPECT_FALSE(store().read()->find_user(acme, UserId("u1")).has_value())
      << "a nested commit is not a commit of the outer transaction";
  outer->set_sync_cursor("ldap", "after-page-1");
  outer->commit();
  reopen();
  auto reader = store().read();
  EXPECT_TRUE(reader->find_user(acme, UserId("u1")).has_value());
  EXPECT_EQ(reader->find_link("ldap", "a"), make_link("ldap", "a", "acme", "u1"));
  EXPECT_EQ(reader->sync_cursor("ldap"), "after-page-1");
}

TEST_P(StoreConformance, NestedRollbackUndoesOnlyItsOwnWork) {
  insert(make_user("acme", "linked", "linked"));
  {
    auto writer = store().write();
    writer->put_link(make_link("ldap", "z", "acme", "linked"));
    writer->commit();
  }
  auto outer = store().write();
  outer->insert_user(make_user("acme", "u1", "alice"));
  {
    auto abandoned = outer->nested();
    abandoned->insert_user(make_user("acme", "u2", "bob"));
    abandoned->append_change(make_change("acme", "u2", 1));
  }
  {
    // A uniqueness failure inside a nested transaction, which its caller then gives up.
    auto failing = outer->nested();
    failing->insert_user(make_user("acme", "u3", "carol"));
    expect_violation(ErrorCode::user_name_taken,
                     [&] { failing->put_link(make_link("ldap", "y", "acme", "linked")); });
  }
  {
    // The same failure, after which the nested transaction goes on and commits.
    auto recovering = outer->nested();
    expect_violation(ErrorCode::user_name_taken,
                     [&] { recovering->insert_user(make_user("acme", "u4", "ALICE")); });
    recovering->insert_user(make_user("acme", "u4", "dave"));
    recovering->commit();
  }
  EXPECT_TRUE(outer->find_user(acme, UserId("u1")).has_value());
  EXPECT_FALSE(outer->find_user(acme, UserId("u2")).has_value());
  EXPECT_FALSE(outer->find_user(acme, UserId("u3")).has_value());
  EXPECT_EQ(outer->last_change_sequence(), 0);
  outer->commit();

  auto reader = store().read();
  EXPECT_EQ(reader->count_users(acme), 3);  // linked, u1, u4
  EXPECT_TRUE(reader->find_user(acme, UserId("u4")).has_value());
  EXPECT_FALSE(reader->find_user(acme, UserId("u3")).has_value());
  EXPECT_EQ(anchors_of(reader->list_links("ldap")), (std::vector<std::string>{"z"}));
}

TEST_P(StoreConformance, NestedTransactionsNestAndRollBackLevelByLevel) {
  auto outer = store().write();
  {
    auto level1 = outer->nested();
    level1->insert_user(make_user("acme", "u1", "one"));
    {
      auto level2 = level1->nested();
      level2->insert_user(make_user("acme", "u2", "two"));
      {
        auto level3 = level2->nested();
        level3->insert_user(make_user("acme", "u3", "three"));
        EXPECT_EQ(level3->count_users(acme), 3);
      }  // rolled back
      EXPECT_EQ(level2->count_users(acme), 2);
      {
        auto level3 = level2->nested();
        level3->insert_user(make_user("acme", "u4", "four"));
        level3->commit();
      }
      level2->commit();
    }
    level1->commit();
  }
  {
    auto level1 = outer->nested();
    level1->insert_user(make_user("acme", "u5", "five"));
    auto level2 = level1->nested();
    level2->insert_user(make_user("acme", "u6", "six"));
    level2->commit();
    // level1 is destroyed without commit: level2's committed work goes with it.
  }
  outer->commit();
  auto reader = store().read();
  std::vector<std::string> ids;
  for (const auto& user : reader->list_users(acme, {}).items) {
    ids.push_back(user.id.str());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"u1", "u2", "u4"}));
}

TEST_P(StoreConformance, OuterRollbackDiscardsCommittedNestedWork) {
  insert(make_user("acme", "u1", "alice"));
  {
    auto outer = store().write();
    for (int i = 0; i < 3; ++i) {
      auto nested = outer->nested();
      nested->insert_user(make_user("acme", "n" + std::to_string(i), "n" + std::to_string(i)));
      nested->put_link(make_link("ldap", std::to_string(i), "acme", "n" + std::to_string(i)));
      nested->commit();
    }
    outer->set_sync_cursor("ldap", "never");
  }
  auto reader = store().read();
  EXPECT_EQ(reader->count_users(acme), 1);
  EXPECT_TRUE(reader->list_links("ldap").empty());
  EXPECT_EQ(reader->sync_cursor("ldap"), "");
}

TEST_P(StoreConformance, OneOuterTransactionCommitsAPageOfNestedOperations) {
  constexpr int page = 500;
  auto outer = store().write();
  for (int i = 0; i < page; ++i) {
    const auto id = "u" + std::to_string(i);
    auto nested = outer->nested();
    nested->insert_user(make_user("acme", id, "user" + std::to_string(i)));
    nested->put_link(make_link("ldap", "anchor-" + std::to_string(100'000 + i), "acme", id));
    if (i % 50 == 49) {
      continue;  // every 50th operation fails and is rolled back
    }
    nested->commit();
  }
  outer->commit();
  auto reader = store().read();
  EXPECT_EQ(reader->count_users(acme), page - page / 50);
  const auto links = reader->list_links("ldap");
  ASSERT_EQ(links.size(), static_cast<std::size_t>(page - page / 50));
  EXPECT_EQ(links.front().anchor, "anchor-100000");
  EXPECT_EQ(links.back().anchor, "anchor-100498");
}

TEST_P(StoreConformance, OuterWriterIsRefusedWhileANestedOneIsAlive) {
  auto outer = store().write();
  auto nested = outer->nested();
  EXPECT_THROW(outer->insert_user(make_user("acme", "u1", "alice")), core::StoreFailure);
  EXPECT_THROW(outer->nested(), core::StoreFailure);
  EXPECT_THROW(outer->commit(), core::StoreFailure);
  nested->insert_user(make_user("acme", "u2", "bob"));
  nested->commit();
  EXPECT_THROW(nested->insert_user(make_user("acme", "u3", "carol")), core::StoreFailure);
  EXPECT_THROW(nested->commit(), core::StoreFailure);
  outer->insert_user(make_user("acme", "u1", "alice"));
  outer->commit();
  EXPECT_EQ(store().read()->count_users(acme), 2);
}

TEST_P(StoreConformance, OuterEndingBeforeItsNestedWriterRollsBothBack) {
  auto outer = store().write();
  auto nested = outer->nested();
  nested->insert_user(make_user("acme", "u1", "alice"));
  auto inner = nested->nested();
  inner->insert_user(make_user("acme", "u2", "bob"));
  outer.reset();
  EXPECT_THROW(nested->insert_user(make_user("acme", "u3", "carol")), core::StoreFailure);
  EXPECT_THROW(inner->commit(), core::StoreFailure);
  inner.reset();
  nested.reset();
  // The write slot is free and the store unchanged.
  insert(make_user("acme", "u4", "dave"));
  auto reader = store().read();
  EXPECT_EQ(reader->count_users(acme), 1);
  EXPECT_TRUE(reader->find_user(acme, UserId("u4")).has_value());
}

}  // namespace
}  // namespace idbridge::store_test
