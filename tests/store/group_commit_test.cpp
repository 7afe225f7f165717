// Group commit in the SQLite store: concurrent logical writers share physical COMMITs, a
// rolled-back member leaves the rest of its batch alone, a failed physical COMMIT fails every
// member, and acknowledged commits of concurrent writers survive SIGKILL.
#include "conformance.hpp"
#include "idbridge/store/sqlite_store.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kill_harness.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::store_test {
namespace {

using core::TenantId;
using core::UserId;

const TenantId acme{"acme"};

// Counts physical COMMITs and can make them fail, through the store's test hook.
struct CommitProbe {
  std::atomic<int> commits = 0;
  std::atomic<bool> fail = false;
};

store::SqliteOptions options_for(const testing::TempDir& dir, CommitProbe* probe = nullptr) {
  store::SqliteOptions options;
  options.path = dir.file("idbridge.db");
  // Batches then end only when nobody waits: the tests that count commits do not depend on how
  // fast a loaded machine hands the slot on.
  options.group_commit_max_age = std::chrono::seconds(60);
  if (probe != nullptr) {
    options.commit_allowed_for_testing = [probe] {
      ++probe->commits;
      return !probe->fail.load();
    };
  }
  return options;
}

std::unique_ptr<core::Store> open_with_tenant(const store::SqliteOptions& options) {
  auto store = store::open_sqlite_store(options);
  auto writer = store->write();
  writer->ensure_tenant(acme, at_millis(1));
  writer->commit();
  return store;
}

// Long enough for threads started just before to be blocked waiting for the write slot.
void let_threads_queue() {
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

TEST(SqliteGroupCommit, ManyThreadsCommitConcurrentlyWithoutLostUpdates) {
  testing::TempDir dir;
  CommitProbe probe;
  auto store = open_with_tenant(options_for(dir, &probe));
  {
    auto writer = store->write();
    writer->insert_user(make_user("acme", "counter", "counter"));
    writer->commit();
  }
  const int commits_before = probe.commits;
  constexpr int threads = 16;
  constexpr int rounds = 40;
  std::atomic<int> failures = 0;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        for (int round = 0; round < rounds; ++round) {
          auto writer = store->write();
          auto current = writer->find_user(acme, UserId("counter"));
          auto next = *current;
          next.version = current->version + 1;
          if (!writer->update_user(next, current->version)) {
            ++failures;
          }
          const auto n = std::to_string(t) + "-" + std::to_string(round);
          writer->insert_user(make_user("acme", "u" + n, "user" + n));
          writer->append_change(make_change("acme", "counter", next.version));
          writer->commit();
          // Acknowledged: a fresh snapshot must hold it.
          if (!store->read()->find_user(acme, UserId("u" + n))) {
            ++failures;
          }
        }
      } catch (const std::exception& error) {
        ADD_FAILURE() << error.what();
        ++failures;
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
  EXPECT_EQ(failures, 0);
  constexpr int total = threads * rounds;
  auto reader = store->read();
  EXPECT_EQ(reader->find_user(acme, UserId("counter"))->version, 1 + total);
  EXPECT_EQ(reader->count_users(acme), 1 + total);
  for (int t = 0; t < threads; ++t) {
    for (int round = 0; round < rounds; ++round) {
      const auto n = std::to_string(t) + "-" + std::to_string(round);
      EXPECT_TRUE(reader->find_user(acme, UserId("u" + n)).has_value()) << n;
    }
  }
  const auto log = reader->changes_after(0, 10'000);
  ASSERT_EQ(log.size(), static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < log.size(); ++i) {
    // Commit order: strictly increasing sequences, and the counter's versions in that order.
    EXPECT_EQ(log[i].version, static_cast<core::ResourceVersion>(i + 2));
    if (i > 0) {
      EXPECT_GT(log[i].sequence, log[i - 1].sequence);
    }
  }
  // Not asserted, as it depends on scheduling: how many logical commits each fsync carried.
  std::printf("group commit: %d logical commits in %d physical commits\n", total,
              probe.commits - commits_before);
}

TEST(SqliteGroupCommit, RolledBackMemberLeavesTheRestOfItsBatchIntact) {
  testing::TempDir dir;
  CommitProbe probe;
  auto store = open_with_tenant(options_for(dir, &probe));
  const int commits_before = probe.commits;

  auto first = store->write();
  first->insert_user(make_user("acme", "u1", "alice"));
  std::atomic<int> failures = 0;
  // Both wait for the slot while `first` holds it, so all three end up in one batch.
  std::thread rolls_back([&] {
    try {
      auto writer = store->write();
      writer->insert_user(make_user("acme", "u2", "bob"));
      // The batch's earlier, released member is visible here (same physical transaction).
      expect_violation(core::ErrorCode::user_name_taken,
                       [&] { writer->insert_user(make_user("acme", "u9", "alice")); });
      // Destroyed without commit().
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what();
      ++failures;
    }
  });
  std::thread commits([&] {
    try {
      auto writer = store->write();
      writer->insert_user(make_user("acme", "u3", "carol"));
      writer->commit();
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what();
      ++failures;
    }
  });
  let_threads_queue();
  first->commit();
  rolls_back.join();
  commits.join();
  EXPECT_EQ(failures, 0);

  auto reader = store->read();
  EXPECT_TRUE(reader->find_user(acme, UserId("u1")).has_value());
  EXPECT_FALSE(reader->find_user(acme, UserId("u2")).has_value());
  EXPECT_FALSE(reader->find_user(acme, UserId("u9")).has_value());
  EXPECT_TRUE(reader->find_user(acme, UserId("u3")).has_value());
  EXPECT_EQ(reader->count_users(acme), 2);
  EXPECT_EQ(probe.commits - commits_before, 1) << "the two commits did not share a batch";
}

TEST(SqliteGroupCommit, FailedPhysicalCommitFailsEveryMember) {
  testing::TempDir dir;
  CommitProbe probe;
  auto store = open_with_tenant(options_for(dir, &probe));
  probe.fail = true;

  auto first = store->write();
  first->insert_user(make_user("acme", "u1", "alice"));
  first->append_change(make_change("acme", "u1", 1));
  std::atomic<int> failed = 0;
  std::vector<std::thread> others;
  for (int i = 2; i <= 4; ++i) {
    others.emplace_back([&, i] {
      const auto id = "u" + std::to_string(i);
      auto writer = store->write();
      writer->insert_user(make_user("acme", id, "user" + std::to_string(i)));
      writer->append_change(make_change("acme", id, 1));
      try {
        writer->commit();
      } catch (const core::StoreFailure&) {
        ++failed;
      }
    });
  }
  let_threads_queue();
  EXPECT_THROW(first->commit(), core::StoreFailure);
  for (auto& other : others) {
    other.join();
  }
  EXPECT_EQ(failed, 3);
  {
    auto reader = store->read();
    EXPECT_EQ(reader->count_users(acme), 0);
    EXPECT_EQ(reader->last_change_sequence(), 0);
  }

  // The store recovers: the next transaction starts a fresh physical transaction.
  probe.fail = false;
  {
    auto writer = store->write();
    writer->insert_user(make_user("acme", "u5", "eve"));
    EXPECT_EQ(writer->append_change(make_change("acme", "u5", 1)), 1);
    writer->commit();
  }
  store.reset();
  auto reopened = store::open_sqlite_store(options_for(dir));
  auto reader = reopened->read();
  EXPECT_EQ(reader->count_users(acme), 1);
  EXPECT_TRUE(reader->find_user(acme, UserId("u5")).has_value());
}

TEST(SqliteGroupCommit, FailedCommitOfALoneWriterThrows) {
  testing::TempDir dir;
  CommitProbe probe;
  auto store = open_with_tenant(options_for(dir, &probe));
  probe.fail = true;
  auto writer = store->write();
  writer->insert_user(make_user("acme", "u1", "alice"));
  EXPECT_THROW(writer->commit(), core::StoreFailure);
  writer.reset();
  EXPECT_EQ(store->read()->count_users(acme), 0);
}

// The durability test with concurrent writers: a child with 8 writer threads acknowledges each
// commit after it returned; the parent SIGKILLs it and checks every acknowledged user.
constexpr int writer_threads = 8;
constexpr int inserts_per_thread = 100;
constexpr int acknowledgements_to_wait_for = 300;

[[noreturn]] void run_child(const store::SqliteOptions& options, int ack_fd) {
  try {
    auto store = open_with_tenant(options);
    std::vector<std::thread> threads;
    for (int t = 0; t < writer_threads; ++t) {
      threads.emplace_back([&, t] {
        try {
          for (int i = 0; i < inserts_per_thread; ++i) {
            const auto id = "u" + std::to_string(t) + "-" + std::to_string(i);
            auto writer = store->write();
            writer->insert_user(make_user("acme", id, "user" + id));
            writer->append_change(make_change("acme", id, 1));
            writer->commit();
            // One write(2) per line, shorter than PIPE_BUF: lines from threads never interleave.
            const auto line = id + "\n";
            if (::write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
              ::_exit(3);
            }
          }
        } catch (...) {
          ::_exit(2);
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  } catch (...) {
    ::_exit(2);
  }
  ::_exit(0);
}

TEST(SqliteGroupCommit, AcknowledgedCommitsOfConcurrentWritersSurviveKill9) {
  testing::TempDir dir;
  const auto options = options_for(dir);
  const auto killed = run_and_kill_after(acknowledgements_to_wait_for,
                                         [&](int ack_fd) { run_child(options, ack_fd); });
  ASSERT_TRUE(killed.forked);
  const auto& acknowledged = killed.acknowledged;
  const int status = killed.status;
  // One read may bring several threads' lines, so a few more than asked for may arrive.
  ASSERT_GE(acknowledged.size(), static_cast<std::size_t>(acknowledgements_to_wait_for))
      << "the child stopped early, status " << status;
  EXPECT_TRUE(WIFSIGNALED(status) || WEXITSTATUS(status) == 0);
  EXPECT_EQ(std::set<std::string>(acknowledged.begin(), acknowledged.end()).size(),
            acknowledged.size());

  auto store = store::open_sqlite_store(options);
  auto reader = store->read();
  for (const auto& id : acknowledged) {
    EXPECT_TRUE(reader->find_user(acme, UserId(id)).has_value()) << id;
  }
  const auto users = reader->count_users(acme);
  EXPECT_GE(users, acknowledgements_to_wait_for);
  // Each user and its change record were one transaction: both or neither survived.
  EXPECT_EQ(reader->changes_after(0, 10'000).size(), static_cast<std::size_t>(users));
  reader.reset();
  store.reset();
  EXPECT_EQ(integrity_check(options.path), "ok");
}

}  // namespace
}  // namespace idbridge::store_test
