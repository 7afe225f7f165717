// The text core writes for other modules: RFC 3339 timestamps (against gmtime_r and snprintf,
// which they replaced) and JSON string literals (against nlohmann's dump, byte for byte), at
// lengths and positions that exercise the word-at-a-time scan of json_text.cpp.
#include "idbridge/core/json_text.hpp"
#include "idbridge/core/model.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <random>
#include <string>

namespace idbridge::core {
namespace {

using namespace std::string_literals;

std::string libc_timestamp(std::int64_t millis) {
  const std::int64_t seconds = millis / 1000;  // truncated toward zero, as the old code did
  const std::time_t t = seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis - seconds * 1000));
  return buffer;
}

Timestamp at(std::int64_t millis) {
  return Timestamp(std::chrono::milliseconds(millis));
}

TEST(FormatTimestamp, EqualsGmtimeAndSnprintf) {
  std::vector<std::int64_t> samples{0,
                                    1,
                                    999,
                                    1000,
                                    86'399'999,
                                    86'400'000,
                                    951'782'400'000,    // 2000-02-29
                                    4'107'542'399'999,  // 2100-02-28T23:59:59.999
                                    4'107'542'400'000,  // 2100-03-01 (not a leap year)
                                    1'700'000'000'123,
                                    253'402'300'799'999,  // 9999-12-31T23:59:59.999
                                    253'402'300'800'000,  // year 10000: the libc path
                                    -1,
                                    -1'500,
                                    -86'400'001};
  std::mt19937_64 random(20261124);
  std::uniform_int_distribution<std::int64_t> any(0, 253'402'300'799'999);
  for (int i = 0; i < 2000; ++i) {
    samples.push_back(any(random));
  }
  for (const auto millis : samples) {
    EXPECT_EQ(format_timestamp(at(millis)), libc_timestamp(millis)) << millis;
  }
  EXPECT_EQ(format_timestamp(at(1'700'000'000'123)), "2023-11-14T22:13:20.123Z");
  std::string out = "x";
  append_timestamp(out, at(0));
  EXPECT_EQ(out, "x1970-01-01T00:00:00.000Z");
}

std::string dumped(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false);
}

TEST(JsonStringLiteral, EqualsTheDumpAtEveryPositionOfAWord) {
  // Each special byte at every offset of texts up to 40 bytes long, so that it falls in every
  // lane of an 8-byte word and in the tail after the last whole word.
  const std::vector<std::string> specials{"\"",   "\\",   "\x01", "\x1f", "\n",    "\t",
                                          "\0"s,  "\x7f", " ",    "é",    "日",    "😀",
                                          "\x20", "/",    "~",    "\x08", "\x0c\r"};
  for (std::size_t length = 0; length <= 40; ++length) {
    for (const auto& special : specials) {
      for (std::size_t position = 0; position <= length; ++position) {
        std::string text(length, 'a');
        text.insert(position, special);
        std::string out;
        ASSERT_TRUE(append_json_string_literal(out, text));
        EXPECT_EQ(out, dumped(text)) << length << " " << position;
      }
    }
  }
}

TEST(JsonStringLiteral, RefusesInvalidUtf8InAnyLaneAndPassesItThroughWhenAsked) {
  for (const auto& bad : {"\xff"s, "\xc0\xaf"s, "\xed\xa0\x80"s, "\xe2\x82"s}) {
    for (std::size_t position = 0; position <= 17; ++position) {
      std::string text(17, 'b');
      text.insert(position, bad);
      std::string out;
      EXPECT_FALSE(append_json_string_literal(out, text)) << position;
      std::string passed;
      ASSERT_TRUE(append_json_string_literal(passed, text, Utf8Check::pass_through));
      EXPECT_EQ(passed, "\"" + text + "\"");
    }
  }
}

TEST(JsonStringContent, IsTheLiteralWithoutItsQuotes) {
  std::string out = "<";
  ASSERT_TRUE(append_json_string_content(out, "a \"quoted\" \\ value\n over eight bytes"));
  EXPECT_EQ(out, "<a \\\"quoted\\\" \\\\ value\\n over eight bytes");
}

}  // namespace
}  // namespace idbridge::core
