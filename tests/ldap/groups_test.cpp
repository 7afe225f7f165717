// Client-side nested group resolution (GroupGraph): transitive groups, cycles, memberOf values
// outside the group bases, the order-independent digest, and the memory of a 100k-user directory.
#include "idbridge/ldap/groups.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <malloc.h>

#include <algorithm>
#include <random>

namespace idbridge::ldap {
namespace {

using ::testing::ElementsAre;

TEST(GroupGraph, GroupsAreTransitive) {
  GroupGraph graph;
  graph.add_group("cn=A,ou=g", {"uid=u1,ou=p"});
  graph.add_group("cn=B,ou=g", {"cn=A,ou=g", "uid=u2,ou=p"});
  graph.add_group("cn=C,ou=g", {"CN=B, OU=G"});  // spelling differs: same group
  graph.finish();
  EXPECT_THAT(graph.groups_of("uid=u1,ou=p", {}),
              ElementsAre("cn=A,ou=g", "cn=B,ou=g", "cn=C,ou=g"));
  EXPECT_THAT(graph.groups_of("UID=u2, ou=p", {}), ElementsAre("cn=B,ou=g", "cn=C,ou=g"));
  EXPECT_THAT(graph.groups_of("uid=u3,ou=p", {}), ElementsAre());
  EXPECT_THAT(graph.ancestors_of("cn=a,ou=g"), ElementsAre("cn=B,ou=g", "cn=C,ou=g"));
  EXPECT_EQ(graph.membership_count(), 4u);
}

TEST(GroupGraph, CyclesEnd) {
  GroupGraph graph;
  graph.add_group("cn=D", {"cn=E", "uid=u1"});
  graph.add_group("cn=E", {"cn=D"});
  graph.add_group("cn=Self", {"cn=Self", "uid=u2"});
  graph.finish();
  EXPECT_THAT(graph.groups_of("uid=u1", {}), ElementsAre("cn=D", "cn=E"));
  EXPECT_THAT(graph.groups_of("uid=u2", {}), ElementsAre("cn=Self"));
  EXPECT_THAT(graph.ancestors_of("cn=D"), ElementsAre("cn=E"));
}

TEST(GroupGraph, MemberOfValuesAreKeptAndExpanded) {
  GroupGraph graph;
  graph.add_group("cn=A", {});
  graph.add_group("cn=B", {"cn=A"});
  graph.finish();
  // cn=A from memberOf (e.g. AD's primary group is not in `member`), cn=Outside is not under a
  // group base: kept as read.
  EXPECT_THAT(graph.groups_of("uid=u1", {"CN=A", "cn=Outside,dc=x"}),
              ElementsAre("cn=A", "cn=B", "cn=Outside,dc=x"));
}

TEST(GroupGraph, DigestIgnoresOrderButNotMemberships) {
  GroupGraph one;
  one.add_group("cn=A", {"uid=1", "uid=2"});
  one.add_group("cn=B", {"cn=A"});
  GroupGraph same;
  same.add_group("cn=B", {"CN=A"});
  same.add_group("cn=A", {"uid=2", "uid=1"});
  GroupGraph moved;
  moved.add_group("cn=A", {"uid=1"});
  moved.add_group("cn=B", {"cn=A", "uid=2"});
  EXPECT_EQ(one.digest(), same.digest());
  EXPECT_NE(one.digest(), moved.digest());
}

// 100k users, 1,000 groups (100 of them nested two levels deep), 270k memberships: the graph and
// every user's resolved groups (what the Snapshot holds) stay well under 300 MB of heap.
TEST(GroupGraph, HundredThousandUsersStayWellUnderBudget) {
  const auto heap = [] { return mallinfo2().uordblks; };
  const std::size_t before = heap();
  constexpr int users = 100000;
  constexpr int groups = 1000;
  const auto user_dn = [](int i) {
    return "uid=user" + std::to_string(i) + ",ou=people,dc=example,dc=com";
  };
  const auto group_dn = [](int i) {
    return "cn=group" + std::to_string(i) + ",ou=groups,dc=example,dc=com";
  };
  std::mt19937 random(7);
  std::vector<std::vector<std::string>> members(groups);
  std::size_t memberships = 0;
  for (int u = 0; u < users; ++u) {
    const int count = 2 + (u % 10 < 7 ? 1 : 0);  // 2.7 groups per user on average
    for (int k = 0; k < count; ++k) {
      members[random() % groups].push_back(user_dn(u));
      ++memberships;
    }
  }
  for (int g = 100; g < 200; ++g) {
    members[g].push_back(group_dn(g - 100));  // groups 0-99 inside 100-199
    members[g + 100].push_back(group_dn(g));  // and those inside 200-299
  }
  GroupGraph graph;
  for (int g = 0; g < groups; ++g) {
    graph.add_group(group_dn(g), members[g]);
    members[g].clear();
    members[g].shrink_to_fit();
  }
  graph.finish();
  std::vector<std::vector<std::string>> resolved(users);
  for (int u = 0; u < users; ++u) {
    resolved[u] = graph.groups_of(user_dn(u), {});
  }
  const std::size_t used = heap() - before;
  EXPECT_GE(memberships, 265000u);
  EXPECT_EQ(graph.group_count(), 1000u);
  std::size_t total = 0;
  for (const auto& list : resolved) {
    total += list.size();
  }
  EXPECT_GT(total, memberships) << "nesting adds groups";
  EXPECT_LT(used, 150u * 1024 * 1024) << "heap in use: " << used / (1024 * 1024) << " MB";
  std::printf("[ figures  ] %zu memberships, %zu resolved, heap %zu MB\n", memberships, total,
              used / (1024 * 1024));
}

}  // namespace
}  // namespace idbridge::ldap
