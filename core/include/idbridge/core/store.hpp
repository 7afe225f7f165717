// The Store port: what the tenant core needs from durable storage. SQLite implements it in
// store/, PostgreSQL will follow; both must pass tests/store's conformance suite.
//
// Contract shared by every backend:
// - A StoreReader sees one consistent snapshot for its whole life.
// - A StoreWriter is one serialisable write transaction. Nothing it did is visible to others
//   until commit() returns; destroying it without commit() rolls everything back. commit()
//   returns only once the transaction is durable (survives kill -9 and power loss).
// - Lookups by userName, primary email and group displayName are case-insensitive (ASCII and
//   Unicode simple case folding is the backend's job; SQLite folds ASCII, see docs).
// - Infrastructure problems throw StoreFailure; a uniqueness constraint the backend enforces
//   throws StoreConstraintViolation. Rule checks are the service's job, not the store's.
// - The All Users group is an ordinary row with system=true; its membership is implicit (every
//   user of the tenant) and never stored, so the store never holds member rows for it.
#pragma once

#include "idbridge/core/change.hpp"
#include "idbridge/core/ids.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/sync/state.hpp"
#include "idbridge/core/writeback/outbox.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core {

struct PageRequest {
  std::int64_t offset = 0;  // 0-based
  std::int64_t limit = 100;
};

template <class T>
struct Page {
  std::vector<T> items;
  std::int64_t total = 0;  // number of items matching, regardless of the page
};

// What for_each_user_where knows of a user before decoding it. Views into the row: valid during
// the call only.
struct UserRowKey {
  std::string_view id;
  std::string_view user_name;
  ResourceVersion version = 0;
};

struct TenantRecord {
  TenantId id;
  Timestamp created{};
};

// A group as a user's `groups` attribute shows it.
struct GroupName {
  GroupId id;
  std::string display_name;

  friend bool operator==(const GroupName&, const GroupName&) = default;
};

class StoreReader {
 public:
  virtual ~StoreReader() = default;

  virtual std::optional<TenantRecord> find_tenant(const TenantId& tenant) = 0;
  virtual std::vector<TenantRecord> list_tenants() = 0;

  virtual std::optional<User> find_user(const TenantId& tenant, const UserId& id) = 0;
  // Across all tenants: userName is globally unique. Case-insensitive.
  virtual std::optional<User> find_user_by_user_name(std::string_view user_name) = 0;
  // Every user of the tenant with this externalId (exact match), in creation order. externalId
  // is the provisioning source's text and is not unique: two sources, or one that reuses ids,
  // may give several users the same one.
  virtual std::vector<User> find_users_by_external_id(const TenantId& tenant,
                                                      std::string_view external_id) = 0;
  // The user whose primary email is `email`, case-insensitive.
  virtual std::optional<User> find_user_by_primary_email(const TenantId& tenant,
                                                         std::string_view email) = 0;
  // Every user with `email` among its emails (primary or backup), case-insensitive, in creation
  // order. Several users may share a backup address.
  virtual std::vector<User> find_users_by_email(const TenantId& tenant, std::string_view email) = 0;
  virtual std::optional<User> find_account_owner(const TenantId& tenant) = 0;
  virtual std::optional<UserId> find_extension_owner(const TenantId& tenant,
                                                     std::string_view number) = 0;
  // Users of a tenant in creation order.
  virtual Page<User> list_users(const TenantId& tenant, const PageRequest& page) = 0;
  virtual std::int64_t count_users(const TenantId& tenant) = 0;
  // Every user of the tenant in creation order, handed to `each` one at a time as it is read
  // (one pass, no page boundaries to re-find): what a directory sync compares 100,000 users with
  // without holding them all. `each` must not use this reader.
  virtual void for_each_user(const TenantId& tenant, const std::function<void(User&)>& each) = 0;
  // for_each_user, asking `wanted` about each user's row before it is decoded: only the users it
  // accepts are decoded and handed to `each` (right after their `wanted`). An unchanged full
  // sync so leaves 100,000 users' documents unread. Neither callback may use this reader.
  virtual void for_each_user_where(const TenantId& tenant,
                                   const std::function<bool(const UserRowKey&)>& wanted,
                                   const std::function<void(User&)>& each) = 0;
  // The stored password hash, for authentication; never for display.
  virtual std::optional<std::string> password_hash(const TenantId& tenant, const UserId& id) = 0;

  virtual std::optional<Group> find_group(const TenantId& tenant, const GroupId& id) = 0;
  virtual std::optional<Group> find_group_by_display_name(const TenantId& tenant,
                                                          std::string_view display_name) = 0;
  // As find_users_by_external_id, for groups.
  virtual std::vector<Group> find_groups_by_external_id(const TenantId& tenant,
                                                        std::string_view external_id) = 0;
  virtual std::optional<Group> find_system_group(const TenantId& tenant) = 0;
  // Groups of a tenant in creation order.
  virtual Page<Group> list_groups(const TenantId& tenant, const PageRequest& page) = 0;

  // Stored (explicit) membership only; All Users is the service's business.
  virtual bool is_member(const TenantId& tenant, const GroupId& group, const MemberRef& member) = 0;
  virtual Page<MemberRef> list_members(const TenantId& tenant, const GroupId& group,
                                       const PageRequest& page) = 0;
  // The groups that directly contain `member`.
  virtual std::vector<GroupId> groups_containing(const TenantId& tenant,
                                                 const MemberRef& member) = 0;
  // The groups user `user` belongs to, with their display names: the tenant's system group
  // first (every user is in it), then the groups that contain the user directly, in
  // groups_containing's order. A backend answers it with a few indexed reads; this default
  // decodes every group.
  virtual std::vector<GroupName> group_names_of_user(const TenantId& tenant, const UserId& user);

  // Change records with sequence > after, oldest first, at most `limit`.
  virtual std::vector<ChangeRecord> changes_after(ChangeSequence after, std::size_t limit) = 0;
  virtual ChangeSequence last_change_sequence() = 0;

  // Directory sync state (sync/state.hpp).
  // Every link of a directory, ordered by anchor.
  virtual std::vector<sync::DirectoryLink> list_links(std::string_view directory) = 0;
  // The directory's links into `tenant`, ordered by anchor, each judged settled or not against
  // its user's current version: what a full read needs to leave unchanged users unread, without
  // reading a user. A backend answers it with one join; this default reads every user's row key.
  virtual std::vector<sync::LinkState> link_states(std::string_view directory,
                                                   const TenantId& tenant);
  virtual std::optional<sync::DirectoryLink> find_link(std::string_view directory,
                                                       std::string_view anchor) = 0;
  // The user's link to `directory`, if it has one.
  virtual std::optional<sync::DirectoryLink> find_link_of_user(std::string_view directory,
                                                               const TenantId& tenant,
                                                               const UserId& user) = 0;
  // The directory's incremental position (an opaque cookie), "" when none is stored.
  virtual std::string sync_cursor(std::string_view directory) = 0;
  // The groups stored for the directory by put_rule_group, without their members, ordered by
  // group (byte-wise).
  virtual std::vector<sync::RuleGroupDigest> rule_group_digests(std::string_view directory) = 0;
  // One stored group with its members, in the order they were put.
  virtual std::optional<sync::RuleGroupMembers> find_rule_group(std::string_view directory,
                                                                std::string_view group) = 0;
  virtual std::optional<sync::SyncRun> find_sync_run(std::int64_t id) = 0;
  // Newest first; every directory when `directory` is empty.
  virtual std::vector<sync::SyncRun> list_sync_runs(std::string_view directory,
                                                    std::size_t limit) = 0;

  // Write-back state (writeback/outbox.hpp).
  // The directory's outbox items with id > after_id in delivery order (parked ones included),
  // at most `limit`.
  virtual std::vector<writeback::OutboxItem> outbox_items(std::string_view directory,
                                                          std::int64_t after_id,
                                                          std::size_t limit) = 0;
  // The user's undelivered items for the directory (pending and parked), oldest first.
  virtual std::vector<writeback::OutboxItem> outbox_items_of_user(std::string_view directory,
                                                                  const TenantId& tenant,
                                                                  const UserId& user) = 0;
  virtual std::optional<writeback::OutboxItem> find_outbox_item(std::int64_t id) = 0;
  // The anchors of the directory's entries with an undelivered delete queued (parked ones
  // included), sorted: the tenant user is gone already, the entry not yet.
  virtual std::vector<std::string> anchors_being_deleted(std::string_view directory) = 0;
  virtual writeback::OutboxStats outbox_stats(std::string_view directory) = 0;
  // Newest first; every directory when `directory` is empty.
  virtual std::vector<writeback::Conflict> list_conflicts(std::string_view directory,
                                                          std::size_t limit) = 0;
  virtual std::int64_t count_conflicts(std::string_view directory) = 0;
  // The entry's revision (entryCSN, uSNChanged) right after idbridge's last write to it, ""
  // when idbridge never wrote it: a read that finds the same revision sees only its own write.
  virtual std::string written_revision(std::string_view directory, std::string_view anchor) = 0;
};

class StoreWriter : public StoreReader {
 public:
  // Creates the tenant row if absent; returns whether it was created.
  virtual bool ensure_tenant(const TenantId& tenant, Timestamp now) = 0;

  // The user's id, tenant and version are set by the caller. Throws StoreConstraintViolation
  // on a duplicate userName (global), primary email or extension (per tenant).
  virtual void insert_user(const User& user) = 0;
  // Compare-and-swap: writes `user` (whose version is already the new one) only if the stored
  // version equals `expected_version`. Returns false, changing nothing, when it does not.
  virtual bool update_user(const User& user, ResourceVersion expected_version) = 0;
  // The same compare-and-swap against `stored.version`, where `stored` is the user exactly as
  // this transaction read it from the store: a backend may then write only what differs (a
  // PATCH of one attribute need not rewrite the userName, email and extension indexes). The
  // default ignores it.
  virtual bool update_user(const User& user, const User& stored);
  // Deletes the user and every stored membership of it. Returns false if it did not exist.
  virtual bool delete_user(const TenantId& tenant, const UserId& id) = 0;
  virtual void set_password_hash(const TenantId& tenant, const UserId& id,
                                 const std::string& hash) = 0;

  virtual void insert_group(const Group& group) = 0;
  virtual bool update_group(const Group& group, ResourceVersion expected_version) = 0;
  // Deletes the group, its member rows and its rows as a member of other groups.
  virtual bool delete_group(const TenantId& tenant, const GroupId& id) = 0;
  // Returns whether membership changed (adding an existing member or removing an absent one is
  // a no-op that returns false). O(log n) in the group's size.
  virtual bool add_member(const TenantId& tenant, const GroupId& group,
                          const MemberRef& member) = 0;
  virtual bool remove_member(const TenantId& tenant, const GroupId& group,
                             const MemberRef& member) = 0;

  // Appends to the change log, assigns and returns the record's sequence.
  virtual ChangeSequence append_change(const ChangeRecord& record) = 0;

  // Inserts or replaces the link with the same (directory, anchor); the user must exist. Throws
  // StoreConstraintViolation (rule user_name_taken) when the user is already linked to another
  // anchor of the directory; like every failed write, that leaves the transaction usable.
  // delete_user removes the user's links with it.
  virtual void put_link(const sync::DirectoryLink& link) = 0;
  virtual bool delete_link(std::string_view directory, std::string_view anchor) = 0;
  // Sets the link's mapped_digest and settled_version only, and only while the link still names
  // link.user (of link.tenant); returns whether it did. Nothing else of the link changes.
  virtual bool set_link_settled(const sync::DirectoryLink& link) = 0;
  // "" clears it.
  virtual void set_sync_cursor(std::string_view directory, const std::string& cursor) = 0;
  // Inserts or replaces the directory's group with the same `group` (key compared exactly). A
  // group of 100,000 members is one value: write it only when its digest changed.
  virtual void put_rule_group(std::string_view directory, const sync::RuleGroupMembers& group) = 0;
  // Returns whether it was stored.
  virtual bool delete_rule_group(std::string_view directory, std::string_view group) = 0;
  // Assigns and returns the run's id (run.id is ignored).
  virtual std::int64_t insert_sync_run(const sync::SyncRun& run) = 0;
  // Overwrites the run with run.id; returns false if there is none.
  virtual bool update_sync_run(const sync::SyncRun& run) = 0;

  // Queues a directory write; assigns and returns its id (item.id is ignored).
  virtual std::int64_t enqueue_write(const writeback::OutboxItem& item) = 0;
  // Overwrites the item with item.id (attempts, schedule, error, parked, anchor, changes);
  // returns false if it is gone.
  virtual bool update_write(const writeback::OutboxItem& item) = 0;
  // Removes a delivered (or cancelled) item; returns false if it was already gone.
  virtual bool remove_write(std::int64_t id) = 0;
  // Records a conflict; assigns and returns its id.
  virtual std::int64_t insert_conflict(const writeback::Conflict& conflict) = 0;
  // "" clears it.
  virtual void set_written_revision(std::string_view directory, std::string_view anchor,
                                    const std::string& revision) = 0;

  // A nested transaction (a savepoint) inside this one: its commit() makes its work part of this
  // transaction (durable only when this one commits); destroying it without commit() undoes only
  // its own work. This writer must not be used while the nested one is alive (writes, nested()
  // and commit() throw StoreFailure). Nested writers nest. Lets a sync apply a page of
  // operations in one durable commit while each operation stays atomic.
  virtual std::unique_ptr<StoreWriter> nested() = 0;

  // Makes everything durable and visible. Throws StoreFailure (then nothing was committed).
  virtual void commit() = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::unique_ptr<StoreReader> read() = 0;
  // Blocks until the single write slot is free (serialisable writes).
  virtual std::unique_ptr<StoreWriter> write() = 0;
  // Cheap liveness probe for /readyz; throws StoreFailure when the store cannot serve.
  virtual void check() = 0;
  virtual int schema_version() = 0;
};

}  // namespace idbridge::core
