// Durability: a child process commits users one per transaction and acknowledges each after
// commit() returns; the parent SIGKILLs it mid-stream and checks every acknowledged user is
// in the reopened store and the file passes integrity_check.
#include "conformance.hpp"
#include "idbridge/store/sqlite_store.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kill_harness.hpp"

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

TEST(SqliteDurability, AcknowledgedCommitsSurviveKill9) {
  testing::TempDir dir;
  const auto options = options_for(dir);
  const auto killed = run_and_kill_after(acknowledgements_to_wait_for,
                                         [&](int ack_fd) { run_child(options, ack_fd); });
  ASSERT_TRUE(killed.forked);
  const auto& acknowledged = killed.acknowledged;
  const int status = killed.status;
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
