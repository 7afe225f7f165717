// A thin RAII layer over the sqlite3 C API: a connection with a prepared-statement cache, and a
// statement handle that resets itself. Every SQLite error becomes core::StoreFailure (or
// core::StoreConstraintViolation for the uniqueness rules the schema enforces); messages carry
// SQLite's text and the static SQL, never a bound value.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace idbridge::store::sqlite {

class Connection;

// Bytes bound as a BLOB rather than TEXT: opaque values that need not be UTF-8.
struct Blob {
  std::string_view bytes;
};

// A cached prepared statement in use; binds are 1-based in call order. Resets and clears its
// bindings on destruction so the cache can hand it out again.
class Statement {
 public:
  Statement(Connection& connection, sqlite3_stmt* stmt);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(std::string_view value);
  Statement& bind(const std::string& value) { return bind(std::string_view(value)); }
  Statement& bind(const char* value) { return bind(std::string_view(value)); }
  Statement& bind(std::int64_t value);
  Statement& bind(int value) { return bind(static_cast<std::int64_t>(value)); }
  Statement& bind(bool value) { return bind(static_cast<std::int64_t>(value ? 1 : 0)); }
  Statement& bind(const std::optional<std::string>& value);
  Statement& bind(std::optional<std::int64_t> value);
  Statement& bind(Blob value);

  // Advances; true when a row is available. Throws on error.
  bool step();
  // Steps a statement that returns no rows.
  void run();

  std::string text(int column) const;
  // The column's text without a copy: valid until the next step() or the statement's end.
  std::string_view text_view(int column) const;
  std::int64_t integer(int column) const;
  // The column's bytes, whatever its type (a BLOB, or TEXT with any bytes in it).
  std::string bytes(int column) const;
  bool is_null(int column) const;

 private:
  Connection* connection_;
  sqlite3_stmt* stmt_;
  int next_index_ = 1;
};

enum class OpenMode { read_write_create, read_only };

class Connection {
 public:
  Connection(const std::string& path, OpenMode mode, int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without parameters; a single statement is prepared once and
  // cached like query()'s.
  void exec(const char* sql);
  // As exec, but swallows errors: for rollbacks on paths that are already failing.
  void exec_noexcept(const char* sql) noexcept;

  // A cached statement for `sql` (a static string) with `args` bound.
  template <class... Args>
  Statement query(const char* sql, const Args&... args) {
    Statement statement(*this, prepare(sql));
    (statement.bind(args), ...);
    return statement;
  }

  // The single integer the first row of `sql` holds (0 when there is no row).
  std::int64_t scalar(const char* sql);

  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  bool in_transaction() const;
  // Installs sqlite3_commit_hook: a non-zero return from `hook` turns a COMMIT into a rollback
  // and makes it fail. Tests use it to inject a failed physical commit.
  void set_commit_hook(int (*hook)(void*), void* context);

  // Throws the exception matching SQLite result code `rc` on this connection.
  [[noreturn]] void fail(int rc, std::string_view sql) const;

 private:
  sqlite3_stmt* prepare(const char* sql);
  // The cached statement for `sql` when it is exactly one statement; nullptr otherwise.
  sqlite3_stmt* single_statement(const char* sql);

  sqlite3* db_ = nullptr;
  // Keyed by the address of the static SQL text: every call site passes a literal.
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace idbridge::store::sqlite
