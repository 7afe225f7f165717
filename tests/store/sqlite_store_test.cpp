// The SQLite backend: its conformance instantiation, and what only SQLite has (the file, its
// migrations, pragmas and what it refuses to open), checked with sqlite3 directly.
#include "idbridge/store/sqlite_store.hpp"
#include "conformance.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace idbridge::store_test {
namespace {

std::unique_ptr<core::Store> open_sqlite(const std::string& dir, unsigned readers = 4) {
  store::SqliteOptions options;
  options.path = dir + "/idbridge.db";
  options.reader_connections = readers;
  return store::open_sqlite_store(options);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(StoreBackend{
                             "sqlite", [](const std::string& dir) { return open_sqlite(dir); }}),
                         backend_name);

// A raw connection to inspect or tamper with the file behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path;
    }
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error != nullptr ? error : "?");
    }
    sqlite3_free(error);
  }

  // The first column of the first row as text ("" when there is none).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

  // Every table, index and trigger definition, in name order: equal for equal schemas.
  std::string schema() {
    return text("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)");
  }

  // The `detail` column of every EXPLAIN QUERY PLAN row, joined by " | ".
  std::string query_plan(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string details;
    if (sqlite3_prepare_v2(db_, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) !=
        SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return details;
    }
    // EXPLAIN QUERY PLAN rows: id, parent, notused, detail.
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      details += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      details += " | ";
    }
    sqlite3_finalize(stmt);
    return details;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Turns today's schema back into the one a binary of schema `version` left, undoing each later
// migration in reverse order, so a test can check that migrating forward again keeps the data
// and ends with the schema of a new file.
void downgrade_to(RawDb& raw, int version) {
  // undo[i] reverts migration i + 1; migrations 1 and 2 are never undone here.
  static const char* const undo[] = {
      nullptr,
      nullptr,
      "DROP TABLE directory_links; DROP TABLE sync_cursors; DROP TABLE sync_runs;",
      "DROP TABLE writeback_outbox; DROP TABLE writeback_conflicts; "
      "DROP TABLE written_revisions;",
      "ALTER TABLE directory_links DROP COLUMN settled_version; "
      "ALTER TABLE directory_links DROP COLUMN mapped_digest;",
      "DROP INDEX groups_by_id_with_name; DROP INDEX group_members_by_member_with_group; "
      "CREATE INDEX group_members_by_member ON group_members (tenant, member_type, member_id);",
      "DROP TABLE sync_rule_groups;",
      "DROP TRIGGER group_renamed; DROP TRIGGER group_deleted; DROP TABLE store_generations;",
      "DROP INDEX users_by_id_with_version;",
  };
  const int latest = static_cast<int>(std::size(undo));
  ASSERT_EQ(latest, store::sqlite_schema_version()) << "a new migration needs its undo here";
  std::string sql = "BEGIN;";
  for (int step = latest; step > version; --step) {
    ASSERT_NE(undo[step - 1], nullptr) << "migration " << step << " has no undo";
    sql += undo[step - 1];
  }
  sql += "DELETE FROM schema_migrations WHERE version > " + std::to_string(version) +
         "; PRAGMA user_version = " + std::to_string(version) + "; COMMIT;";
  raw.exec(sql);
  ASSERT_EQ(raw.text("PRAGMA user_version"), std::to_string(version));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class SqliteStore : public ::testing::Test {
 protected:
  std::string db_path() const { return dir_.file("idbridge.db"); }

  testing::TempDir dir_;
};

TEST_F(SqliteStore, NewFileIsMigratedToTheLatestVersionInWalMode) {
  open_sqlite(dir_.path().string())->check();
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(store::sqlite_schema_version()));
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("PRAGMA application_id"), std::to_string(0x49444252));
  EXPECT_EQ(raw.text("SELECT count(*) FROM schema_migrations"),
            std::to_string(store::sqlite_schema_version()));
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%' AND sql NOT LIKE '%STRICT%'"),
            "0");
}

TEST_F(SqliteStore, CreatesTheDatabaseDirectory) {
  store::SqliteOptions options;
  options.path = dir_.file("a/b/idbridge.db");
  store::open_sqlite_store(options)->check();
  EXPECT_TRUE(std::filesystem::exists(options.path));
}

TEST_F(SqliteStore, OpeningAMigratedFileIsANoOp) {
  open_sqlite(dir_.path().string());
  std::string schema_before;
  std::string history_before;
  {
    RawDb raw(db_path());
    schema_before = raw.text("SELECT group_concat(sql, ';') FROM sqlite_schema");
    history_before = raw.text(
        "SELECT group_concat(version || ':' || applied_at) FROM "
        "schema_migrations");
  }
  auto store = open_sqlite(dir_.path().string());
  EXPECT_EQ(store->schema_version(), store::sqlite_schema_version());
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("SELECT group_concat(sql, ';') FROM sqlite_schema"), schema_before);
  EXPECT_EQ(raw.text("SELECT group_concat(version || ':' || applied_at) FROM schema_migrations"),
            history_before);
}

TEST_F(SqliteStore, MigratingAVersion2DatabaseKeepsItsDataAndAddsTheSyncState) {
  // A version-2 file: today's schema with the later migrations undone, as a version-2 binary
  // left it.
  std::string fresh_schema;
  {
    auto store = open_sqlite(dir_.path().string());
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    writer->insert_user(full_user("acme", "u1", "zoe"));
    writer->insert_group(make_group("acme", "g1", "Support"));
    writer->add_member(core::TenantId("acme"), core::GroupId("g1"), {core::MemberType::user, "u1"});
    writer->append_change(make_change("acme", "u1", 7));
    writer->commit();
  }
  {
    RawDb raw(db_path());
    fresh_schema = raw.schema();
    downgrade_to(raw, 2);
  }

  auto store = open_sqlite(dir_.path().string());
  EXPECT_EQ(store->schema_version(), store::sqlite_schema_version());
  {
    auto reader = store->read();
    EXPECT_EQ(reader->find_user(core::TenantId("acme"), core::UserId("u1")),
              full_user("acme", "u1", "zoe"));
    EXPECT_TRUE(reader->is_member(core::TenantId("acme"), core::GroupId("g1"),
                                  {core::MemberType::user, "u1"}));
    EXPECT_EQ(reader->changes_after(0, 10).size(), 1U);
    EXPECT_TRUE(reader->list_links("ldap").empty());
    EXPECT_TRUE(reader->list_sync_runs("", 10).empty());
    EXPECT_TRUE(reader->outbox_items("ldap", 0, 10).empty());
    EXPECT_EQ(reader->count_conflicts(""), 0);
  }
  {
    auto writer = store->write();
    writer->put_link(make_link("ldap", "a", "acme", "u1"));
    writer->insert_sync_run(make_run("ldap", 5));
    writer->commit();
  }
  EXPECT_EQ(store->read()->find_link_of_user("ldap", core::TenantId("acme"), core::UserId("u1")),
            make_link("ldap", "a", "acme", "u1"));
  store.reset();
  RawDb raw(db_path());
  EXPECT_EQ(raw.schema(), fresh_schema) << "a migrated file has the schema of a new one";
  EXPECT_EQ(raw.text("SELECT group_concat(version) FROM schema_migrations"), "1,2,3,4,5,6,7,8,9");
  EXPECT_EQ(raw.text("PRAGMA foreign_key_check"), "");
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST_F(SqliteStore, MigratingAVersion4DatabaseKeepsItsLinksWithoutADigest) {
  // A version-4 file with links: today's schema with migrations 5 and later undone, as a
  // version-4 binary left it.
  std::string fresh_schema;
  {
    auto store = open_sqlite(dir_.path().string());
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    writer->insert_user(full_user("acme", "u1", "zoe"));
    writer->insert_user(full_user("acme", "u2", "yves"));
    auto disabled = make_link("ldap", "b", "acme", "u2");
    disabled.disabled_by_sync_at = at_millis(42);
    writer->put_link(make_link("ldap", "a", "acme", "u1"));
    writer->put_link(disabled);
    writer->commit();
  }
  {
    RawDb raw(db_path());
    fresh_schema = raw.schema();
    downgrade_to(raw, 4);
    ASSERT_EQ(raw.text("SELECT count(*) FROM pragma_table_info('directory_links') "
                       "WHERE name = 'mapped_digest'"),
              "0");
  }

  auto store = open_sqlite(dir_.path().string());
  EXPECT_EQ(store->schema_version(), store::sqlite_schema_version());
  auto disabled = make_link("ldap", "b", "acme", "u2");
  disabled.disabled_by_sync_at = at_millis(42);
  // No digest and version 0, which no user has: each is compared in full by the next sync.
  EXPECT_EQ(store->read()->list_links("ldap"),
            (std::vector{make_link("ldap", "a", "acme", "u1"), disabled}));
  {
    auto settled = make_link("ldap", "a", "acme", "u1");
    settled.mapped_digest = "0123456789abcdef0123456789abcdef";
    settled.settled_version = 1;
    auto writer = store->write();
    EXPECT_TRUE(writer->set_link_settled(settled));
    writer->commit();
    EXPECT_EQ(store->read()->find_link("ldap", "a"), settled);
  }
  store.reset();
  RawDb raw(db_path());
  EXPECT_EQ(raw.schema(), fresh_schema) << "a migrated file has the schema of a new one";
  EXPECT_EQ(raw.text("SELECT group_concat(version) FROM schema_migrations"), "1,2,3,4,5,6,7,8,9");
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST_F(SqliteStore, MigratingAVersion5DatabaseKeepsEachUsersGroupsInJoinOrder) {
  std::string fresh_schema;
  {
    auto store = open_sqlite(dir_.path().string());
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    writer->insert_user(full_user("acme", "u1", "zoe"));
    // Joined in an order that is neither the groups' ids nor their names.
    for (const auto* id : {"g2", "g3", "g1"}) {
      writer->insert_group(make_group("acme", id, std::string("Team ") + id));
    }
    for (const auto* id : {"g3", "g1", "g2"}) {
      writer->add_member(core::TenantId("acme"), core::GroupId(id), {core::MemberType::user, "u1"});
    }
    writer->commit();
  }
  {
    RawDb raw(db_path());
    fresh_schema = raw.schema();
    downgrade_to(raw, 5);
  }
  auto store = open_sqlite(dir_.path().string());
  std::vector<std::string> names;
  for (const auto& group :
       store->read()->group_names_of_user(core::TenantId("acme"), core::UserId("u1"))) {
    names.push_back(group.display_name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Team g3", "Team g1", "Team g2"}));
  {
    auto writer = store->write();
    EXPECT_TRUE(writer->remove_member(core::TenantId("acme"), core::GroupId("g1"),
                                      {core::MemberType::user, "u1"}));
    writer->commit();
  }
  EXPECT_EQ(store->read()->group_names_of_user(core::TenantId("acme"), core::UserId("u1")).size(),
            2U);
  store.reset();
  RawDb raw(db_path());
  EXPECT_EQ(raw.schema(), fresh_schema) << "a migrated file has the schema of a new one";
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

// Readers keep group names in memory (GroupNameCache); a rename or delete, in this process or
// another, must show in the next reader, and a reader opened before it keeps its snapshot's.
TEST_F(SqliteStore, AUsersGroupNamesFollowRenamesAndDeletesAndKeepEachSnapshot) {
  auto store = open_sqlite(dir_.path().string());
  const core::TenantId acme("acme");
  {
    auto writer = store->write();
    writer->ensure_tenant(acme, at_millis(1));
    writer->insert_user(full_user("acme", "u1", "zoe"));
    for (const auto* id : {"g1", "g2"}) {
      writer->insert_group(make_group("acme", id, std::string("Team ") + id));
      writer->add_member(acme, core::GroupId(id), {core::MemberType::user, "u1"});
    }
    writer->commit();
  }
  const auto names = [&](core::StoreReader& reader) {
    std::vector<std::string> out;
    for (const auto& group : reader.group_names_of_user(acme, core::UserId("u1"))) {
      out.push_back(group.id.str() + "=" + group.display_name);
    }
    return out;
  };
  const std::vector<std::string> before{"g1=Team g1", "g2=Team g2"};
  EXPECT_EQ(names(*store->read()), before);
  EXPECT_EQ(names(*store->read()), before);  // now from the cache

  auto old_snapshot = store->read();
  // Renamed by another store on the same file: another process, as far as the cache knows.
  auto other = open_sqlite(dir_.path().string());
  {
    auto writer = other->write();
    auto group = *writer->find_group(acme, core::GroupId("g1"));
    auto renamed = group;
    renamed.display_name = "Renamed";
    renamed.version = group.version + 1;
    ASSERT_TRUE(writer->update_group(renamed, group.version));
    writer->commit();
  }
  const std::vector<std::string> after{"g1=Renamed", "g2=Team g2"};
  EXPECT_EQ(names(*store->read()), after);
  EXPECT_EQ(names(*old_snapshot), before) << "a reader keeps the names of its snapshot";
  EXPECT_EQ(names(*store->read()), after);
  old_snapshot.reset();

  {
    auto writer = store->write();
    ASSERT_TRUE(writer->delete_group(acme, core::GroupId("g2")));
    writer->commit();
  }
  EXPECT_EQ(names(*store->read()), (std::vector<std::string>{"g1=Renamed"}));
  {
    // Membership changes need no invalidation: the names come from the snapshot's ids.
    auto writer = store->write();
    writer->insert_group(make_group("acme", "g3", "Team g3"));
    writer->add_member(acme, core::GroupId("g3"), {core::MemberType::user, "u1"});
    ASSERT_TRUE(writer->remove_member(acme, core::GroupId("g1"), {core::MemberType::user, "u1"}));
    writer->commit();
  }
  EXPECT_EQ(names(*store->read()), (std::vector<std::string>{"g3=Team g3"}));
}

TEST_F(SqliteStore, AUsersGroupsAreReadFromIndexesAlone) {
  auto store = open_sqlite(dir_.path().string());
  store.reset();
  RawDb raw(db_path());
  // The statement of StoreReader::group_names_of_user (sqlite_store.cpp): both tables through
  // covering indexes, so no membership row and no group row (with its document) is read.
  const std::string plan = raw.query_plan(
      "SELECT group_members.rowid, groups.id, groups.display_name "
      "FROM group_members INDEXED BY group_members_by_member_with_group "
      "JOIN groups INDEXED BY groups_by_id_with_name ON "
      "groups.tenant = group_members.tenant AND groups.id = group_members.group_id "
      "WHERE group_members.tenant = 'a' AND group_members.member_type = 'user' AND "
      "group_members.member_id = 'u'");
  EXPECT_NE(plan.find("USING COVERING INDEX group_members_by_member_with_group"), std::string::npos)
      << plan;
  EXPECT_NE(plan.find("USING COVERING INDEX groups_by_id_with_name"), std::string::npos) << plan;
}

TEST_F(SqliteStore, LinkStatesJoinTheLinksWithTheUsersVersionsFromIndexesAlone) {
  auto store = open_sqlite(dir_.path().string());
  store.reset();
  RawDb raw(db_path());
  // The statement of StoreReader::link_states (sqlite_store.cpp): the links in anchor order by
  // their primary key, each user's version from migration 9's index, no user row read.
  const std::string plan = raw.query_plan(
      "SELECT l.anchor, l.user_id, l.mapped_digest, "
      "l.disabled_by_sync_at IS NULL AND l.mapped_digest <> '' AND "
      "u.version = l.settled_version "
      "FROM directory_links l JOIN users u INDEXED BY users_by_id_with_version "
      "ON u.tenant = l.tenant AND u.id = l.user_id "
      "WHERE l.directory = 'd' AND l.tenant = 't' ORDER BY l.anchor");
  EXPECT_NE(plan.find("USING COVERING INDEX users_by_id_with_version"), std::string::npos) << plan;
  EXPECT_NE(plan.find("SEARCH l USING PRIMARY KEY"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// A write transaction whose savepoint journal outgrows the 16 MiB kept in memory spills it to a
// temporary file in one large write, which SQLite's unix VFS alone turns into SQLITE_FULL
// ("database or disk is full"); sqlite_vfs.cpp splits that write.
TEST_F(SqliteStore, AWriteWhoseJournalOutgrowsMemorySpillsToAFile) {
  auto store = open_sqlite(dir_.path().string());
  constexpr int users = 6000;  // one 4 KiB page each: 24 MiB of pages, all journaled below
  const std::string long_title(3000, 't');
  {
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    for (int i = 0; i < users; ++i) {
      auto user = make_user("acme", "u" + std::to_string(i), "user" + std::to_string(i));
      user.title = long_title;
      writer->insert_user(user);
    }
    writer->commit();
  }
  {
    // Every page already existed when the transaction began, so every change is journaled.
    auto writer = store->write();
    for (int i = 0; i < users; ++i) {
      auto user = make_user("acme", "u" + std::to_string(i), "user" + std::to_string(i));
      user.title = long_title;
      user.title.back() = 'u';
      user.version = 2;
      ASSERT_TRUE(writer->update_user(user, 1)) << i;
    }
    writer->commit();
  }
  auto reader = store->read();
  const auto last = reader->find_user(core::TenantId("acme"), core::UserId("u5999"));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->title.back(), 'u');
  EXPECT_EQ(last->version, 2);
}

TEST_F(SqliteStore, SyncStateStatementsUseIndexes) {
  auto store = open_sqlite(dir_.path().string());
  // The plans SQLite picks for the sync's hot statements: index or primary-key searches, never a
  // scan of a whole table or a temporary B-tree for the ORDER BY.
  for (const auto* sql : {
           "SELECT anchor, tenant, user_id, disabled_by_sync_at, mapped_digest, settled_version "
           "FROM directory_links WHERE directory = 'd' ORDER BY anchor",
           "UPDATE directory_links SET mapped_digest = 'x', settled_version = 1 "
           "WHERE directory = 'd' AND anchor = 'a' AND tenant = 't' AND user_id = 'u'",
           "SELECT anchor FROM directory_links WHERE tenant = 't' AND user_id = 'u' AND "
           "directory = 'd'",
           "DELETE FROM directory_links WHERE tenant = 't' AND user_id = 'u'",
           "SELECT id FROM sync_runs WHERE directory = 'd' ORDER BY id DESC LIMIT 5",
           "SELECT group_dn, digest FROM sync_rule_groups WHERE directory = 'd' ORDER BY group_dn",
           "SELECT digest, members FROM sync_rule_groups WHERE directory = 'd' AND group_dn = 'g'",
       }) {
    const std::string details = RawDb(db_path()).query_plan(sql);
    EXPECT_NE(details.find("SEARCH"), std::string::npos) << sql << ": " << details;
    EXPECT_EQ(details.find("SCAN"), std::string::npos) << sql << ": " << details;
    EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos) << sql << ": " << details;
  }
}

TEST_F(SqliteStore, RefusesADatabaseNewerThanTheBinary) {
  open_sqlite(dir_.path().string());
  RawDb(db_path()).exec("PRAGMA user_version = " +
                        std::to_string(store::sqlite_schema_version() + 1));
  try {
    open_sqlite(dir_.path().string());
    ADD_FAILURE() << "opened a newer database";
  } catch (const core::StoreFailure& failure) {
    EXPECT_NE(std::string(failure.what()).find("newer"), std::string::npos) << failure.what();
  }
}

TEST_F(SqliteStore, RefusesAFileThatIsNotADatabaseAndLeavesItAlone) {
  const std::string content(8192, 'x');
  const auto path = dir_.write("idbridge.db", content);
  EXPECT_THROW(open_sqlite(dir_.path().string()), core::StoreFailure);
  EXPECT_EQ(read_file(path), content);
}

TEST_F(SqliteStore, RefusesAnotherApplicationsDatabaseAndLeavesItAlone) {
  RawDb(db_path()).exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)");
  EXPECT_THROW(open_sqlite(dir_.path().string()), core::StoreFailure);
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.text("PRAGMA user_version"), "0");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema"), "1");
}

TEST_F(SqliteStore, CorruptDocumentIsAStoreFailure) {
  auto store = open_sqlite(dir_.path().string());
  {
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    writer->insert_user(make_user("acme", "u1", "alice"));
    writer->commit();
  }
  RawDb(db_path()).exec(R"(UPDATE users SET doc = '{"id": "u1", "userName": 5}')");
  EXPECT_THROW(store->read()->find_user(core::TenantId("acme"), core::UserId("u1")),
               core::StoreFailure);
}

TEST_F(SqliteStore, DocumentMissingFieldsDecodesThemAsDefaults) {
  // A document written before a field existed must still load.
  auto store = open_sqlite(dir_.path().string());
  {
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    writer->insert_user(full_user("acme", "u1", "alice"));
    writer->commit();
  }
  RawDb(db_path()).exec(
      R"(UPDATE users SET doc = '{"id": "u1", "tenant": "acme", "userName": "alice"}')");
  core::User expected;
  expected.id = core::UserId("u1");
  expected.tenant = core::TenantId("acme");
  expected.user_name = "alice";
  EXPECT_EQ(store->read()->find_user(core::TenantId("acme"), core::UserId("u1")), expected);
}

TEST_F(SqliteStore, ViolationMessagesCarryNoUserValues) {
  auto store = open_sqlite(dir_.path().string());
  auto alice = make_user("acme", "u1", "Secret.Alice");
  alice.emails = {{"secret.mail@example.com", "work", true}};
  alice.extensions = {{"987654", "HQ", true}};
  {
    auto writer = store->write();
    writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
    writer->insert_user(alice);
    writer->commit();
  }
  auto writer = store->write();
  auto clash = alice;
  clash.id = core::UserId("u2");
  try {
    writer->insert_user(clash);
    ADD_FAILURE() << "no violation";
  } catch (const core::StoreConstraintViolation& violation) {
    const std::string what = violation.what();
    for (const auto* value : {"Secret.Alice", "secret.alice", "secret.mail", "987654"}) {
      EXPECT_EQ(what.find(value), std::string::npos) << what;
    }
  }
}

TEST_F(SqliteStore, ReadersBeyondThePoolSizeAndReadersOutlivingTheStore) {
  auto store = open_sqlite(dir_.path().string(), 1);
  std::vector<std::unique_ptr<core::StoreReader>> readers;
  for (int i = 0; i < 4; ++i) {
    readers.push_back(store->read());
  }
  auto writer = store->write();
  writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
  writer->commit();
  writer.reset();
  store.reset();
  for (auto& reader : readers) {
    EXPECT_TRUE(reader->list_tenants().empty());
  }
  readers.clear();
  EXPECT_EQ(open_sqlite(dir_.path().string())->read()->list_tenants().size(), 1u);
}

TEST_F(SqliteStore, ForeignKeysAreEnforced) {
  auto store = open_sqlite(dir_.path().string());
  auto writer = store->write();
  // The tenant row must exist before its users (ensure_tenant first).
  EXPECT_THROW(writer->insert_user(make_user("nobody", "u1", "alice")), core::StoreFailure);
  writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
  EXPECT_THROW(writer->add_member(core::TenantId("acme"), core::GroupId("g404"),
                                  {core::MemberType::user, "u1"}),
               core::StoreFailure);
  EXPECT_THROW(writer->set_password_hash(core::TenantId("acme"), core::UserId("u404"), "hash"),
               core::StoreFailure);
}

}  // namespace
}  // namespace idbridge::store_test
