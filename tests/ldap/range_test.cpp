// AD range retrieval against a scripted fake of the follow-up reads: slapd cannot produce
// `member;range=` values (`range=0-1499` is not a legal attribute option there), so the libldap
// side is only tested on slapd's non-ranged path (client_test.cpp); the loop is tested here.
#include "idbridge/ldap/range.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace idbridge::ldap {
namespace {

std::vector<std::string> values(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) {
    out.push_back("cn=u" + std::to_string(i) + ",dc=example,dc=com");
  }
  return out;
}

// Answers each request from a script and records what was asked.
struct ScriptedDirectory {
  std::map<std::string, RangeFetchResult> script;
  std::vector<std::string> requests;

  RangeFetch fetch() {
    return [this](const std::string& requested) {
      requests.push_back(requested);
      const auto found = script.find(requested);
      if (found == script.end()) {
        return RangeFetchResult{true, "unscripted request " + requested, {}};
      }
      return found->second;
    };
  }
};

RangeFetchResult chunk(std::string description, std::vector<std::string> chunk_values) {
  return RangeFetchResult{false, "", {Attribute{std::move(description), std::move(chunk_values)}}};
}

TEST(RangeRetrieval, FetchesUntilTheStarMarker) {
  ScriptedDirectory directory;
  directory.script["member;range=3-*"] = chunk("member;range=3-5", values(3, 5));
  directory.script["member;range=6-*"] = chunk("member;range=6-*", values(6, 7));
  const auto result = retrieve_ranges({"member;range=0-2", values(0, 2)}, directory.fetch());
  EXPECT_TRUE(result.complete()) << result.detail;
  EXPECT_EQ(result.base, "member");
  EXPECT_EQ(result.values, values(0, 7));
  EXPECT_EQ(result.reads, 2u);
  EXPECT_EQ(directory.requests, (std::vector<std::string>{"member;range=3-*", "member;range=6-*"}));
}

TEST(RangeRetrieval, AdSizedChunks) {
  ScriptedDirectory directory;
  directory.script["member;range=1500-*"] = chunk("member;range=1500-2999", values(1500, 2999));
  directory.script["member;range=3000-*"] = chunk("member;range=3000-*", values(3000, 3000));
  const auto result = retrieve_ranges({"member;range=0-1499", values(0, 1499)}, directory.fetch());
  ASSERT_TRUE(result.complete()) << result.detail;
  EXPECT_EQ(result.values.size(), 3001u);
}

TEST(RangeRetrieval, SingleChunkNeedsNoRead) {
  ScriptedDirectory directory;
  const auto result = retrieve_ranges({"member;range=0-*", values(0, 3)}, directory.fetch());
  EXPECT_TRUE(result.complete());
  EXPECT_EQ(result.values, values(0, 3));
  EXPECT_TRUE(directory.requests.empty());
}

TEST(RangeRetrieval, NamesAreCaseInsensitive) {
  ScriptedDirectory directory;
  directory.script["Member;range=2-*"] = chunk("MEMBER;RANGE=2-*", values(2, 2));
  const auto result = retrieve_ranges({"Member;Range=0-1", values(0, 1)}, directory.fetch());
  EXPECT_TRUE(result.complete()) << result.detail;
  EXPECT_EQ(result.values, values(0, 2));
}

TEST(RangeRetrieval, FailedReadIsIncompleteAndKeepsWhatWasRead) {
  ScriptedDirectory directory;
  directory.script["member;range=3-*"] = chunk("member;range=3-5", values(3, 5));
  directory.script["member;range=6-*"] = RangeFetchResult{true, "connection lost", {}};
  const auto result = retrieve_ranges({"member;range=0-2", values(0, 2)}, directory.fetch());
  EXPECT_FALSE(result.complete());
  EXPECT_EQ(result.status, RangeStatus::fetch_failed);
  EXPECT_NE(result.detail.find("connection lost"), std::string::npos);
  EXPECT_EQ(result.values.size(), 6u);
}

TEST(RangeRetrieval, MissingChunkIsIncomplete) {
  ScriptedDirectory directory;
  directory.script["member;range=3-*"] = RangeFetchResult{false, "", {{"cn", {"group"}}}};
  const auto result = retrieve_ranges({"member;range=0-2", values(0, 2)}, directory.fetch());
  EXPECT_EQ(result.status, RangeStatus::missing_chunk);
}

TEST(RangeRetrieval, GapIsIncomplete) {
  ScriptedDirectory directory;
  directory.script["member;range=3-*"] = chunk("member;range=4-*", values(4, 5));
  const auto result = retrieve_ranges({"member;range=0-2", values(0, 2)}, directory.fetch());
  EXPECT_EQ(result.status, RangeStatus::inconsistent);
}

TEST(RangeRetrieval, ShortChunkIsIncomplete) {
  ScriptedDirectory directory;
  const auto result = retrieve_ranges({"member;range=0-2", values(0, 1)}, directory.fetch());
  EXPECT_EQ(result.status, RangeStatus::inconsistent);
  EXPECT_TRUE(directory.requests.empty());
}

TEST(RangeRetrieval, FirstChunkMustStartAtZero) {
  ScriptedDirectory directory;
  const auto result = retrieve_ranges({"member;range=5-*", values(5, 6)}, directory.fetch());
  EXPECT_EQ(result.status, RangeStatus::inconsistent);
}

TEST(RangeRetrieval, NotRangedIsReported) {
  ScriptedDirectory directory;
  const auto result = retrieve_ranges({"member", values(0, 1)}, directory.fetch());
  EXPECT_EQ(result.status, RangeStatus::not_ranged);
}

struct ParseCase {
  std::string input;
  bool ok;
  std::string base;
  std::uint64_t low;
  std::optional<std::uint64_t> high;
};

TEST(RangeDescription, ParsesTable) {
  const std::vector<ParseCase> cases{
      {"member;range=0-1499", true, "member", 0, 1499},
      {"member;range=1500-*", true, "member", 1500, std::nullopt},
      {"member;Range=0-0", true, "member", 0, 0},
      {"member;binary;range=0-9", true, "member;binary", 0, 9},
      {"member;range=0-9;x-opt", true, "member;x-opt", 0, 9},
      {"member", false, "", 0, std::nullopt},
      {"range=0-5", false, "", 0, std::nullopt},
      {"member;range=5-1", false, "", 0, std::nullopt},
      {"member;range=a-b", false, "", 0, std::nullopt},
      {"member;range=0-", false, "", 0, std::nullopt},
      {"member;range=-5", false, "", 0, std::nullopt},
      {"member;range=0-1;range=2-3", false, "", 0, std::nullopt},
      {"member;range=0*", false, "", 0, std::nullopt},
  };
  for (const auto& c : cases) {
    const auto parsed = parse_ranged_description(c.input);
    ASSERT_EQ(parsed.has_value(), c.ok) << c.input;
    if (parsed) {
      EXPECT_EQ(parsed->base, c.base) << c.input;
      EXPECT_EQ(parsed->low, c.low) << c.input;
      EXPECT_EQ(parsed->high, c.high) << c.input;
    }
  }
}

}  // namespace
}  // namespace idbridge::ldap
