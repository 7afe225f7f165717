// The Store port's conformance suite, write-back part (core/writeback/outbox.hpp): the outbox in
// delivery order, per-user lookups, updates and removal, statistics, conflicts and the revisions
// idbridge wrote.
#include "conformance.hpp"

#include <string>
#include <vector>

namespace idbridge::store_test {
namespace {

using core::TenantId;
using core::UserId;
using core::writeback::Authority;
using core::writeback::Conflict;
using core::writeback::OutboxItem;
using core::writeback::WriteKind;

OutboxItem make_item(std::string directory, std::string tenant, std::string user, WriteKind kind,
                     std::int64_t enqueued_millis) {
  OutboxItem item;
  item.directory = std::move(directory);
  item.tenant = TenantId(std::move(tenant));
  item.user = UserId(std::move(user));
  item.kind = kind;
  item.enqueued = at_millis(enqueued_millis);
  item.actor = {core::ActorKind::credential, "okta"};
  return item;
}

std::vector<std::int64_t> ids_of(const std::vector<OutboxItem>& items) {
  std::vector<std::int64_t> out;
  for (const auto& item : items) {
    out.push_back(item.id);
  }
  return out;
}

TEST_P(StoreConformance, OutboxItemsRoundTripInDeliveryOrderPerDirectory) {
  auto modify = make_item("ldap", "acme", "u1", WriteKind::modify_user, 1'000);
  modify.anchor = "uuid-1";
  modify.changes = {{"title", std::string("Engineer"), std::string("Manager")},
                    {"name.givenName", std::nullopt, std::string("Zoë")}};
  auto member = make_item("ldap", "acme", "u2", WriteKind::add_member, 2'000);
  member.group_dn = "cn=staff,ou=groups,dc=example,dc=com";
  auto password = make_item("ldap", "acme", "u1", WriteKind::set_password, 3'000);
  password.secret = std::string("\x01\x00sealed\xff", 9);
  std::int64_t first = 0;
  std::int64_t second = 0;
  std::int64_t third = 0;
  {
    auto writer = store().write();
    first = writer->enqueue_write(modify);
    second = writer->enqueue_write(member);
    writer->enqueue_write(make_item("ad", "acme", "u1", WriteKind::delete_user, 500));
    third = writer->enqueue_write(password);
    writer->commit();
  }
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  modify.id = first;
  member.id = second;
  password.id = third;
  auto reader = store().read();
  EXPECT_EQ(reader->outbox_items("ldap", 0, 10), (std::vector{modify, member, password}))
      << "every field round-trips, the secret byte for byte";
  EXPECT_EQ(ids_of(reader->outbox_items("ldap", first, 10)), (std::vector{second, third}));
  EXPECT_EQ(ids_of(reader->outbox_items("ldap", 0, 1)), (std::vector{first}));
  EXPECT_EQ(reader->outbox_items("ad", 0, 10).size(), 1U);
  EXPECT_EQ(reader->outbox_items_of_user("ldap", acme, UserId("u1")),
            (std::vector{modify, password}));
  EXPECT_TRUE(reader->outbox_items_of_user("ldap", globex, UserId("u1")).empty());
  EXPECT_EQ(reader->find_outbox_item(second), member);
  EXPECT_FALSE(reader->find_outbox_item(third + 100).has_value());
}

TEST_P(StoreConformance, AnchorsBeingDeletedAreThoseWithAnUndeliveredDeleteOfTheirDirectory) {
  {
    auto writer = store().write();
    auto gone = make_item("ldap", "acme", "u1", WriteKind::delete_user, 1'000);
    gone.anchor = "uuid-b";
    writer->enqueue_write(gone);
    auto parked = make_item("ldap", "acme", "u2", WriteKind::delete_user, 2'000);
    parked.anchor = "uuid-a";
    parked.parked = at_millis(3'000);
    writer->enqueue_write(parked);
    auto modify = make_item("ldap", "acme", "u3", WriteKind::modify_user, 1'000);
    modify.anchor = "uuid-c";
    writer->enqueue_write(modify);
    auto elsewhere = make_item("ad", "acme", "u4", WriteKind::delete_user, 1'000);
    elsewhere.anchor = "uuid-d";
    writer->enqueue_write(elsewhere);
    writer->commit();
  }
  EXPECT_EQ(store().read()->anchors_being_deleted("ldap"),
            (std::vector<std::string>{"uuid-a", "uuid-b"}))
      << "sorted, parked ones included, not other kinds or directories";
  EXPECT_TRUE(store().read()->anchors_being_deleted("none").empty());
}

TEST_P(StoreConformance, OutboxItemsAreUpdatedParkedAndRemoved) {
  std::int64_t id = 0;
  std::int64_t other = 0;
  {
    auto writer = store().write();
    id = writer->enqueue_write(make_item("ldap", "acme", "u1", WriteKind::create_user, 1'000));
    other = writer->enqueue_write(make_item("ldap", "acme", "u2", WriteKind::modify_user, 4'000));
    writer->commit();
  }
  auto item = *store().read()->find_outbox_item(id);
  item.attempts = 3;
  item.next_attempt = at_millis(9'000);
  item.last_error = "unavailable: slapd is busy";
  item.anchor = "uuid-7";
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->update_write(item));
    writer->commit();
  }
  EXPECT_EQ(store().read()->find_outbox_item(id), item);
  EXPECT_EQ(store().read()->outbox_stats("ldap"),
            (core::writeback::OutboxStats{2, 0, at_millis(1'000)}));

  item.parked = at_millis(10'000);
  {
    auto writer = store().write();
    EXPECT_TRUE(writer->update_write(item));
    writer->commit();
  }
  EXPECT_EQ(store().read()->outbox_stats("ldap"),
            (core::writeback::OutboxStats{1, 1, at_millis(4'000)}))
      << "a parked item is not pending and does not date the queue";
  EXPECT_EQ(store().read()->outbox_stats("ad"), core::writeback::OutboxStats{});

  {
    auto writer = store().write();
    EXPECT_TRUE(writer->remove_write(id));
    EXPECT_FALSE(writer->remove_write(id));
    EXPECT_TRUE(writer->remove_write(other));
    item.id = id;
    EXPECT_FALSE(writer->update_write(item)) << "a removed item cannot be updated";
    writer->commit();
  }
  EXPECT_TRUE(store().read()->outbox_items("ldap", 0, 10).empty());
}

TEST_P(StoreConformance, OutboxOutlivesTheUserItIsAbout) {
  insert(make_user("acme", "u1", "alice"));
  {
    auto writer = store().write();
    writer->enqueue_write(make_item("ldap", "acme", "u1", WriteKind::delete_user, 1'000));
    writer->delete_user(acme, UserId("u1"));
    writer->commit();
  }
  EXPECT_EQ(store().read()->outbox_items("ldap", 0, 10).size(), 1U)
      << "the write that deletes the entry must survive the user's deletion";
}

TEST_P(StoreConformance, OutboxRollsBackWithItsTransaction) {
  {
    auto writer = store().write();
    writer->enqueue_write(make_item("ldap", "acme", "u1", WriteKind::modify_user, 1'000));
  }
  EXPECT_TRUE(store().read()->outbox_items("ldap", 0, 10).empty());
}

TEST_P(StoreConformance, ConflictsAreListedNewestFirstAndCountedPerDirectory) {
  Conflict conflict;
  conflict.directory = "ldap";
  conflict.tenant = acme;
  conflict.user = UserId("u1");
  conflict.target = "title";
  conflict.owner = Authority::directory;
  conflict.kept = "Director";
  conflict.lost = "Manager";
  conflict.lost_by = "okta";
  conflict.detected = at_millis(5'000);
  Conflict second = conflict;
  second.target = "name.givenName";
  second.owner = Authority::scim;
  second.kept = "Zoë";
  second.lost = "Zoe";
  second.lost_by = "directory";
  Conflict elsewhere = conflict;
  elsewhere.directory = "ad";
  {
    auto writer = store().write();
    conflict.id = writer->insert_conflict(conflict);
    second.id = writer->insert_conflict(second);
    elsewhere.id = writer->insert_conflict(elsewhere);
    writer->commit();
  }
  auto reader = store().read();
  EXPECT_EQ(reader->list_conflicts("ldap", 10), (std::vector{second, conflict}));
  EXPECT_EQ(reader->list_conflicts("ldap", 1), (std::vector{second}));
  EXPECT_EQ(reader->list_conflicts("", 10), (std::vector{elsewhere, second, conflict}));
  EXPECT_EQ(reader->count_conflicts("ldap"), 2);
  EXPECT_EQ(reader->count_conflicts(""), 3);
  EXPECT_EQ(reader->count_conflicts("nowhere"), 0);
}

TEST_P(StoreConformance, WrittenRevisionsAreSetReplacedAndClearedPerEntry) {
  {
    auto writer = store().write();
    writer->set_written_revision("ldap", "uuid-1", "20261124120000.000001Z#000000#000#000000");
    writer->set_written_revision("ad", "uuid-1", "90211");
    writer->commit();
  }
  EXPECT_EQ(store().read()->written_revision("ldap", "uuid-1"),
            "20261124120000.000001Z#000000#000#000000");
  EXPECT_EQ(store().read()->written_revision("ad", "uuid-1"), "90211");
  EXPECT_EQ(store().read()->written_revision("ldap", "uuid-2"), "");
  {
    auto writer = store().write();
    writer->set_written_revision("ldap", "uuid-1", "20261124120500.000001Z#000000#000#000000");
    writer->set_written_revision("ad", "uuid-1", "");
    writer->commit();
  }
  EXPECT_EQ(store().read()->written_revision("ldap", "uuid-1"),
            "20261124120500.000001Z#000000#000#000000");
  EXPECT_EQ(store().read()->written_revision("ad", "uuid-1"), "");
}

}  // namespace
}  // namespace idbridge::store_test
