// Durability: a child process commits users one per transaction and acknowledges each after
// commit() returns; the parent SIGKILLs it mid-stream and checks every acknowledged user is
// in the reopened store and the file passes integrity_check.
#include "conformance.hpp"
#include "idbridge/store/sqlite_store.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace idbridge::store_test {
namespace {

constexpr int inserts = 200;
constexpr int acknowledgements_to_wait_for = 100;

store::SqliteOptions options_for(const testing::TempDir& dir) {
  store::SqliteOptions options;
  options.path = dir.file("idbridge.db");
  return options;
}

[[noreturn]] void run_child(const store::SqliteOptions& options, int ack_fd) {
  try {
    auto store = store::open_sqlite_store(options);
    {
      auto writer = store->write();
      writer->ensure_tenant(core::TenantId("acme"), at_millis(1));
      writer->commit();
    }
    for (int i = 0; i < inserts; ++i) {
      const auto id = "u" + std::to_string(i);
      auto writer = store->write();
      writer->insert_user(make_user("acme", id, "user" + std::to_string(i)));
      writer->commit();
      const auto line = id + "\n";
      if (::write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        ::_exit(3);
      }
    }
  } catch (...) {
    ::_exit(2);
  }
  ::_exit(0);
}

// Reads newline-terminated ids until `count` have arrived or the pipe closes.
std::vector<std::string> read_acknowledgements(int fd, int count) {
  std::vector<std::string> ids;
  std::string partial;
  char buffer[256];
  while (static_cast<int>(ids.size()) < count) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        ids.push_back(partial);
        partial.clear();
      } else {
        partial += buffer[i];
      }
    }
  }
  return ids;
}

std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return result;
}

TEST(SqliteDurability, AcknowledgedCommitsSurviveKill9) {
  testing::TempDir dir;
  const auto options = options_for(dir);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    run_child(options, fds[1]);
  }
  ::close(fds[1]);
  const auto acknowledged = read_acknowledgements(fds[0], acknowledgements_to_wait_for);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(acknowledgements_to_wait_for))
      << "the child stopped early, status " << status;
  EXPECT_TRUE(WIFSIGNALED(status) || WEXITSTATUS(status) == 0);

  auto store = store::open_sqlite_store(options);
  auto reader = store->read();
  for (const auto& id : acknowledged) {
    EXPECT_TRUE(reader->find_user(core::TenantId("acme"), core::UserId(id)).has_value()) << id;
  }
  EXPECT_GE(reader->count_users(core::TenantId("acme")), acknowledgements_to_wait_for);
  reader.reset();
  store.reset();
  EXPECT_EQ(integrity_check(options.path), "ok");
}

}  // namespace
}  // namespace idbridge::store_test
