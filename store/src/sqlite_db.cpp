// The sqlite3 RAII layer and the mapping of SQLite errors to store exceptions.
#include "sqlite_db.hpp"

#include "sqlite_vfs.hpp"

#include "idbridge/core/error.hpp"

#include <array>
#include <cassert>
#include <cstring>
#include <mutex>
#include <utility>

namespace idbridge::store::sqlite {
namespace {

// SQLite names the columns of the violated unique index ("UNIQUE constraint failed:
// users.user_name_key"); each rule of DOMAIN.md the schema enforces has its own column set.
struct UniqueRule {
  std::string_view columns;
  core::ErrorCode code;
};
constexpr std::array<UniqueRule, 5> unique_rules{{
    {"users.user_name_key", core::ErrorCode::user_name_taken},
    {"users.tenant, users.primary_email_key", core::ErrorCode::email_taken},
    {"user_extensions.tenant, user_extensions.number", core::ErrorCode::extension_taken},
    {"groups.tenant, groups.display_name_key", core::ErrorCode::group_name_taken},
    // A user linked to a second object of the same directory. ErrorCode has no rule of its own
    // for it; the nearest is the userName clash that adoption by userName turns into.
    {"directory_links.tenant, directory_links.user_id, directory_links.directory",
     core::ErrorCode::user_name_taken},
}};

std::optional<core::ErrorCode> unique_rule_of(std::string_view message) {
  constexpr std::string_view prefix = "UNIQUE constraint failed: ";
  if (!message.starts_with(prefix)) {
    return std::nullopt;
  }
  message.remove_prefix(prefix.size());
  for (const auto& rule : unique_rules) {
    if (message == rule.columns) {
      return rule.code;
    }
  }
  return std::nullopt;
}

}  // namespace

Statement::Statement(Connection& connection, sqlite3_stmt* stmt)
    : connection_(&connection), stmt_(stmt) {}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      next_index_(other.next_index_) {}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::bind(std::string_view value) {
  const int rc = sqlite3_bind_text64(stmt_, next_index_++, value.data(), value.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    connection_->fail(rc, sqlite3_sql(stmt_));
  }
  return *this;
}

Statement& Statement::bind(std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, next_index_++, value);
  if (rc != SQLITE_OK) {
    connection_->fail(rc, sqlite3_sql(stmt_));
  }
  return *this;
}

Statement& Statement::bind(const std::optional<std::string>& value) {
  if (value) {
    return bind(std::string_view(*value));
  }
  const int rc = sqlite3_bind_null(stmt_, next_index_++);
  if (rc != SQLITE_OK) {
    connection_->fail(rc, sqlite3_sql(stmt_));
  }
  return *this;
}

Statement& Statement::bind(std::optional<std::int64_t> value) {
  if (value) {
    return bind(*value);
  }
  const int rc = sqlite3_bind_null(stmt_, next_index_++);
  if (rc != SQLITE_OK) {
    connection_->fail(rc, sqlite3_sql(stmt_));
  }
  return *this;
}

Statement& Statement::bind(Blob value) {
  // An empty view may have a null data pointer, which SQLite would bind as NULL.
  static constexpr char empty = 0;
  const int rc =
      sqlite3_bind_blob64(stmt_, next_index_++, value.bytes.empty() ? &empty : value.bytes.data(),
                          value.bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) {
    connection_->fail(rc, sqlite3_sql(stmt_));
  }
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  connection_->fail(rc, sqlite3_sql(stmt_));
}

void Statement::run() {
  while (step()) {
  }
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  if (data == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string_view Statement::text_view(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  if (data == nullptr) {
    return {};
  }
  return std::string_view(reinterpret_cast<const char*>(data),
                          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::bytes(int column) const {
  const auto* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) {
    return {};
  }
  return std::string(static_cast<const char*>(data),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

namespace {

// Savepoint (sub-)journals are kept in memory up to this size, in ONE allocation of this size
// (SQLite's in-memory journal uses the spill size as its chunk size), and spill to a temporary
// file past it. The default (64 KiB) spilled every sync page to a file; `temp_store=MEMORY`
// instead chains 1 KiB chunks, which every savepoint RELEASE or statement end walks from the
// start and frees one by one: a fifth of a first sync's CPU went to those walks and to malloc.
// Only the pages a transaction touches are ever resident. 16 MiB (4,000 pages) stays below
// glibc's largest mmap threshold, so the chunk is reused from the heap rather than mapped and
// unmapped for every write transaction. Spilling writes the chunk to the file in one call,
// which SQLite's unix VFS cannot do past 128 KiB: connections use journal_safe_vfs()
// (sqlite_vfs.cpp), which splits that write.
constexpr int journal_in_memory_bytes = 16 << 20;

void configure_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Refused (SQLITE_MISUSE) once the library is initialised, e.g. by another user of SQLite in
    // the process: the default then applies, which is slower but correct.
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, journal_in_memory_bytes);
  });
}

}  // namespace

Connection::Connection(const std::string& path, OpenMode mode, int busy_timeout_ms) {
  configure_library();
  // NOMUTEX: a connection is only ever used by one thread at a time (the write slot or the
  // reader that borrowed it), so SQLite's per-connection mutex would be pure overhead.
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= mode == OpenMode::read_only ? SQLITE_OPEN_READONLY
                                       : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, journal_safe_vfs());
  if (rc != SQLITE_OK) {
    std::string message = "sqlite: cannot open database: ";
    message += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw core::StoreFailure(message);
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db_);
}

void Connection::exec(const char* sql) {
  if (sqlite3_stmt* stmt = single_statement(sql)) {
    Statement(*this, stmt).run();
    return;
  }
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    fail(rc, sql);
  }
}

void Connection::exec_noexcept(const char* sql) noexcept {
  try {
    if (sqlite3_stmt* stmt = single_statement(sql)) {
      Statement statement(*this, stmt);
      while (sqlite3_step(stmt) == SQLITE_ROW) {
      }
      return;
    }
  } catch (...) {
    // Preparing failed: sqlite3_exec below fails the same way, silently.
  }
  sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}

// BEGIN, SAVEPOINT, RELEASE, COMMIT and ROLLBACK run for every transaction; sqlite3_exec would
// parse them each time. Unlike query(), exec() also takes built strings (migrations), so a
// cached statement is reused only while its text still matches what the pointer points to.
sqlite3_stmt* Connection::single_statement(const char* sql) {
  if (const auto it = statements_.find(sql); it != statements_.end()) {
    if (std::strcmp(sqlite3_sql(it->second), sql) == 0) {
      assert(sqlite3_stmt_busy(it->second) == 0);
      return it->second;
    }
    sqlite3_finalize(it->second);
    statements_.erase(it);
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK || stmt == nullptr || (tail != nullptr && *tail != '\0')) {
    // Several statements (or none, or an error that sqlite3_exec reports): not cached.
    sqlite3_finalize(stmt);
    return nullptr;
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

std::int64_t Connection::scalar(const char* sql) {
  auto statement = query(sql);
  return statement.step() ? statement.integer(0) : 0;
}

std::int64_t Connection::changes() const {
  return sqlite3_changes64(db_);
}

std::int64_t Connection::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

bool Connection::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

void Connection::set_commit_hook(int (*hook)(void*), void* context) {
  sqlite3_commit_hook(db_, hook, context);
}

void Connection::fail(int rc, std::string_view sql) const {
  const std::string message = sqlite3_errmsg(db_);
  std::string what = "sqlite: " + message + " (" + sqlite3_errstr(rc) + ") in: " + std::string(sql);
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    if (const auto rule = unique_rule_of(message)) {
      throw core::StoreConstraintViolation(*rule, what);
    }
  }
  throw core::StoreFailure(what);
}

sqlite3_stmt* Connection::prepare(const char* sql) {
  if (const auto it = statements_.find(sql); it != statements_.end()) {
    // A statement still stepping would be reset under its user; call sites never nest one.
    assert(sqlite3_stmt_busy(it->second) == 0);
    return it->second;
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    fail(rc, sql);
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

}  // namespace idbridge::store::sqlite
