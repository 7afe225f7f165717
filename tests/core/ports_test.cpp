// The default ports: time-ordered ids sort in the order they were made, never repeat, and carry
// the UUIDv7 version and variant.
#include "idbridge/core/ports.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace idbridge::core {
namespace {

class SettableClock final : public Clock {
 public:
  Timestamp now() const override { return at; }
  Timestamp at = Timestamp(std::chrono::milliseconds(1'800'000'000'000));
};

TEST(TimeOrderedUuidGeneratorTest, IdsSortInCreationOrderEvenWithinOneMillisecondOrBackwards) {
  SettableClock clock;
  TimeOrderedUuidGenerator ids(clock);
  std::vector<std::string> made;
  for (int i = 0; i < 5000; ++i) {  // more than one millisecond's 4,096 counter values
    made.push_back(ids.next());
  }
  clock.at += std::chrono::milliseconds(5);
  made.push_back(ids.next());
  clock.at -= std::chrono::seconds(10);  // the clock steps back
  made.push_back(ids.next());
  made.push_back(ids.next());

  EXPECT_EQ(std::set<std::string>(made.begin(), made.end()).size(), made.size());
  for (std::size_t i = 1; i < made.size(); ++i) {
    ASSERT_LT(made[i - 1], made[i]) << "id " << i;
  }
  for (const auto& id : made) {
    ASSERT_EQ(id.size(), 36U);
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
  // 1,800,000,000,000 ms = 0x01a3185c5000: the first 48 bits are the creation time.
  EXPECT_EQ(made.front().substr(0, 13), "01a3185c-5000");
  EXPECT_EQ(made[5000].substr(0, 13), "01a3185c-5005");
}

TEST(TimeOrderedUuidGeneratorTest, TwoGeneratorsDoNotRepeatEachOther) {
  SettableClock clock;
  TimeOrderedUuidGenerator first(clock);
  TimeOrderedUuidGenerator second(clock);
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    EXPECT_TRUE(seen.insert(first.next()).second);
    EXPECT_TRUE(seen.insert(second.next()).second);
  }
}

}  // namespace
}  // namespace idbridge::core
