// The paged reader against scripted server replies slapd never produces (fake_server.hpp):
// empty pages in mid-stream, cookies echoed back, a missing page control, continuation
// references, adminLimitExceeded, and AD range retrieval over the wire.
#include "fake_server.hpp"
#include "idbridge/ldap/client.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace idbridge::ldap {
namespace {

Entry person(const std::string& uid) {
  return Entry{"uid=" + uid + ",dc=example,dc=com", {{"uid", {uid}}}};
}

SearchRequest everything() {
  SearchRequest request;
  request.base_dn = "dc=example,dc=com";
  request.page_size = 2;
  return request;
}

struct Read {
  SearchOutcome outcome;
  std::vector<std::vector<Entry>> pages;
};

Read read_all(const fake::Server& server, const SearchRequest& request = everything()) {
  ConnectionSettings settings;
  settings.uri = server.uri();
  settings.operation_timeout = std::chrono::seconds(5);
  auto connection = Connection::open(settings).value();
  Read read;
  read.outcome = connection.search(
      request, [&](const std::vector<Entry>& page) { read.pages.push_back(page); });
  return read;
}

// RFC 2696 lets a server return an empty page with a cookie in mid-stream; only the empty
// cookie ends the read (ownCloud stopped at the first empty page and lost users).
TEST(Wire, EmptyPageWithACookieDoesNotEndTheRead) {
  fake::Server server([](const fake::Search& search) {
    fake::Reply reply;
    if (search.cookie == "") {
      reply.entries = {person("a"), person("b")};
      reply.cookie = "page-2";
    } else if (search.cookie == "page-2") {
      reply.cookie = "page-3";  // no entries
    } else if (search.cookie == "page-3") {
      reply.entries = {person("c")};
      reply.cookie = "";
    }
    return reply;
  });
  const auto read = read_all(server);
  ASSERT_TRUE(read.outcome.complete()) << read.outcome.detail;
  EXPECT_EQ(read.outcome.entries, 3u);
  EXPECT_EQ(read.outcome.pages, 3u);
  ASSERT_EQ(read.pages.size(), 3u);
  EXPECT_TRUE(read.pages[1].empty());
  const auto searches = server.searches();
  ASSERT_EQ(searches.size(), 3u);
  EXPECT_EQ(searches[0].cookie, "");
  EXPECT_EQ(searches[1].cookie, "page-2");
  EXPECT_EQ(searches[2].cookie, "page-3");
  EXPECT_EQ(searches[0].page_size, 2);
}

TEST(Wire, SuccessWithoutAPageControlIsIncomplete) {
  fake::Server server([](const fake::Search&) {
    fake::Reply reply;
    reply.entries = {person("a")};
    reply.cookie = std::nullopt;
    return reply;
  });
  const auto read = read_all(server);
  EXPECT_EQ(read.outcome.completeness, Completeness::missing_page_control);
  EXPECT_EQ(read.outcome.entries, 1u);
}

TEST(Wire, AdminLimitExceededIsIncomplete) {
  fake::Server server([](const fake::Search& search) {
    fake::Reply reply;
    if (search.cookie == "") {
      reply.entries = {person("a"), person("b")};
      reply.cookie = "next";
    } else {
      reply.result_code = 11;
    }
    return reply;
  });
  const auto read = read_all(server);
  EXPECT_EQ(read.outcome.completeness, Completeness::admin_limit_exceeded);
  EXPECT_EQ(read.outcome.ldap_code, 11);
  EXPECT_EQ(read.outcome.entries, 2u);
}

TEST(Wire, ReferralResultIsIncomplete) {
  fake::Server server([](const fake::Search&) {
    fake::Reply reply;
    reply.result_code = 10;
    reply.cookie = std::nullopt;
    return reply;
  });
  EXPECT_EQ(read_all(server).outcome.completeness, Completeness::referral_not_followed);
}

TEST(Wire, ContinuationReferenceIsIncompleteByDefault) {
  const auto script = [](const fake::Search&) {
    fake::Reply reply;
    reply.entries = {person("a")};
    reply.references = {"ldap://other.example.com/DC=DomainDnsZones,DC=example,DC=com"};
    return reply;
  };
  fake::Server strict(script);
  const auto read = read_all(strict);
  EXPECT_EQ(read.outcome.completeness, Completeness::referral_not_followed);
  EXPECT_EQ(read.outcome.referrals, 1u);

  fake::Server lenient(script);
  auto request = everything();
  request.referrals = ReferralPolicy::count_and_ignore;
  const auto counted = read_all(lenient, request);
  EXPECT_TRUE(counted.outcome.complete()) << counted.outcome.detail;
  EXPECT_EQ(counted.outcome.referrals, 1u);
}

std::vector<std::string> members(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) {
    out.push_back("uid=m" + std::to_string(i) + ",dc=example,dc=com");
  }
  return out;
}

// AD's reply shapes: the paged read carries `member;range=0-1`, base reads return the rest.
fake::Reply ad_group_reply(const fake::Search& search, bool fail_last) {
  fake::Reply reply;
  const std::string dn = "cn=staff,dc=example,dc=com";
  if (search.page_size) {
    reply.entries = {Entry{dn, {{"cn", {"staff"}}, {"member;range=0-1", members(0, 1)}}}};
    return reply;
  }
  reply.cookie = std::nullopt;  // base reads are not paged
  if (search.base != dn || search.attributes.size() != 1) {
    reply.result_code = 32;
  } else if (search.attributes[0] == "member;range=2-*") {
    reply.entries = {Entry{dn, {{"member;range=2-3", members(2, 3)}}}};
  } else if (search.attributes[0] == "member;range=4-*" && !fail_last) {
    reply.entries = {Entry{dn, {{"member;range=4-*", members(4, 4)}}}};
  } else {
    reply.result_code = 53;
  }
  return reply;
}

TEST(Wire, RangedMembersAreCompletedBeforeDelivery) {
  fake::Server server([](const fake::Search& search) { return ad_group_reply(search, false); });
  auto request = everything();
  request.attributes = {"cn", "member"};
  const auto read = read_all(server, request);
  ASSERT_TRUE(read.outcome.complete()) << read.outcome.detail;
  EXPECT_EQ(read.outcome.range_reads, 2u);
  ASSERT_EQ(read.pages.size(), 1u);
  ASSERT_EQ(read.pages[0].size(), 1u);
  const auto* member = read.pages[0][0].find("member");
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(member->description, "member");
  EXPECT_EQ(member->values, members(0, 4));
  const auto searches = server.searches();
  ASSERT_EQ(searches.size(), 3u);
  EXPECT_EQ(searches[1].scope, 0);  // base
  EXPECT_EQ(searches[1].attributes, (std::vector<std::string>{"member;range=2-*"}));
  EXPECT_EQ(searches[2].attributes, (std::vector<std::string>{"member;range=4-*"}));
}

// pg-ldap-sync read only the first chunk and revoked every membership: a failed follow-up read
// withholds the page and makes the read incomplete.
TEST(Wire, FailedRangeReadWithholdsThePage) {
  fake::Server server([](const fake::Search& search) { return ad_group_reply(search, true); });
  auto request = everything();
  request.attributes = {"cn", "member"};
  const auto read = read_all(server, request);
  EXPECT_EQ(read.outcome.completeness, Completeness::range_retrieval_failed);
  EXPECT_NE(read.outcome.detail.find("cn=staff,dc=example,dc=com"), std::string::npos);
  EXPECT_TRUE(read.pages.empty());
  EXPECT_EQ(read.outcome.entries, 0u);
}

TEST(Wire, RangeRetrievalOffDeliversChunksAsSent) {
  fake::Server server([](const fake::Search& search) { return ad_group_reply(search, false); });
  auto request = everything();
  request.ranges = RangeRetrieval::off;
  const auto read = read_all(server, request);
  ASSERT_TRUE(read.outcome.complete());
  ASSERT_EQ(read.pages.size(), 1u);
  EXPECT_NE(read.pages[0][0].find("member;range=0-1"), nullptr);
  EXPECT_EQ(read.outcome.range_reads, 0u);
}

}  // namespace
}  // namespace idbridge::ldap
