// Schema migrations. PRAGMA user_version is the authoritative version (readable without any
// table); schema_migrations records when each step ran. Never edit a released migration: append
// a new one.
#include "schema.hpp"

#include "idbridge/core/error.hpp"

#include <chrono>
#include <span>
#include <string>

namespace idbridge::store::sqlite {
namespace {

// Lookup keys (*_key) hold core::fold_case of the value, so case-insensitive uniqueness and
// matching are plain indexed equality. `doc` holds the whole resource as JSON (codec.hpp); the
// other columns are copies kept for indexes, constraints and humans reading the file.
constexpr const char* migration_1 = R"sql(
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  applied_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tenants (
  id TEXT NOT NULL PRIMARY KEY,
  created INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  user_name TEXT NOT NULL,
  user_name_key TEXT NOT NULL,
  external_id TEXT,
  primary_email_key TEXT,
  role TEXT NOT NULL,
  version INTEGER NOT NULL,
  created INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  doc TEXT NOT NULL CHECK (json_valid(doc))
) STRICT;
CREATE UNIQUE INDEX users_by_id ON users (tenant, id);
CREATE UNIQUE INDEX users_by_user_name ON users (user_name_key);
CREATE UNIQUE INDEX users_by_primary_email ON users (tenant, primary_email_key)
  WHERE primary_email_key IS NOT NULL;
CREATE INDEX users_by_external_id ON users (tenant, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_by_role ON users (tenant, role);

CREATE TABLE user_extensions (
  tenant TEXT NOT NULL,
  number TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (tenant, number),
  FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX user_extensions_by_user ON user_extensions (tenant, user_id);

CREATE TABLE passwords (
  tenant TEXT NOT NULL,
  user_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (tenant, user_id),
  FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE groups (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  display_name TEXT NOT NULL,
  display_name_key TEXT NOT NULL,
  external_id TEXT,
  kind TEXT NOT NULL,
  system INTEGER NOT NULL CHECK (system IN (0, 1)),
  version INTEGER NOT NULL,
  created INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  doc TEXT NOT NULL CHECK (json_valid(doc))
) STRICT;
CREATE UNIQUE INDEX groups_by_id ON groups (tenant, id);
CREATE UNIQUE INDEX groups_by_display_name ON groups (tenant, display_name_key);
CREATE INDEX groups_by_external_id ON groups (tenant, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_system ON groups (tenant) WHERE system = 1;

-- A rowid table so members list in the order they were added; the primary key makes add and
-- remove one O(log n) probe, the second index serves groups_containing.
CREATE TABLE group_members (
  tenant TEXT NOT NULL,
  group_id TEXT NOT NULL,
  member_type TEXT NOT NULL CHECK (member_type IN ('user', 'group')),
  member_id TEXT NOT NULL,
  UNIQUE (tenant, group_id, member_type, member_id),
  FOREIGN KEY (tenant, group_id) REFERENCES groups (tenant, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX group_members_in_order ON group_members (tenant, group_id);
CREATE INDEX group_members_by_member ON group_members (tenant, member_type, member_id);

-- All Users' membership is implicit; a stored row for it would be a bug in the caller.
CREATE TRIGGER group_members_not_system BEFORE INSERT ON group_members
WHEN (SELECT system FROM groups WHERE tenant = NEW.tenant AND id = NEW.group_id) = 1
BEGIN
  SELECT RAISE(ABORT, 'the system group never has stored members');
END;

-- AUTOINCREMENT: a sequence is never reused, even after the newest record is gone.
CREATE TABLE changes (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  version INTEGER NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  origin_kind TEXT NOT NULL,
  origin_source TEXT NOT NULL,
  at INTEGER NOT NULL,
  attributes TEXT NOT NULL CHECK (json_valid(attributes))
) STRICT;
)sql";

// Every email of every user (primary and backup), so SCIM `emails.value eq` is an index probe.
// Backfilled from the documents of existing users; lower() folds ASCII like core::fold_case.
constexpr const char* migration_2 = R"sql(
CREATE TABLE user_emails (
  tenant TEXT NOT NULL,
  email_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (tenant, email_key, user_id),
  FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX user_emails_by_user ON user_emails (tenant, user_id);
INSERT OR IGNORE INTO user_emails (tenant, email_key, user_id)
  SELECT users.tenant, lower(json_extract(email.value, '$.value')), users.id
  FROM users, json_each(users.doc, '$.emails') AS email
  WHERE json_extract(email.value, '$.value') IS NOT NULL;
)sql";

// Directory sync state (core/sync/state.hpp). A user is linked at most once per directory: the
// unique key leads with (tenant, user_id) so that the same index serves find_link_of_user and
// the foreign key's cascade from users (SQLite probes the child table on every user delete).
// Timestamps are milliseconds since the epoch, as everywhere else. The cursor is a BLOB: an
// RFC 4533 cookie is an octet string.
constexpr const char* migration_3 = R"sql(
CREATE TABLE directory_links (
  directory TEXT NOT NULL,
  anchor TEXT NOT NULL,
  tenant TEXT NOT NULL,
  user_id TEXT NOT NULL,
  disabled_by_sync_at INTEGER,
  PRIMARY KEY (directory, anchor),
  UNIQUE (tenant, user_id, directory),
  FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE sync_cursors (
  directory TEXT NOT NULL PRIMARY KEY,
  cursor BLOB NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sync_runs (
  id INTEGER PRIMARY KEY,
  directory TEXT NOT NULL,
  kind TEXT NOT NULL,
  started INTEGER NOT NULL,
  finished INTEGER,
  outcome TEXT NOT NULL,
  read INTEGER NOT NULL,
  planned INTEGER NOT NULL,
  applied INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  plan_id TEXT NOT NULL,
  plan_file TEXT NOT NULL,
  error TEXT NOT NULL
) STRICT;
CREATE INDEX sync_runs_newest_per_directory ON sync_runs (directory, id DESC);
)sql";

// Write-back (core/writeback/outbox.hpp). Outbox rows have no foreign key to users: the write
// that deletes a user's directory entry outlives the user. Delivery walks a directory's rows in
// id order; a user's rows are found through their own index. `changes` is the JSON of change
// records' attributes; `secret` a sealed password or empty.
constexpr const char* migration_4 = R"sql(
CREATE TABLE writeback_outbox (
  id INTEGER PRIMARY KEY,
  directory TEXT NOT NULL,
  tenant TEXT NOT NULL,
  user_id TEXT NOT NULL,
  anchor TEXT NOT NULL,
  kind TEXT NOT NULL,
  changes TEXT NOT NULL,
  group_dn TEXT NOT NULL,
  secret BLOB NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  enqueued INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt INTEGER,
  last_error TEXT NOT NULL,
  parked INTEGER
) STRICT;
CREATE INDEX writeback_outbox_by_directory ON writeback_outbox (directory, id);
CREATE INDEX writeback_outbox_by_user ON writeback_outbox (directory, tenant, user_id, id);

CREATE TABLE writeback_conflicts (
  id INTEGER PRIMARY KEY,
  directory TEXT NOT NULL,
  tenant TEXT NOT NULL,
  user_id TEXT NOT NULL,
  target TEXT NOT NULL,
  owner TEXT NOT NULL,
  kept TEXT NOT NULL,
  lost TEXT NOT NULL,
  lost_by TEXT NOT NULL,
  detected INTEGER NOT NULL
) STRICT;
CREATE INDEX writeback_conflicts_newest ON writeback_conflicts (directory, id DESC);

CREATE TABLE written_revisions (
  directory TEXT NOT NULL,
  anchor TEXT NOT NULL,
  revision TEXT NOT NULL,
  PRIMARY KEY (directory, anchor)
) STRICT, WITHOUT ROWID;
)sql";

// What a link's user was last settled to (core/sync/state.hpp, DirectoryLink): the digest of the
// entry's mapping and the user's version then. Existing links get '' and 0, which match no
// digest and no version: their users are compared in full once, as before, and settled then.
constexpr const char* migration_5 = R"sql(
ALTER TABLE directory_links ADD COLUMN mapped_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE directory_links ADD COLUMN settled_version INTEGER NOT NULL DEFAULT 0;
)sql";

// Reading a user's groups (every SCIM user response) touches only indexes: the memberships
// index carries the group id and the second groups index the display name, so each membership
// costs one index descent instead of three (membership row, groups_by_id, group row). The new
// memberships index answers every lookup the old one did (same leading columns), so that one
// goes. groups_by_id stays: the memberships' foreign key needs its exact unique key.
constexpr const char* migration_6 = R"sql(
CREATE INDEX group_members_by_member_with_group
  ON group_members (tenant, member_type, member_id, group_id);
DROP INDEX group_members_by_member;
CREATE INDEX groups_by_id_with_name ON groups (tenant, id, display_name);
)sql";

// The members of the groups a directory's rules name, stored with its cursor
// (core/sync/state.hpp, RuleGroupMembers): one row per group, its members one BLOB (each member
// as its decimal length, ':', its bytes), rewritten whole when the group's digest changes. The
// digest is the reader's unsigned 64-bit value, stored with the same bits as a signed INTEGER.
// A rowid table: a member list can fill many pages, which a WITHOUT ROWID row should not.
constexpr const char* migration_7 = R"sql(
CREATE TABLE sync_rule_groups (
  directory TEXT NOT NULL,
  group_dn TEXT NOT NULL,
  digest INTEGER NOT NULL,
  members BLOB NOT NULL,
  PRIMARY KEY (directory, group_dn)
) STRICT;
)sql";

// Readers keep the display names of groups in memory (sqlite_store.cpp, GroupNameCache). A
// counter that every rename and delete of a group moves, in the same transaction, tells a reader
// whether the names it kept still hold for its snapshot, whichever process made the change.
constexpr const char* migration_8 = R"sql(
CREATE TABLE store_generations (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO store_generations (name, value) VALUES ('group_names', 0);
CREATE TRIGGER group_renamed AFTER UPDATE OF display_name ON groups
WHEN OLD.display_name IS NOT NEW.display_name
BEGIN
  UPDATE store_generations SET value = value + 1 WHERE name = 'group_names';
END;
CREATE TRIGGER group_deleted AFTER DELETE ON groups
BEGIN
  UPDATE store_generations SET value = value + 1 WHERE name = 'group_names';
END;
)sql";

// A full directory sync judges which users it may leave unread by joining the directory's links
// with their users' versions (link_states). Through users_by_id that join read the users' table
// rows, a page read per user (0.35 s at 100,000 users, a sixth of an unchanged re-sync); this
// index answers it alone (0.07 s). users_by_id stays: it is the key the foreign keys name. The
// cost is one more index entry to move when a user's version does, on every user write.
constexpr const char* migration_9 = R"sql(
CREATE INDEX users_by_id_with_version ON users (tenant, id, version);
)sql";

constexpr const char* migrations[] = {migration_1, migration_2, migration_3,
                                      migration_4, migration_5, migration_6,
                                      migration_7, migration_8, migration_9};

[[noreturn]] void refuse(const std::string& why) {
  throw core::StoreFailure("sqlite: " + why);
}

std::int64_t now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check_identity(Connection& connection) {
  // Reading the header fails with SQLITE_NOTADB for a file that is not SQLite at all; nothing
  // is written before these checks pass, so a foreign file is left as it was.
  std::int64_t app_id = 0;
  std::int64_t version = 0;
  std::int64_t objects = 0;
  try {
    app_id = connection.scalar("PRAGMA application_id");
    version = connection.scalar("PRAGMA user_version");
    objects = connection.scalar("SELECT count(*) FROM sqlite_schema");
  } catch (const core::StoreFailure& failure) {
    refuse(std::string("the file is not an idbridge database: ") + failure.what());
  }
  const bool empty = app_id == 0 && version == 0 && objects == 0;
  if (!empty && app_id != application_id) {
    refuse("the file is an SQLite database but not an idbridge one (application_id " +
           std::to_string(app_id) + ")");
  }
  if (version > latest_schema_version()) {
    refuse("the database has schema version " + std::to_string(version) +
           ", newer than this binary's " + std::to_string(latest_schema_version()));
  }
}

}  // namespace

int latest_schema_version() {
  return static_cast<int>(std::size(migrations));
}

int migrate(Connection& connection) {
  check_identity(connection);
  {
    auto mode = connection.query("PRAGMA journal_mode=WAL");
    if (!mode.step() || mode.text(0) != "wal") {
      refuse("cannot switch the database to WAL mode");
    }
  }
  const std::span<const char* const> steps(migrations);
  for (std::size_t index = 0; index < steps.size(); ++index) {
    const auto target = static_cast<std::int64_t>(index + 1);
    // A cheap check outside the transaction, repeated inside it because another process may
    // have migrated in between.
    if (connection.scalar("PRAGMA user_version") >= target) {
      continue;
    }
    connection.exec("BEGIN IMMEDIATE");
    try {
      if (connection.scalar("PRAGMA user_version") < target) {
        connection.exec(steps[index]);
        connection
            .query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", target,
                   now_millis())
            .run();
        // PRAGMAs take no parameters; both values are integers this code formats.
        const std::string header = "PRAGMA application_id = " + std::to_string(application_id) +
                                   "; PRAGMA user_version = " + std::to_string(target) + ";";
        connection.exec(header.c_str());
      }
      connection.exec("COMMIT");
    } catch (...) {
      connection.exec_noexcept("ROLLBACK");
      throw;
    }
  }
  return static_cast<int>(connection.scalar("PRAGMA user_version"));
}

}  // namespace idbridge::store::sqlite
