// core::Store on SQLite: one writer connection behind a write slot, with group commit (several
// logical write transactions share one physical COMMIT), and a pool of read-only connections
// each holding a read transaction (a WAL snapshot) for a reader's whole life.
#include "idbridge/store/sqlite_store.hpp"

#include "codec.hpp"
#include "idbridge/core/error.hpp"
#include "idbridge/core/rules.hpp"
#include "schema.hpp"
#include "sqlite_db.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace idbridge::store {
namespace {

// Column lists shared by the write-back queries and the functions that decode their rows; macros
// because statements are cached by their (static) SQL text, so they are assembled at compile time.
#define OUTBOX_COLUMNS                                                                    \
  "id, directory, tenant, user_id, anchor, kind, changes, group_dn, secret, actor_kind, " \
  "actor_id, enqueued, attempts, next_attempt, last_error, parked"
#define CONFLICT_COLUMNS \
  "id, directory, tenant, user_id, target, owner, kept, lost, lost_by, detected"

using sqlite::Connection;
using sqlite::OpenMode;

// Group commit: logical write transactions (StoreWriters) take the write slot one at a time, and
// each runs inside `SAVEPOINT logical` of a physical SQLite transaction that several of them
// share (a batch). commit() releases the savepoint, joins the batch, frees the slot and waits
// for the batch's one physical COMMIT, so one fsync makes a whole batch durable. The batch is
// committed by the writer that ends (commits or rolls back) when no other writer waits for the
// slot, or when the batch reached this size or SqliteOptions::group_commit_max_age; the caps
// bound how long a follower waits.
constexpr std::size_t max_batch_members = 64;

// One physical transaction's acknowledged logical transactions.
struct Batch {
  std::size_t members = 0;
  std::chrono::steady_clock::time_point opened;
  bool done = false;                   // the physical COMMIT has finished, well or not
  std::optional<std::string> failure;  // why it failed; then no member was committed
};

// The display names of groups, kept across reader transactions so that listing a user's groups
// (every SCIM user response) costs one index scan of the user's memberships instead of a
// descent into the groups index per group. Names are valid for one value of the
// `group_names` generation (migration 8), which every rename and delete of a group moves in its
// own transaction; a reader reads the generation of its snapshot first:
// - the same as the cache's: names are looked up, and the ones missing are read and added;
// - newer: the cache is emptied and takes the reader's generation;
// - older (a reader opened before a rename that another reader already saw): the cache is not
//   used at all, so the reader sees its snapshot's names.
// New groups need no invalidation: a name is only ever looked up by an id a snapshot holds.
class GroupNameCache {
 public:
  // Sets the cached display name of each of `groups` from index `from` on and returns the
  // indexes of those not cached, or nothing when `generation` is older than the cache's.
  std::optional<std::vector<std::size_t>> fill(std::int64_t generation, std::string_view tenant,
                                               std::vector<core::GroupName>& groups,
                                               std::size_t from) {
    std::lock_guard lock(mutex_);
    if (generation < generation_) {
      return std::nullopt;
    }
    if (generation > generation_) {
      names_.clear();
      generation_ = generation;
    }
    std::vector<std::size_t> missing;
    for (std::size_t i = from; i < groups.size(); ++i) {
      const auto it = names_.find(KeyView{tenant, groups[i].id.str()});
      if (it == names_.end()) {
        missing.push_back(i);
      } else {
        groups[i].display_name = it->second;
      }
    }
    return missing;
  }

  void add(std::int64_t generation, std::string_view tenant, const core::GroupId& group,
           std::string name) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) {
      return;  // read under another generation: may already be stale
    }
    if (names_.size() >= max_names) {
      names_.clear();  // a bound on memory; the names come back as they are read
    }
    names_.insert_or_assign(Key(tenant, group.str()), std::move(name));
  }

 private:
  static constexpr std::size_t max_names = 100'000;

  using Key = std::pair<std::string, std::string>;  // tenant, group id
  using KeyView = std::pair<std::string_view, std::string_view>;

  // Transparent, so that a look-up needs no key strings of its own.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(const KeyView& key) const {
      return std::hash<std::string_view>()(key.first) * 31 +
             std::hash<std::string_view>()(key.second);
    }
    std::size_t operator()(const Key& key) const { return (*this)(KeyView(key.first, key.second)); }
  };
  struct KeyEqual {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::string_view(a.first) == std::string_view(b.first) &&
             std::string_view(a.second) == std::string_view(b.second);
    }
  };

  std::mutex mutex_;
  std::int64_t generation_ = -1;
  std::unordered_map<Key, std::string, KeyHash, KeyEqual> names_;
};

// State shared by the store and every reader and writer it handed out, so a reader that
// outlives the Store object still returns its connection safely.
class Shared {
 public:
  Shared(SqliteOptions options, std::unique_ptr<Connection> writer, int version)
      : options_(std::move(options)), writer_(std::move(writer)), version_(version) {
    if (options_.commit_allowed_for_testing) {
      writer_->set_commit_hook(&Shared::commit_hook, this);
    }
  }

  int version() const { return version_; }
  GroupNameCache& group_names() { return group_names_; }

  std::unique_ptr<Connection> acquire_reader() {
    {
      std::lock_guard lock(pool_mutex_);
      if (!idle_readers_.empty()) {
        auto connection = std::move(idle_readers_.back());
        idle_readers_.pop_back();
        return connection;
      }
    }
    // An exhausted pool opens another connection rather than blocking: a thread holding one
    // reader and asking for a second must not deadlock.
    auto connection =
        std::make_unique<Connection>(options_.path, OpenMode::read_only, options_.busy_timeout_ms);
    // A page missing from a reader's cache is a pread: with SQLite's default 2 MB, most page
    // reads of a random GET /Users/{id} at 100,000 users were (a fifth of the daemon's CPU).
    // 16 MB holds the indexes a user read walks (users_by_id, group_members_by_member) and the
    // trees' inner pages; it is allocated as pages are read, so idle connections stay small.
    // (A memory map would avoid the syscalls but counts mapped pages in RSS: docs/design/store.md,
    // "Reader page cache".)
    connection->exec("PRAGMA cache_size = -16384;");
    return connection;
  }

  void release_reader(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(pool_mutex_);
    if (idle_readers_.size() < options_.reader_connections) {
      idle_readers_.push_back(std::move(connection));
    }
  }

  // Waits for the write slot and opens a logical transaction in it: the physical transaction
  // first when none is open, then its savepoint.
  // The slot is a flag and a condition variable rather than a held std::mutex: a writer may be
  // created on one pool thread and finished on another, which a mutex forbids.
  Connection& begin_logical() {
    {
      std::unique_lock lock(slot_mutex_);
      ++waiting_;
      slot_free_.wait(lock, [this] { return !slot_busy_; });
      --waiting_;
      slot_busy_ = true;
      if (physical_open_ && !writer_->in_transaction()) {
        abandon_physical_locked();
      }
    }
    // Only the slot holder touches physical_open_ and the writer connection from here on.
    try {
      if (!physical_open_) {
        // IMMEDIATE takes the write lock now, so a second process cannot make the transaction
        // fail with SQLITE_BUSY halfway through.
        writer_->exec("BEGIN IMMEDIATE");
        physical_open_ = true;
      }
      writer_->exec("SAVEPOINT logical");
    } catch (...) {
      end_logical(false);
      throw;
    }
    return *writer_;
  }

  // Undoes the slot holder's logical transaction; end_logical(false) must follow.
  void roll_back_logical() noexcept {
    writer_->exec_noexcept("ROLLBACK TO logical");
    writer_->exec_noexcept("RELEASE logical");
  }

  // Ends the slot holder's logical transaction, whose savepoint is already released into the
  // physical transaction (`joined`) or rolled back, and frees the slot. When no writer waits
  // for the slot (or the batch reached a cap) this thread commits the batch: a batch is
  // committed only between logical transactions, never with one half done. When `joined`,
  // blocks until the batch's COMMIT has finished and throws StoreFailure if it failed.
  void end_logical(bool joined) {
    std::unique_lock lock(slot_mutex_);
    std::shared_ptr<Batch> mine;
    if (joined) {
      if (!batch_) {
        batch_ = std::make_shared<Batch>();
        batch_->opened = std::chrono::steady_clock::now();
      }
      ++batch_->members;
      mine = batch_;
    }
    if (physical_open_ && !writer_->in_transaction()) {
      abandon_physical_locked();
    } else if (batch_ && (waiting_ == 0 || batch_->members >= max_batch_members ||
                          std::chrono::steady_clock::now() - batch_->opened >=
                              options_.group_commit_max_age)) {
      // Leader. The slot stays busy during COMMIT: the connection is in use, and a writer that
      // arrives now joins the next batch.
      auto batch = std::exchange(batch_, nullptr);
      lock.unlock();
      std::optional<std::string> failure;
      try {
        // With journal_mode=WAL and synchronous=FULL, COMMIT returns after the WAL is fsynced.
        writer_->exec("COMMIT");
      } catch (const std::exception& error) {
        failure = error.what();
      } catch (...) {
        failure = "sqlite: COMMIT failed";
      }
      if (failure) {
        // A failed COMMIT (SQLITE_BUSY, I/O error) may leave the transaction open.
        writer_->exec_noexcept("ROLLBACK");
      }
      lock.lock();
      physical_open_ = false;
      complete_locked(*batch, std::move(failure));
    } else if (!batch_ && physical_open_ && waiting_ == 0) {
      // Only rolled-back work: end the physical transaction so that SQLite's write lock is not
      // held while the store is idle.
      writer_->exec_noexcept("ROLLBACK");
      physical_open_ = false;
    }
    slot_busy_ = false;
    slot_free_.notify_one();
    if (mine) {
      batch_done_.wait(lock, [&] { return mine->done; });
      if (mine->failure) {
        throw core::StoreFailure(*mine->failure);
      }
    }
  }

 private:
  static int commit_hook(void* self) {
    try {
      return static_cast<Shared*>(self)->options_.commit_allowed_for_testing() ? 0 : 1;
    } catch (...) {
      return 1;
    }
  }

  // SQLite rolled the physical transaction back by itself (it does on some I/O and memory
  // errors): every released member is lost, so the batch fails. Checked at each slot handover
  // so that the next writer's SAVEPOINT does not silently start (and RELEASE commit) a
  // transaction of its own.
  void abandon_physical_locked() {
    writer_->exec_noexcept("ROLLBACK");
    physical_open_ = false;
    if (batch_) {
      complete_locked(*std::exchange(batch_, nullptr),
                      "sqlite: the transaction was rolled back after an error");
    }
  }

  void complete_locked(Batch& batch, std::optional<std::string> failure) {
    batch.done = true;
    batch.failure = std::move(failure);
    batch_done_.notify_all();
  }

  SqliteOptions options_;
  std::unique_ptr<Connection> writer_;
  int version_;
  GroupNameCache group_names_;

  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;

  std::mutex slot_mutex_;
  std::condition_variable slot_free_;
  std::condition_variable batch_done_;
  bool slot_busy_ = false;        // a logical transaction or a leader's COMMIT uses writer_
  std::size_t waiting_ = 0;       // threads waiting in begin_logical
  bool physical_open_ = false;    // slot holder only
  std::shared_ptr<Batch> batch_;  // released members awaiting COMMIT; null when none
};

std::int64_t clamp_nonnegative(std::int64_t value) {
  return std::max<std::int64_t>(value, 0);
}

std::optional<std::string> primary_email_key(const core::User& user) {
  if (const auto* email = core::primary_email(user)) {
    return core::fold_case(email->value);
  }
  return std::nullopt;
}

// A rule group's members as one BLOB: each member as its decimal length, ':', its bytes (any
// bytes, NUL included), so that no separator has to be excluded from DNs.
std::string encode_members(const std::vector<std::string>& members) {
  std::size_t size = 0;
  for (const auto& member : members) {
    size += member.size() + 8;
  }
  std::string out;
  out.reserve(size);
  for (const auto& member : members) {
    out += std::to_string(member.size());
    out += ':';
    out += member;
  }
  return out;
}

std::vector<std::string> decode_members(std::string_view bytes) {
  std::vector<std::string> members;
  while (!bytes.empty()) {
    const auto colon = bytes.find(':');
    std::size_t length = 0;
    const auto [end, error] = std::from_chars(bytes.data(), bytes.data() + colon, length);
    if (colon == std::string_view::npos || colon == 0 || error != std::errc() ||
        end != bytes.data() + colon || bytes.size() - colon - 1 < length) {
      throw core::StoreFailure("sqlite: a stored rule group's member list is damaged");
    }
    members.emplace_back(bytes.substr(colon + 1, length));
    bytes.remove_prefix(colon + 1 + length);
  }
  return members;
}

// The read half of the port over one connection; shared by readers and the writer (which reads
// its own uncommitted writes).
template <class Base>
class Queries : public Base {
 public:
  std::optional<core::TenantRecord> find_tenant(const core::TenantId& tenant) override {
    auto row = db().query("SELECT id, created FROM tenants WHERE id = ?", tenant.str());
    if (!row.step()) {
      return std::nullopt;
    }
    return core::TenantRecord{core::TenantId(row.text(0)), codec::from_millis(row.integer(1))};
  }

  std::vector<core::TenantRecord> list_tenants() override {
    std::vector<core::TenantRecord> out;
    auto rows = db().query("SELECT id, created FROM tenants ORDER BY rowid");
    while (rows.step()) {
      out.push_back({core::TenantId(rows.text(0)), codec::from_millis(rows.integer(1))});
    }
    return out;
  }

  std::optional<core::User> find_user(const core::TenantId& tenant,
                                      const core::UserId& id) override {
    return one_user(
        db().query("SELECT doc FROM users WHERE tenant = ? AND id = ?", tenant.str(), id.str()));
  }

  std::optional<core::User> find_user_by_user_name(std::string_view user_name) override {
    return one_user(
        db().query("SELECT doc FROM users WHERE user_name_key = ?", core::fold_case(user_name)));
  }

  std::vector<core::User> find_users_by_external_id(const core::TenantId& tenant,
                                                    std::string_view external_id) override {
    auto rows =
        db().query("SELECT doc FROM users WHERE tenant = ? AND external_id = ? ORDER BY seq",
                   tenant.str(), external_id);
    std::vector<core::User> users;
    while (rows.step()) {
      users.push_back(codec::decode_user(rows.text(0)));
    }
    return users;
  }

  std::optional<core::User> find_user_by_primary_email(const core::TenantId& tenant,
                                                       std::string_view email) override {
    return one_user(db().query("SELECT doc FROM users WHERE tenant = ? AND primary_email_key = ?",
                               tenant.str(), core::fold_case(email)));
  }

  std::vector<core::User> find_users_by_email(const core::TenantId& tenant,
                                              std::string_view email) override {
    auto rows = db().query(
        "SELECT users.doc FROM user_emails JOIN users ON users.tenant = user_emails.tenant AND "
        "users.id = user_emails.user_id WHERE user_emails.tenant = ? AND user_emails.email_key = ? "
        "ORDER BY users.seq",
        tenant.str(), core::fold_case(email));
    std::vector<core::User> users;
    while (rows.step()) {
      users.push_back(codec::decode_user(rows.text(0)));
    }
    return users;
  }

  std::optional<core::User> find_account_owner(const core::TenantId& tenant) override {
    return one_user(
        db().query("SELECT doc FROM users WHERE tenant = ? AND role = ? ORDER BY seq LIMIT 1",
                   tenant.str(), codec::to_text(core::Role::account_owner)));
  }

  std::optional<core::UserId> find_extension_owner(const core::TenantId& tenant,
                                                   std::string_view number) override {
    auto row = db().query("SELECT user_id FROM user_extensions WHERE tenant = ? AND number = ?",
                          tenant.str(), number);
    if (!row.step()) {
      return std::nullopt;
    }
    return core::UserId(row.text(0));
  }

  core::Page<core::User> list_users(const core::TenantId& tenant,
                                    const core::PageRequest& page) override {
    core::Page<core::User> out;
    out.total = count_users(tenant);
    auto rows =
        db().query("SELECT doc FROM users WHERE tenant = ? ORDER BY seq LIMIT ? OFFSET ?",
                   tenant.str(), clamp_nonnegative(page.limit), clamp_nonnegative(page.offset));
    while (rows.step()) {
      out.items.push_back(codec::decode_user(rows.text(0)));
    }
    return out;
  }

  void for_each_user(const core::TenantId& tenant,
                     const std::function<void(core::User&)>& each) override {
    // Creation order is rowid order: a scan of the table in rowid order, filtered by tenant,
    // needs no sort (the tenant's index would make SQLite sort every user of it first).
    auto rows =
        db().query("SELECT doc FROM users NOT INDEXED WHERE tenant = ? ORDER BY seq", tenant.str());
    while (rows.step()) {
      core::User user = codec::decode_user(rows.text(0));
      each(user);
    }
  }

  void for_each_user_where(const core::TenantId& tenant,
                           const std::function<bool(const core::UserRowKey&)>& wanted,
                           const std::function<void(core::User&)>& each) override {
    // The same scan as for_each_user; a row's document is read and decoded only when wanted.
    auto rows = db().query(
        "SELECT id, user_name, version, doc FROM users NOT INDEXED WHERE tenant = ? ORDER BY seq",
        tenant.str());
    while (rows.step()) {
      if (!wanted(core::UserRowKey{rows.text_view(0), rows.text_view(1), rows.integer(2)})) {
        continue;
      }
      core::User user = codec::decode_user(rows.text_view(3));
      each(user);
    }
  }

  std::int64_t count_users(const core::TenantId& tenant) override {
    auto row = db().query("SELECT count(*) FROM users WHERE tenant = ?", tenant.str());
    row.step();
    return row.integer(0);
  }

  std::optional<std::string> password_hash(const core::TenantId& tenant,
                                           const core::UserId& id) override {
    auto row = db().query("SELECT hash FROM passwords WHERE tenant = ? AND user_id = ?",
                          tenant.str(), id.str());
    if (!row.step()) {
      return std::nullopt;
    }
    return row.text(0);
  }

  std::optional<core::Group> find_group(const core::TenantId& tenant,
                                        const core::GroupId& id) override {
    return one_group(
        db().query("SELECT doc FROM groups WHERE tenant = ? AND id = ?", tenant.str(), id.str()));
  }

  std::optional<core::Group> find_group_by_display_name(const core::TenantId& tenant,
                                                        std::string_view display_name) override {
    return one_group(db().query("SELECT doc FROM groups WHERE tenant = ? AND display_name_key = ?",
                                tenant.str(), core::fold_case(display_name)));
  }

  std::vector<core::Group> find_groups_by_external_id(const core::TenantId& tenant,
                                                      std::string_view external_id) override {
    auto rows =
        db().query("SELECT doc FROM groups WHERE tenant = ? AND external_id = ? ORDER BY seq",
                   tenant.str(), external_id);
    std::vector<core::Group> groups;
    while (rows.step()) {
      groups.push_back(codec::decode_group(rows.text(0)));
    }
    return groups;
  }

  std::optional<core::Group> find_system_group(const core::TenantId& tenant) override {
    return one_group(
        db().query("SELECT doc FROM groups WHERE tenant = ? AND system = 1 ORDER BY seq LIMIT 1",
                   tenant.str()));
  }

  core::Page<core::Group> list_groups(const core::TenantId& tenant,
                                      const core::PageRequest& page) override {
    core::Page<core::Group> out;
    {
      auto row = db().query("SELECT count(*) FROM groups WHERE tenant = ?", tenant.str());
      row.step();
      out.total = row.integer(0);
    }
    auto rows =
        db().query("SELECT doc FROM groups WHERE tenant = ? ORDER BY seq LIMIT ? OFFSET ?",
                   tenant.str(), clamp_nonnegative(page.limit), clamp_nonnegative(page.offset));
    while (rows.step()) {
      out.items.push_back(codec::decode_group(rows.text(0)));
    }
    return out;
  }

  bool is_member(const core::TenantId& tenant, const core::GroupId& group,
                 const core::MemberRef& member) override {
    return db()
        .query(
            "SELECT 1 FROM group_members WHERE tenant = ? AND group_id = ? AND member_type = ? "
            "AND member_id = ?",
            tenant.str(), group.str(), codec::to_text(member.type), member.id)
        .step();
  }

  core::Page<core::MemberRef> list_members(const core::TenantId& tenant, const core::GroupId& group,
                                           const core::PageRequest& page) override {
    core::Page<core::MemberRef> out;
    {
      auto row = db().query("SELECT count(*) FROM group_members WHERE tenant = ? AND group_id = ?",
                            tenant.str(), group.str());
      row.step();
      out.total = row.integer(0);
    }
    auto rows = db().query(
        "SELECT member_type, member_id FROM group_members WHERE tenant = ? AND group_id = ? "
        "ORDER BY rowid LIMIT ? OFFSET ?",
        tenant.str(), group.str(), clamp_nonnegative(page.limit), clamp_nonnegative(page.offset));
    while (rows.step()) {
      out.items.push_back({codec::member_type_from_text(rows.text(0)), rows.text(1)});
    }
    return out;
  }

  std::vector<core::GroupId> groups_containing(const core::TenantId& tenant,
                                               const core::MemberRef& member) override {
    std::vector<core::GroupId> out;
    for (auto& [rowid, group] : membership_rows(tenant, member)) {
      out.emplace_back(std::move(group));
    }
    return out;
  }

  // Indexes only, no document decoded: the hot read behind every SCIM user resource (its
  // `groups` attribute).
  std::vector<core::GroupName> group_names_of_user(const core::TenantId& tenant,
                                                   const core::UserId& user) override {
    std::vector<core::GroupName> out;
    out.reserve(16);
    {
      auto row = db().query(
          "SELECT id, display_name FROM groups WHERE tenant = ? AND system = 1 ORDER BY seq "
          "LIMIT 1",
          tenant.str());
      if (row.step()) {
        out.push_back({core::GroupId(row.text(0)), row.text(1)});
      }
    }
    if (GroupNameCache* cache = group_name_cache()) {
      if (append_groups_named_from_cache(*cache, tenant, user, out)) {
        return out;
      }
    }
    append_groups_joined(tenant, user, out);
    return out;
  }

  // Index only (migration 6): the memberships index holds the group id (and, as in every index,
  // the row's rowid), groups_by_id_with_name the display name. The order they were joined in
  // (rowid) is restored here: an ORDER BY would make SQLite sort, since the index orders a
  // member's rows by group id.
  void append_groups_joined(const core::TenantId& tenant, const core::UserId& user,
                            std::vector<core::GroupName>& out) {
    auto rows = db().query(
        "SELECT group_members.rowid, groups.id, groups.display_name "
        "FROM group_members INDEXED BY group_members_by_member_with_group "
        "JOIN groups INDEXED BY groups_by_id_with_name ON "
        "groups.tenant = group_members.tenant AND groups.id = group_members.group_id "
        "WHERE group_members.tenant = ? AND group_members.member_type = ? AND "
        "group_members.member_id = ?",
        tenant.str(), codec::to_text(core::MemberType::user), user.str());
    std::vector<std::pair<std::int64_t, core::GroupName>> joined;
    while (rows.step()) {
      joined.push_back({rows.integer(0), {core::GroupId(rows.text(1)), rows.text(2)}});
    }
    std::sort(joined.begin(), joined.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    out.reserve(out.size() + joined.size());
    for (auto& [rowid, name] : joined) {
      out.push_back(std::move(name));
    }
  }

  // The same from the memberships index and the cache, reading only the names it misses. False
  // when the cache cannot serve this snapshot (GroupNameCache).
  bool append_groups_named_from_cache(GroupNameCache& cache, const core::TenantId& tenant,
                                      const core::UserId& user, std::vector<core::GroupName>& out) {
    const auto pinned = group_names_generation();
    if (!pinned) {
      return false;
    }
    const std::int64_t generation = *pinned;
    const std::size_t first = out.size();
    auto rows = membership_rows(tenant, {core::MemberType::user, user.str()});
    out.reserve(first + rows.size());
    for (auto& [rowid, group] : rows) {
      out.push_back({core::GroupId(std::move(group)), std::string()});
    }
    const auto missing = cache.fill(generation, tenant.str(), out, first);
    if (!missing) {
      out.resize(first);
      return false;
    }
    std::vector<std::size_t> gone;
    for (const std::size_t i : *missing) {
      auto row = db().query(
          "SELECT display_name FROM groups INDEXED BY groups_by_id_with_name "
          "WHERE tenant = ? AND id = ?",
          tenant.str(), out[i].id.str());
      if (!row.step()) {
        gone.push_back(i);  // the foreign key forbids it; as the join, list only existing groups
        continue;
      }
      out[i].display_name = row.text(0);
      cache.add(generation, tenant.str(), out[i].id, out[i].display_name);
    }
    for (auto it = gone.rbegin(); it != gone.rend(); ++it) {
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    return true;
  }

  // The groups `member` is in, as (membership rowid, group id) in the order they were joined.
  // The memberships index orders a member's rows by group id; the rowid order is restored here
  // rather than by an ORDER BY, which would make SQLite sort.
  std::vector<std::pair<std::int64_t, std::string>> membership_rows(const core::TenantId& tenant,
                                                                    const core::MemberRef& member) {
    std::vector<std::pair<std::int64_t, std::string>> rows_in_index_order;
    rows_in_index_order.reserve(16);
    auto rows = db().query(
        "SELECT rowid, group_id FROM group_members INDEXED BY group_members_by_member_with_group "
        "WHERE tenant = ? AND member_type = ? AND member_id = ?",
        tenant.str(), codec::to_text(member.type), member.id);
    while (rows.step()) {
      rows_in_index_order.emplace_back(rows.integer(0), rows.text(1));
    }
    std::sort(rows_in_index_order.begin(), rows_in_index_order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return rows_in_index_order;
  }

  std::vector<core::ChangeRecord> changes_after(core::ChangeSequence after,
                                                std::size_t limit) override {
    const auto bounded = static_cast<std::int64_t>(
        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
    std::vector<core::ChangeRecord> out;
    auto rows = db().query(
        "SELECT sequence, tenant, resource_type, resource_id, kind, version, actor_kind, "
        "actor_id, origin_kind, origin_source, at, attributes FROM changes WHERE sequence > ? "
        "ORDER BY sequence LIMIT ?",
        after, bounded);
    while (rows.step()) {
      core::ChangeRecord record;
      record.sequence = rows.integer(0);
      record.tenant = core::TenantId(rows.text(1));
      record.resource_type = codec::resource_type_from_text(rows.text(2));
      record.resource_id = rows.text(3);
      record.kind = codec::change_kind_from_text(rows.text(4));
      record.version = rows.integer(5);
      record.actor = {codec::actor_kind_from_text(rows.text(6)), rows.text(7)};
      record.origin = {codec::origin_kind_from_text(rows.text(8)), rows.text(9)};
      record.at = codec::from_millis(rows.integer(10));
      record.attributes = codec::decode_attributes(rows.text(11));
      out.push_back(std::move(record));
    }
    return out;
  }

  core::ChangeSequence last_change_sequence() override {
    return db().scalar("SELECT coalesce(max(sequence), 0) FROM changes");
  }

  std::vector<core::sync::DirectoryLink> list_links(std::string_view directory) override {
    // One statement stepping the primary key in order: a first full sync reads 100,000 links.
    // Reserved first: growing a vector of 100,000 links moved them about ten times (measured:
    // a few percent of an unchanged re-sync).
    std::vector<core::sync::DirectoryLink> out;
    {
      auto count =
          db().query("SELECT count(*) FROM directory_links WHERE directory = ?", directory);
      if (count.step()) {
        out.reserve(static_cast<std::size_t>(count.integer(0)));
      }
    }
    auto rows = db().query(
        "SELECT anchor, tenant, user_id, disabled_by_sync_at, mapped_digest, settled_version "
        "FROM directory_links "
        "WHERE directory = ? ORDER BY anchor",
        directory);
    while (rows.step()) {
      out.push_back(link_of(rows, directory));
    }
    return out;
  }

  std::vector<core::sync::LinkState> link_states(std::string_view directory,
                                                 const core::TenantId& tenant) override {
    // One join, answered by the links' primary key and an index that carries each user's
    // version (migration 9): an unchanged re-sync of 100,000 users judged them by decoding
    // every link and scanning every user's row key, a quarter of its time. SQLite would pick the
    // unique users_by_id and read every user's row for its version: hence INDEXED BY.
    std::vector<core::sync::LinkState> out;
    {
      auto count =
          db().query("SELECT count(*) FROM directory_links WHERE directory = ? AND tenant = ?",
                     directory, tenant.str());
      if (count.step()) {
        out.reserve(static_cast<std::size_t>(count.integer(0)));
      }
    }
    auto rows = db().query(
        "SELECT l.anchor, l.user_id, l.mapped_digest, "
        "l.disabled_by_sync_at IS NULL AND l.mapped_digest <> '' AND "
        "u.version = l.settled_version "
        "FROM directory_links l JOIN users u INDEXED BY users_by_id_with_version "
        "ON u.tenant = l.tenant AND u.id = l.user_id "
        "WHERE l.directory = ? AND l.tenant = ? ORDER BY l.anchor",
        directory, tenant.str());
    while (rows.step()) {
      out.push_back({rows.text(0), core::UserId(rows.text(1)), rows.text(2), rows.integer(3) != 0});
    }
    return out;
  }

  std::optional<core::sync::DirectoryLink> find_link(std::string_view directory,
                                                     std::string_view anchor) override {
    auto row = db().query(
        "SELECT anchor, tenant, user_id, disabled_by_sync_at, mapped_digest, settled_version "
        "FROM directory_links "
        "WHERE directory = ? AND anchor = ?",
        directory, anchor);
    if (!row.step()) {
      return std::nullopt;
    }
    return link_of(row, directory);
  }

  std::optional<core::sync::DirectoryLink> find_link_of_user(std::string_view directory,
                                                             const core::TenantId& tenant,
                                                             const core::UserId& user) override {
    auto row = db().query(
        "SELECT anchor, tenant, user_id, disabled_by_sync_at, mapped_digest, settled_version "
        "FROM directory_links "
        "WHERE tenant = ? AND user_id = ? AND directory = ?",
        tenant.str(), user.str(), directory);
    if (!row.step()) {
      return std::nullopt;
    }
    return link_of(row, directory);
  }

  std::string sync_cursor(std::string_view directory) override {
    auto row = db().query("SELECT cursor FROM sync_cursors WHERE directory = ?", directory);
    return row.step() ? row.bytes(0) : std::string();
  }

  std::vector<core::sync::RuleGroupDigest> rule_group_digests(std::string_view directory) override {
    // SQLite decodes a row only up to the last column asked for: the members (after the digest)
    // and their overflow pages are not read.
    auto row = db().query(
        "SELECT group_dn, digest FROM sync_rule_groups WHERE directory = ? ORDER BY group_dn",
        directory);
    std::vector<core::sync::RuleGroupDigest> groups;
    while (row.step()) {
      groups.push_back({row.text(0), static_cast<std::uint64_t>(row.integer(1))});
    }
    return groups;
  }

  std::optional<core::sync::RuleGroupMembers> find_rule_group(std::string_view directory,
                                                              std::string_view group) override {
    auto row = db().query(
        "SELECT digest, members FROM sync_rule_groups WHERE directory = ? AND group_dn = ?",
        directory, group);
    if (!row.step()) {
      return std::nullopt;
    }
    return core::sync::RuleGroupMembers{std::string(group),
                                        static_cast<std::uint64_t>(row.integer(0)),
                                        decode_members(row.bytes(1))};
  }

  std::optional<core::sync::SyncRun> find_sync_run(std::int64_t id) override {
    auto row = db().query(
        "SELECT id, directory, kind, started, finished, outcome, read, planned, applied, failed, "
        "plan_id, plan_file, error FROM sync_runs WHERE id = ?",
        id);
    if (!row.step()) {
      return std::nullopt;
    }
    return run_of(row);
  }

  std::vector<core::sync::SyncRun> list_sync_runs(std::string_view directory,
                                                  std::size_t limit) override {
    const auto bounded = static_cast<std::int64_t>(
        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
    std::vector<core::sync::SyncRun> out;
    auto rows = directory.empty()
                    ? db().query(
                          "SELECT id, directory, kind, started, finished, outcome, read, planned, "
                          "applied, failed, plan_id, plan_file, error FROM sync_runs "
                          "ORDER BY id DESC LIMIT ?",
                          bounded)
                    : db().query(
                          "SELECT id, directory, kind, started, finished, outcome, read, planned, "
                          "applied, failed, plan_id, plan_file, error FROM sync_runs "
                          "WHERE directory = ? ORDER BY id DESC LIMIT ?",
                          directory, bounded);
    while (rows.step()) {
      out.push_back(run_of(rows));
    }
    return out;
  }

  std::vector<core::writeback::OutboxItem> outbox_items(std::string_view directory,
                                                        std::int64_t after_id,
                                                        std::size_t limit) override {
    std::vector<core::writeback::OutboxItem> out;
    auto rows = db().query("SELECT " OUTBOX_COLUMNS
                           " FROM writeback_outbox WHERE directory = ? AND id > ? "
                           "ORDER BY id LIMIT ?",
                           directory, after_id, bounded(limit));
    while (rows.step()) {
      out.push_back(outbox_item_of(rows));
    }
    return out;
  }

  std::vector<core::writeback::OutboxItem> outbox_items_of_user(std::string_view directory,
                                                                const core::TenantId& tenant,
                                                                const core::UserId& user) override {
    std::vector<core::writeback::OutboxItem> out;
    auto rows = db().query("SELECT " OUTBOX_COLUMNS
                           " FROM writeback_outbox "
                           "WHERE directory = ? AND tenant = ? AND user_id = ? ORDER BY id",
                           directory, tenant.str(), user.str());
    while (rows.step()) {
      out.push_back(outbox_item_of(rows));
    }
    return out;
  }

  std::vector<std::string> anchors_being_deleted(std::string_view directory) override {
    std::vector<std::string> out;
    auto rows = db().query(
        "SELECT DISTINCT anchor FROM writeback_outbox "
        "WHERE directory = ? AND kind = 'delete_user' AND anchor <> '' ORDER BY anchor",
        directory);
    while (rows.step()) {
      out.push_back(rows.text(0));
    }
    return out;
  }

  std::optional<core::writeback::OutboxItem> find_outbox_item(std::int64_t id) override {
    auto row = db().query("SELECT " OUTBOX_COLUMNS " FROM writeback_outbox WHERE id = ?", id);
    if (!row.step()) {
      return std::nullopt;
    }
    return outbox_item_of(row);
  }

  core::writeback::OutboxStats outbox_stats(std::string_view directory) override {
    core::writeback::OutboxStats stats;
    auto row = db().query(
        "SELECT count(*) FILTER (WHERE parked IS NULL), count(*) FILTER (WHERE parked IS NOT "
        "NULL), min(enqueued) FILTER (WHERE parked IS NULL) FROM writeback_outbox "
        "WHERE directory = ?",
        directory);
    if (row.step()) {
      stats.pending = row.integer(0);
      stats.parked = row.integer(1);
      if (!row.is_null(2)) {
        stats.oldest_pending = codec::from_millis(row.integer(2));
      }
    }
    return stats;
  }

  std::vector<core::writeback::Conflict> list_conflicts(std::string_view directory,
                                                        std::size_t limit) override {
    std::vector<core::writeback::Conflict> out;
    auto rows = directory.empty() ? db().query("SELECT " CONFLICT_COLUMNS
                                               " FROM writeback_conflicts ORDER BY id DESC LIMIT ?",
                                               bounded(limit))
                                  : db().query("SELECT " CONFLICT_COLUMNS
                                               " FROM writeback_conflicts WHERE directory = ? "
                                               "ORDER BY id DESC LIMIT ?",
                                               directory, bounded(limit));
    while (rows.step()) {
      out.push_back(conflict_of(rows));
    }
    return out;
  }

  std::int64_t count_conflicts(std::string_view directory) override {
    if (directory.empty()) {
      return db().scalar("SELECT count(*) FROM writeback_conflicts");
    }
    auto row =
        db().query("SELECT count(*) FROM writeback_conflicts WHERE directory = ?", directory);
    return row.step() ? row.integer(0) : 0;
  }

  std::string written_revision(std::string_view directory, std::string_view anchor) override {
    auto row =
        db().query("SELECT revision FROM written_revisions WHERE directory = ? AND anchor = ?",
                   directory, anchor);
    return row.step() ? row.text(0) : std::string();
  }

 protected:
  explicit Queries(Connection& connection) : connection_(&connection) {}

  static std::int64_t bounded(std::size_t limit) {
    return static_cast<std::int64_t>(
        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
  }

  Connection& db() {
    // A committed writer has handed the connection to the next writer: using it would race.
    if (connection_ == nullptr) {
      throw core::StoreFailure("sqlite: the write transaction is already finished");
    }
    return *connection_;
  }

  void detach() { connection_ = nullptr; }

  // Committed readers share a cache of group names; a writer, which sees its own uncommitted
  // work, must not read or fill it.
  virtual GroupNameCache* group_name_cache() { return nullptr; }
  // The `group_names` generation of this transaction's snapshot (only asked with a cache).
  virtual std::optional<std::int64_t> group_names_generation() { return std::nullopt; }

 private:
  static std::optional<core::User> one_user(sqlite::Statement&& row) {
    if (!row.step()) {
      return std::nullopt;
    }
    // Decoded straight from SQLite's copy of the row: the document is read once, never kept.
    return codec::decode_user(row.text_view(0));
  }

  // Columns: anchor, tenant, user_id, disabled_by_sync_at.
  static core::sync::DirectoryLink link_of(const sqlite::Statement& row,
                                           std::string_view directory) {
    core::sync::DirectoryLink link{std::string(directory), row.text(0), core::TenantId(row.text(1)),
                                   core::UserId(row.text(2)), std::nullopt};
    if (!row.is_null(3)) {
      link.disabled_by_sync_at = codec::from_millis(row.integer(3));
    }
    link.mapped_digest = row.text(4);
    link.settled_version = row.integer(5);
    return link;
  }

  // Columns: OUTBOX_COLUMNS.
  static core::writeback::OutboxItem outbox_item_of(const sqlite::Statement& row) {
    core::writeback::OutboxItem item;
    item.id = row.integer(0);
    item.directory = row.text(1);
    item.tenant = core::TenantId(row.text(2));
    item.user = core::UserId(row.text(3));
    item.anchor = row.text(4);
    item.kind = codec::write_kind_from_text(row.text(5));
    item.changes = codec::decode_attributes(row.text(6));
    item.group_dn = row.text(7);
    item.secret = row.bytes(8);
    item.actor = {codec::actor_kind_from_text(row.text(9)), row.text(10)};
    item.enqueued = codec::from_millis(row.integer(11));
    item.attempts = static_cast<int>(row.integer(12));
    if (!row.is_null(13)) {
      item.next_attempt = codec::from_millis(row.integer(13));
    }
    item.last_error = row.text(14);
    if (!row.is_null(15)) {
      item.parked = codec::from_millis(row.integer(15));
    }
    return item;
  }

  // Columns: CONFLICT_COLUMNS.
  static core::writeback::Conflict conflict_of(const sqlite::Statement& row) {
    core::writeback::Conflict conflict;
    conflict.id = row.integer(0);
    conflict.directory = row.text(1);
    conflict.tenant = core::TenantId(row.text(2));
    conflict.user = core::UserId(row.text(3));
    conflict.target = row.text(4);
    conflict.owner = codec::authority_from_text(row.text(5));
    conflict.kept = row.text(6);
    conflict.lost = row.text(7);
    conflict.lost_by = row.text(8);
    conflict.detected = codec::from_millis(row.integer(9));
    return conflict;
  }

  // Columns in the order of the sync_runs table.
  static core::sync::SyncRun run_of(const sqlite::Statement& row) {
    core::sync::SyncRun run;
    run.id = row.integer(0);
    run.directory = row.text(1);
    run.kind = codec::run_kind_from_text(row.text(2));
    run.started = codec::from_millis(row.integer(3));
    if (!row.is_null(4)) {
      run.finished = codec::from_millis(row.integer(4));
    }
    run.outcome = codec::run_outcome_from_text(row.text(5));
    run.read = row.integer(6);
    run.planned = row.integer(7);
    run.applied = row.integer(8);
    run.failed = row.integer(9);
    run.plan_id = row.text(10);
    run.plan_file = row.text(11);
    run.error = row.text(12);
    return run;
  }

  static std::optional<core::Group> one_group(sqlite::Statement&& row) {
    if (!row.step()) {
      return std::nullopt;
    }
    return codec::decode_group(row.text(0));
  }

  Connection* connection_;
};

class SqliteReader final : public Queries<core::StoreReader> {
 public:
  SqliteReader(std::shared_ptr<Shared> shared, std::unique_ptr<Connection> connection)
      : Queries(*connection), shared_(std::move(shared)), connection_(std::move(connection)) {
    connection_->exec("BEGIN");
    try {
      // A deferred transaction takes its WAL snapshot at the first read; reading now pins the
      // snapshot to the moment the reader was opened. What it reads is the snapshot's group-name
      // generation, which every user resource's groups need (GroupNameCache): one statement
      // fewer per read.
      auto row =
          connection_->query("SELECT value FROM store_generations WHERE name = 'group_names'");
      if (row.step()) {
        group_names_generation_ = row.integer(0);
      }
    } catch (...) {
      connection_->exec_noexcept("ROLLBACK");
      throw;
    }
  }

  ~SqliteReader() override {
    connection_->exec_noexcept("ROLLBACK");
    if (!connection_->in_transaction()) {
      shared_->release_reader(std::move(connection_));
    }
  }

 private:
  GroupNameCache* group_name_cache() override { return &shared_->group_names(); }
  std::optional<std::int64_t> group_names_generation() override { return group_names_generation_; }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Connection> connection_;
  std::optional<std::int64_t> group_names_generation_;
};

class NestedWriter;

// The write half of the port over the writer connection, shared by a logical transaction
// (SqliteWriter) and the transactions nested in it (NestedWriter): they differ only in how they
// begin, commit and roll back.
class WriterBase : public Queries<core::StoreWriter> {
 public:
  bool ensure_tenant(const core::TenantId& tenant, core::Timestamp now) override {
    require_open();
    db().query("INSERT OR IGNORE INTO tenants (id, created) VALUES (?, ?)", tenant.str(),
               codec::to_millis(now))
        .run();
    return db().changes() > 0;
  }

  void insert_user(const core::User& user) override {
    require_open();
    // Only the users row and the extension rows can break a uniqueness rule (emails are
    // INSERT OR IGNORE), and a failed statement undoes itself: without extensions the insert is
    // atomic without a savepoint, which a sync's batch of creates would otherwise pay per user.
    if (user.extensions.empty()) {
      insert_user_rows(user);
      return;
    }
    atomically([&] { insert_user_rows(user); });
  }

  bool update_user(const core::User& user, core::ResourceVersion expected_version) override {
    require_open();
    return atomically([&] {
      db().query(
              "UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?, "
              "primary_email_key = ?, role = ?, version = ?, created = ?, last_modified = ?, "
              "doc = ? WHERE tenant = ? AND id = ? AND version = ?",
              user.user_name, core::fold_case(user.user_name), user.external_id,
              primary_email_key(user), codec::to_text(user.role), user.version,
              codec::to_millis(user.created), codec::to_millis(user.last_modified),
              codec::encode_user(user), user.tenant.str(), user.id.str(), expected_version)
          .run();
      if (db().changes() == 0) {
        return false;
      }
      db().query("DELETE FROM user_extensions WHERE tenant = ? AND user_id = ?", user.tenant.str(),
                 user.id.str())
          .run();
      insert_extensions(user);
      db().query("DELETE FROM user_emails WHERE tenant = ? AND user_id = ?", user.tenant.str(),
                 user.id.str())
          .run();
      insert_emails(user);
      return true;
    });
  }

  // Most updates (a PATCH of a title, a sync of a changed attribute) leave every indexed value
  // alone: then one statement rewrites the document, and no index, email or extension row is
  // touched (the full update deletes and re-inserts them: over half of a PATCH's store work).
  bool update_user(const core::User& user, const core::User& stored) override {
    require_open();
    const bool same_keys = user.tenant == stored.tenant && user.id == stored.id &&
                           user.user_name == stored.user_name &&
                           user.external_id == stored.external_id && user.role == stored.role &&
                           primary_email_key(user) == primary_email_key(stored);
    if (!same_keys || !same_extension_rows(user, stored) || !same_email_rows(user, stored)) {
      return update_user(user, stored.version);
    }
    db().query(
            "UPDATE users SET version = ?, created = ?, last_modified = ?, doc = ? "
            "WHERE tenant = ? AND id = ? AND version = ?",
            user.version, codec::to_millis(user.created), codec::to_millis(user.last_modified),
            codec::encode_user(user), user.tenant.str(), user.id.str(), stored.version)
        .run();
    return db().changes() > 0;
  }

  bool delete_user(const core::TenantId& tenant, const core::UserId& id) override {
    require_open();
    return atomically([&] {
      // Explicit rather than relying on ON DELETE CASCADE alone: memberships reference users
      // polymorphically, and the PostgreSQL backend will spell the same steps.
      db().query(
              "DELETE FROM group_members WHERE tenant = ? AND member_type = 'user' AND "
              "member_id = ?",
              tenant.str(), id.str())
          .run();
      db().query("DELETE FROM user_extensions WHERE tenant = ? AND user_id = ?", tenant.str(),
                 id.str())
          .run();
      db().query("DELETE FROM passwords WHERE tenant = ? AND user_id = ?", tenant.str(), id.str())
          .run();
      db().query("DELETE FROM user_emails WHERE tenant = ? AND user_id = ?", tenant.str(), id.str())
          .run();
      db().query("DELETE FROM directory_links WHERE tenant = ? AND user_id = ?", tenant.str(),
                 id.str())
          .run();
      db().query("DELETE FROM users WHERE tenant = ? AND id = ?", tenant.str(), id.str()).run();
      return db().changes() > 0;
    });
  }

  void set_password_hash(const core::TenantId& tenant, const core::UserId& id,
                         const std::string& hash) override {
    require_open();
    db().query(
            "INSERT INTO passwords (tenant, user_id, hash) VALUES (?, ?, ?) "
            "ON CONFLICT (tenant, user_id) DO UPDATE SET hash = excluded.hash",
            tenant.str(), id.str(), hash)
        .run();
  }

  void insert_group(const core::Group& group) override {
    require_open();
    db().query(
            "INSERT INTO groups (id, tenant, display_name, display_name_key, external_id, kind, "
            "system, version, created, last_modified, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            group.id.str(), group.tenant.str(), group.display_name,
            core::fold_case(group.display_name), group.external_id, codec::to_text(group.kind),
            group.system, group.version, codec::to_millis(group.created),
            codec::to_millis(group.last_modified), codec::encode_group(group))
        .run();
  }

  bool update_group(const core::Group& group, core::ResourceVersion expected_version) override {
    require_open();
    db().query(
            "UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, kind = ?, "
            "system = ?, version = ?, created = ?, last_modified = ?, doc = ? "
            "WHERE tenant = ? AND id = ? AND version = ?",
            group.display_name, core::fold_case(group.display_name), group.external_id,
            codec::to_text(group.kind), group.system, group.version,
            codec::to_millis(group.created), codec::to_millis(group.last_modified),
            codec::encode_group(group), group.tenant.str(), group.id.str(), expected_version)
        .run();
    return db().changes() > 0;
  }

  bool delete_group(const core::TenantId& tenant, const core::GroupId& id) override {
    require_open();
    return atomically([&] {
      db().query(
              "DELETE FROM group_members WHERE tenant = ? AND member_type = 'group' AND "
              "member_id = ?",
              tenant.str(), id.str())
          .run();
      db().query("DELETE FROM group_members WHERE tenant = ? AND group_id = ?", tenant.str(),
                 id.str())
          .run();
      db().query("DELETE FROM groups WHERE tenant = ? AND id = ?", tenant.str(), id.str()).run();
      return db().changes() > 0;
    });
  }

  bool add_member(const core::TenantId& tenant, const core::GroupId& group,
                  const core::MemberRef& member) override {
    require_open();
    db().query(
            "INSERT OR IGNORE INTO group_members (tenant, group_id, member_type, member_id) "
            "VALUES (?, ?, ?, ?)",
            tenant.str(), group.str(), codec::to_text(member.type), member.id)
        .run();
    return db().changes() > 0;
  }

  bool remove_member(const core::TenantId& tenant, const core::GroupId& group,
                     const core::MemberRef& member) override {
    require_open();
    db().query(
            "DELETE FROM group_members WHERE tenant = ? AND group_id = ? AND member_type = ? AND "
            "member_id = ?",
            tenant.str(), group.str(), codec::to_text(member.type), member.id)
        .run();
    return db().changes() > 0;
  }

  core::ChangeSequence append_change(const core::ChangeRecord& record) override {
    require_open();
    db().query(
            "INSERT INTO changes (tenant, resource_type, resource_id, kind, version, actor_kind, "
            "actor_id, origin_kind, origin_source, at, attributes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record.tenant.str(), codec::to_text(record.resource_type), record.resource_id,
            codec::to_text(record.kind), record.version, codec::to_text(record.actor.kind),
            record.actor.id, codec::to_text(record.origin.kind), record.origin.source,
            codec::to_millis(record.at), codec::encode_attributes(record.attributes))
        .run();
    return db().last_insert_rowid();
  }

  void put_link(const core::sync::DirectoryLink& link) override {
    require_open();
    // An upsert on the primary key only: the (tenant, user_id, directory) key still fails, as
    // one statement, so the transaction stays usable. INSERT OR REPLACE would instead delete
    // the user's other link silently.
    db().query(
            "INSERT INTO directory_links (directory, anchor, tenant, user_id, disabled_by_sync_at, "
            "mapped_digest, settled_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (directory, anchor) DO UPDATE SET "
            "tenant = excluded.tenant, user_id = excluded.user_id, "
            "disabled_by_sync_at = excluded.disabled_by_sync_at, "
            "mapped_digest = excluded.mapped_digest, settled_version = excluded.settled_version",
            link.directory, link.anchor, link.tenant.str(), link.user.str(),
            optional_millis(link.disabled_by_sync_at), link.mapped_digest,
            static_cast<std::int64_t>(link.settled_version))
        .run();
  }

  bool set_link_settled(const core::sync::DirectoryLink& link) override {
    require_open();
    db().query(
            "UPDATE directory_links SET mapped_digest = ?, settled_version = ? "
            "WHERE directory = ? AND anchor = ? AND tenant = ? AND user_id = ?",
            link.mapped_digest, static_cast<std::int64_t>(link.settled_version), link.directory,
            link.anchor, link.tenant.str(), link.user.str())
        .run();
    return db().changes() > 0;
  }

  bool delete_link(std::string_view directory, std::string_view anchor) override {
    require_open();
    db().query("DELETE FROM directory_links WHERE directory = ? AND anchor = ?", directory, anchor)
        .run();
    return db().changes() > 0;
  }

  void set_sync_cursor(std::string_view directory, const std::string& cursor) override {
    require_open();
    if (cursor.empty()) {
      db().query("DELETE FROM sync_cursors WHERE directory = ?", directory).run();
      return;
    }
    db().query(
            "INSERT INTO sync_cursors (directory, cursor) VALUES (?, ?) "
            "ON CONFLICT (directory) DO UPDATE SET cursor = excluded.cursor",
            directory, sqlite::Blob{cursor})
        .run();
  }

  void put_rule_group(std::string_view directory,
                      const core::sync::RuleGroupMembers& group) override {
    require_open();
    const std::string members = encode_members(group.members);
    db().query(
            "INSERT INTO sync_rule_groups (directory, group_dn, digest, members) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (directory, group_dn) DO UPDATE SET "
            "digest = excluded.digest, members = excluded.members",
            directory, group.group, static_cast<std::int64_t>(group.digest), sqlite::Blob{members})
        .run();
  }

  bool delete_rule_group(std::string_view directory, std::string_view group) override {
    require_open();
    db().query("DELETE FROM sync_rule_groups WHERE directory = ? AND group_dn = ?", directory,
               group)
        .run();
    return db().changes() > 0;
  }

  std::int64_t insert_sync_run(const core::sync::SyncRun& run) override {
    require_open();
    db().query(
            "INSERT INTO sync_runs (directory, kind, started, finished, outcome, read, planned, "
            "applied, failed, plan_id, plan_file, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run.directory, codec::to_text(run.kind), codec::to_millis(run.started),
            optional_millis(run.finished), codec::to_text(run.outcome), run.read, run.planned,
            run.applied, run.failed, run.plan_id, run.plan_file, run.error)
        .run();
    return db().last_insert_rowid();
  }

  bool update_sync_run(const core::sync::SyncRun& run) override {
    require_open();
    db().query(
            "UPDATE sync_runs SET directory = ?, kind = ?, started = ?, finished = ?, "
            "outcome = ?, read = ?, planned = ?, applied = ?, failed = ?, plan_id = ?, "
            "plan_file = ?, error = ? WHERE id = ?",
            run.directory, codec::to_text(run.kind), codec::to_millis(run.started),
            optional_millis(run.finished), codec::to_text(run.outcome), run.read, run.planned,
            run.applied, run.failed, run.plan_id, run.plan_file, run.error, run.id)
        .run();
    return db().changes() > 0;
  }

  std::int64_t enqueue_write(const core::writeback::OutboxItem& item) override {
    require_open();
    db().query(
            "INSERT INTO writeback_outbox (directory, tenant, user_id, anchor, kind, changes, "
            "group_dn, secret, actor_kind, actor_id, enqueued, attempts, next_attempt, "
            "last_error, parked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            item.directory, item.tenant.str(), item.user.str(), item.anchor,
            codec::to_text(item.kind), codec::encode_attributes(item.changes), item.group_dn,
            sqlite::Blob{item.secret}, codec::to_text(item.actor.kind), item.actor.id,
            codec::to_millis(item.enqueued), item.attempts, optional_millis(item.next_attempt),
            item.last_error, optional_millis(item.parked))
        .run();
    return db().last_insert_rowid();
  }

  bool update_write(const core::writeback::OutboxItem& item) override {
    require_open();
    db().query(
            "UPDATE writeback_outbox SET anchor = ?, changes = ?, secret = ?, attempts = ?, "
            "next_attempt = ?, last_error = ?, parked = ? WHERE id = ?",
            item.anchor, codec::encode_attributes(item.changes), sqlite::Blob{item.secret},
            item.attempts, optional_millis(item.next_attempt), item.last_error,
            optional_millis(item.parked), item.id)
        .run();
    return db().changes() > 0;
  }

  bool remove_write(std::int64_t id) override {
    require_open();
    db().query("DELETE FROM writeback_outbox WHERE id = ?", id).run();
    return db().changes() > 0;
  }

  std::int64_t insert_conflict(const core::writeback::Conflict& conflict) override {
    require_open();
    db().query(
            "INSERT INTO writeback_conflicts (directory, tenant, user_id, target, owner, kept, "
            "lost, lost_by, detected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            conflict.directory, conflict.tenant.str(), conflict.user.str(), conflict.target,
            codec::to_text(conflict.owner), conflict.kept, conflict.lost, conflict.lost_by,
            codec::to_millis(conflict.detected))
        .run();
    return db().last_insert_rowid();
  }

  void set_written_revision(std::string_view directory, std::string_view anchor,
                            const std::string& revision) override {
    require_open();
    if (revision.empty()) {
      db().query("DELETE FROM written_revisions WHERE directory = ? AND anchor = ?", directory,
                 anchor)
          .run();
      return;
    }
    db().query(
            "INSERT INTO written_revisions (directory, anchor, revision) VALUES (?, ?, ?) "
            "ON CONFLICT (directory, anchor) DO UPDATE SET revision = excluded.revision",
            directory, anchor, revision)
        .run();
  }

  std::unique_ptr<core::StoreWriter> nested() override;

 protected:
  WriterBase(Connection& connection, int depth) : Queries(connection), depth_(depth) {}

  // Called when this transaction ends without commit() while a transaction nested in it is
  // still alive (a caller's bug the port forbids): the savepoint this one rolls back to undoes
  // the nested work too, so the nested writer is only told it is finished.
  void abandon_nested() noexcept;

  void require_open() {
    if (!open_) {
      throw core::StoreFailure("sqlite: the write transaction is already finished");
    }
    if (nested_ != nullptr) {
      throw core::StoreFailure(
          "sqlite: the write transaction has a nested transaction open; finish that one first");
    }
    // After some errors SQLite rolls the whole transaction back by itself; statements run now
    // would each commit on their own, outside any savepoint.
    if (!db().in_transaction()) {
      throw core::StoreFailure("sqlite: the transaction was rolled back after an error");
    }
  }

  bool open_ = true;
  int depth_;  // 0 for a logical transaction, n for the n-th nested level

 private:
  friend class NestedWriter;

  static std::optional<std::int64_t> optional_millis(const std::optional<core::Timestamp>& at) {
    return at ? std::optional<std::int64_t>(codec::to_millis(*at)) : std::nullopt;
  }

  void insert_user_rows(const core::User& user) {
    db().query(
            "INSERT INTO users (id, tenant, user_name, user_name_key, external_id, "
            "primary_email_key, role, version, created, last_modified, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            user.id.str(), user.tenant.str(), user.user_name, core::fold_case(user.user_name),
            user.external_id, primary_email_key(user), codec::to_text(user.role), user.version,
            codec::to_millis(user.created), codec::to_millis(user.last_modified),
            codec::encode_user(user))
        .run();
    insert_extensions(user);
    insert_emails(user);
  }

  // Whether the rows insert_extensions and insert_emails write for `a` equal those of `b`. In
  // the same order only: a reordering rewrites the rows, which is correct, merely slower.
  static bool same_extension_rows(const core::User& a, const core::User& b) {
    return std::equal(a.extensions.begin(), a.extensions.end(), b.extensions.begin(),
                      b.extensions.end(),
                      [](const auto& x, const auto& y) { return x.number == y.number; });
  }
  static bool same_email_rows(const core::User& a, const core::User& b) {
    return std::equal(a.emails.begin(), a.emails.end(), b.emails.begin(), b.emails.end(),
                      [](const auto& x, const auto& y) {
                        return core::fold_case(x.value) == core::fold_case(y.value);
                      });
  }

  void insert_extensions(const core::User& user) {
    for (const auto& extension : user.extensions) {
      db().query("INSERT INTO user_extensions (tenant, number, user_id) VALUES (?, ?, ?)",
                 user.tenant.str(), extension.number, user.id.str())
          .run();
    }
  }

  void insert_emails(const core::User& user) {
    for (const auto& email : user.emails) {
      db().query("INSERT OR IGNORE INTO user_emails (tenant, email_key, user_id) VALUES (?, ?, ?)",
                 user.tenant.str(), core::fold_case(email.value), user.id.str())
          .run();
    }
  }

  // Runs a multi-statement operation so that it either happens whole or, when it throws (a
  // uniqueness violation), leaves the transaction as it was: the caller may go on and commit.
  template <class F>
  auto atomically(F&& operation) -> decltype(operation()) {
    db().query("SAVEPOINT operation").run();
    try {
      if constexpr (std::is_void_v<decltype(operation())>) {
        operation();
        db().query("RELEASE operation").run();
      } else {
        auto result = operation();
        db().query("RELEASE operation").run();
        return result;
      }
    } catch (...) {
      db().exec_noexcept("ROLLBACK TO operation");
      db().exec_noexcept("RELEASE operation");
      throw;
    }
  }

  NestedWriter* nested_ = nullptr;  // the live transaction nested directly in this one
};

// SQL for the savepoint of each nesting level. Distinct names keep levels apart from each other
// and from `logical` and `operation`; static strings let the statement cache keep them prepared.
struct SavepointSql {
  std::string begin;
  std::string release;
  std::string roll_back;
};
constexpr int max_nesting = 32;

const SavepointSql& savepoint_sql(int depth) {
  static const auto table = [] {
    std::array<SavepointSql, max_nesting + 1> out;
    for (int level = 1; level <= max_nesting; ++level) {
      const std::string name = "nested_" + std::to_string(level);
      out[level] = {"SAVEPOINT " + name, "RELEASE " + name, "ROLLBACK TO " + name};
    }
    return out;
  }();
  return table[depth];
}

// A savepoint inside its parent's transaction, on the same connection. commit() releases the
// savepoint into the parent (durable only when the outermost writer commits); it never touches
// the write slot or group commit.
class NestedWriter final : public WriterBase {
 public:
  // The savepoint is already open (WriterBase::nested).
  NestedWriter(Connection& connection, WriterBase& parent, int depth)
      : WriterBase(connection, depth), parent_(&parent), sql_(&savepoint_sql(depth)) {}

  ~NestedWriter() override {
    abandon_nested();
    if (open_) {
      roll_back();
    }
    leave_parent();
  }

  void commit() override {
    require_open();
    open_ = false;
    try {
      db().query(sql_->release.c_str()).run();
    } catch (...) {
      roll_back();
      leave_parent();
      throw;
    }
    leave_parent();
  }

 private:
  friend class WriterBase;

  void roll_back() noexcept {
    open_ = false;
    db().exec_noexcept(sql_->roll_back.c_str());
    db().exec_noexcept(sql_->release.c_str());
  }

  // This writer is finished: it no longer blocks its parent, and refuses further use.
  void leave_parent() noexcept {
    if (parent_ != nullptr) {
      parent_->nested_ = nullptr;
      parent_ = nullptr;
    }
    detach();
  }

  // The parent ended first and its rollback already undid this writer's work.
  void abandoned() noexcept {
    abandon_nested();
    open_ = false;
    parent_ = nullptr;
    detach();
  }

  WriterBase* parent_;
  const SavepointSql* sql_;
};

void WriterBase::abandon_nested() noexcept {
  if (nested_ != nullptr) {
    std::exchange(nested_, nullptr)->abandoned();
  }
}

std::unique_ptr<core::StoreWriter> WriterBase::nested() {
  require_open();
  if (depth_ >= max_nesting) {
    throw core::StoreFailure("sqlite: write transactions nested more than " +
                             std::to_string(max_nesting) + " deep");
  }
  const SavepointSql& sql = savepoint_sql(depth_ + 1);
  db().query(sql.begin.c_str()).run();
  std::unique_ptr<NestedWriter> child;
  try {
    child = std::make_unique<NestedWriter>(db(), *this, depth_ + 1);
  } catch (...) {
    db().exec_noexcept(sql.roll_back.c_str());
    db().exec_noexcept(sql.release.c_str());
    throw;
  }
  nested_ = child.get();
  return child;
}

// A logical transaction: holds the write slot and runs inside `SAVEPOINT logical` of a group
// commit batch (Shared).
class SqliteWriter final : public WriterBase {
 public:
  // `connection` holds the write slot and an open logical transaction (Shared::begin_logical).
  SqliteWriter(std::shared_ptr<Shared> shared, Connection& connection)
      : WriterBase(connection, 0), shared_(std::move(shared)) {}

  ~SqliteWriter() override {
    abandon_nested();
    if (open_) {
      // Only this writer's savepoint: earlier writers of the batch keep their work.
      shared_->roll_back_logical();
      shared_->end_logical(false);
    }
  }

  void commit() override {
    require_open();
    open_ = false;
    try {
      db().exec("RELEASE logical");
    } catch (...) {
      shared_->roll_back_logical();
      detach();
      shared_->end_logical(false);
      throw;
    }
    detach();
    // Blocks until the batch holding this transaction is durable; throws if its COMMIT failed.
    shared_->end_logical(true);
  }

 private:
  std::shared_ptr<Shared> shared_;
};

class SqliteStore final : public core::Store {
 public:
  explicit SqliteStore(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  std::unique_ptr<core::StoreReader> read() override {
    auto connection = shared_->acquire_reader();
    return std::make_unique<SqliteReader>(shared_, std::move(connection));
  }

  std::unique_ptr<core::StoreWriter> write() override {
    Connection& connection = shared_->begin_logical();
    try {
      return std::make_unique<SqliteWriter>(shared_, connection);
    } catch (...) {
      shared_->roll_back_logical();
      shared_->end_logical(false);
      throw;
    }
  }

  void check() override { read()->last_change_sequence(); }

  int schema_version() override { return shared_->version(); }

 private:
  std::shared_ptr<Shared> shared_;
};

void configure_writer(Connection& connection) {
  // FULL: every commit fsyncs the WAL, so an acknowledged commit survives power loss, not only
  // a crash of this process (NORMAL would only guarantee the latter in WAL mode). Savepoint
  // journals stay in memory up to 16 MiB (sqlite_db.cpp, journal_in_memory_bytes).
  connection.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
}

// A new file's directory entry is durable only once the directory itself is fsynced.
void sync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw core::StoreFailure("sqlite: cannot open the database directory to sync it");
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) {
    throw core::StoreFailure("sqlite: cannot sync the database directory");
  }
}

}  // namespace

std::unique_ptr<core::Store> open_sqlite_store(const SqliteOptions& options) {
  // SQLite's memory statistics take one process-wide mutex on every sqlite3_malloc and free, which
  // the readers on every I/O thread contended for. Only possible before SQLite initialises (the
  // first open); later calls fail harmlessly.
  static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  static_cast<void>(memstatus_off);
  const std::filesystem::path path = std::filesystem::absolute(options.path);
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    throw core::StoreFailure("sqlite: cannot create the database directory: " + error.message());
  }
  const bool created = !std::filesystem::exists(path, error);

  auto writer = std::make_unique<Connection>(path.string(), OpenMode::read_write_create,
                                             options.busy_timeout_ms);
  // Connection settings only: nothing is written before migrate() has checked the file.
  configure_writer(*writer);
  const int version = sqlite::migrate(*writer);
  if (created) {
    sync_directory(path.parent_path());
  }

  SqliteOptions normalised = options;
  normalised.path = path.string();
  auto shared = std::make_shared<Shared>(std::move(normalised), std::move(writer), version);
  return std::make_unique<SqliteStore>(std::move(shared));
}

int sqlite_schema_version() {
  return sqlite::latest_schema_version();
}

}  // namespace idbridge::store
