// read_ahead: a read on a thread of its own handing batches, in order and at most `depth` ahead,
// to a consumer on the caller's thread; failures on either side end both and reach the caller.
#include "idbridge/ldap/read_ahead.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace idbridge::ldap {
namespace {

using Batch = std::vector<int>;
using Deliver = std::function<void(Batch&)>;

TEST(ReadAhead, EveryBatchArrivesInOrderAndTheReadsOutcomeIsReturned) {
  std::vector<int> seen;
  const auto outcome = read_ahead<int, Batch>(
      [](const Deliver& deliver) {
        for (int i = 0; i < 100; ++i) {
          Batch batch{2 * i, 2 * i + 1};
          deliver(batch);
        }
        return 42;
      },
      [&](Batch& batch) { seen.insert(seen.end(), batch.begin(), batch.end()); });
  EXPECT_EQ(outcome, 42);
  ASSERT_EQ(seen.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
  }
}

TEST(ReadAhead, TheReadStaysAtMostDepthBatchesAheadOfTheConsumer) {
  std::atomic<int> delivered{0};
  std::atomic<int> consumed{0};
  int furthest_ahead = 0;
  read_ahead<int, Batch>(
      [&](const Deliver& deliver) {
        for (int i = 0; i < 50; ++i) {
          Batch batch{i};
          deliver(batch);
          ++delivered;
        }
        return 0;
      },
      [&](Batch&) {
        // A slow consumer: the reader would run far ahead if nothing held it back.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ++consumed;
        furthest_ahead = std::max(furthest_ahead, delivered.load() - consumed.load());
      },
      3);
  EXPECT_EQ(consumed.load(), 50);
  // Queued (3) plus the one being consumed: never the whole read at once.
  EXPECT_LE(furthest_ahead, 4);
  EXPECT_GE(furthest_ahead, 1) << "the read did go ahead of the consumer";
}

TEST(ReadAhead, AConsumerFailureStopsTheReadAndReachesTheCaller) {
  std::atomic<bool> read_saw_abandon{false};
  std::atomic<int> delivered{0};
  const auto read_and_fail = [&] {
    return read_ahead<int, Batch>(
        [&](const Deliver& deliver) {
          try {
            for (int i = 0; i < 1'000'000; ++i) {
              Batch batch{i};
              deliver(batch);
              ++delivered;
            }
          } catch (const ReadAbandoned&) {
            read_saw_abandon = true;
            throw;
          }
          return 0;
        },
        [&](Batch& batch) {
          if (batch[0] == 5) {
            throw std::runtime_error("mapping failed");
          }
        },
        2);
  };
  EXPECT_THROW(read_and_fail(), std::runtime_error);
  EXPECT_TRUE(read_saw_abandon.load());
  EXPECT_LT(delivered.load(), 20) << "the read stopped soon after the failure";
}

TEST(ReadAhead, AReadFailureReachesTheCallerAfterWhatWasReadBeforeIt) {
  std::vector<int> seen;
  try {
    read_ahead<int, Batch>(
        [](const Deliver& deliver) -> int {
          for (int i = 0; i < 3; ++i) {
            Batch batch{i};
            deliver(batch);
          }
          throw std::runtime_error("connection reset");
        },
        [&](Batch& batch) { seen.push_back(batch[0]); });
    FAIL() << "the read's exception was swallowed";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "connection reset");
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace idbridge::ldap
