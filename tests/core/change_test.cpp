// Change-record diffs: exactly the attributes that changed, as canonical text.
#include "idbridge/core/change.hpp"

#include <gtest/gtest.h>

namespace idbridge::core {
namespace {

User sample_user() {
  User user;
  user.id = UserId("u1");
  user.tenant = TenantId("acme");
  user.user_name = "alice";
  user.name.given_name = "Alice";
  user.name.family_name = "Smith";
  user.emails = {{"alice@example.com", "work", true}};
  user.profiles = {"default:standardUser"};
  return user;
}

TEST(ChangeDiff, IdenticalUsersHaveNoChanges) {
  const User user = sample_user();
  EXPECT_TRUE(diff_users(&user, &user).empty());
}

TEST(ChangeDiff, ReportsOnlyChangedAttributesWithBeforeAndAfter) {
  const User before = sample_user();
  User after = before;
  after.name.given_name = "Alicia";
  after.active = false;
  after.emails[0].value = "alicia@example.com";
  const auto changes = diff_users(&before, &after);
  ASSERT_EQ(changes.size(), 3U);
  EXPECT_EQ(changes[0], (AttributeChange{"name.givenName", "Alice", "Alicia"}));
  EXPECT_EQ(changes[1], (AttributeChange{"active", "true", "false"}));
  EXPECT_EQ(changes[2].path, "emails");
  EXPECT_EQ(*changes[2].before, R"([{"value":"alice@example.com","type":"work","primary":true}])");
  EXPECT_EQ(*changes[2].after, R"([{"value":"alicia@example.com","type":"work","primary":true}])");
}

TEST(ChangeDiff, CreateAndDeleteListEveryPresentAttribute) {
  const User user = sample_user();
  const auto created = diff_users(nullptr, &user);
  const auto deleted = diff_users(&user, nullptr);
  ASSERT_EQ(created.size(), deleted.size());
  for (std::size_t i = 0; i < created.size(); ++i) {
    EXPECT_FALSE(created[i].before.has_value());
    EXPECT_EQ(created[i].after, deleted[i].before);
    EXPECT_FALSE(deleted[i].after.has_value());
  }
  const auto has = [&](std::string_view path) {
    return std::any_of(created.begin(), created.end(),
                       [&](const AttributeChange& c) { return c.path == path; });
  };
  EXPECT_TRUE(has("userName"));
  EXPECT_TRUE(has("role"));
  EXPECT_FALSE(has("title")) << "absent attributes are not listed";
}

TEST(ChangeDiff, EscapesTextInCanonicalJson) {
  User before = sample_user();
  User after = before;
  after.profiles = {"quote\"and\\slash"};
  const auto changes = diff_users(&before, &after);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(*changes[0].after, R"(["quote\"and\\slash"])");
}

TEST(ChangeDiff, Groups) {
  Group before;
  before.display_name = "Sales";
  Group after = before;
  after.display_name = "Sales EMEA";
  after.kind = GroupKind::team;
  const auto changes = diff_groups(&before, &after);
  ASSERT_EQ(changes.size(), 2U);
  EXPECT_EQ(changes[1], (AttributeChange{"kind", "access", "team"}));
}

}  // namespace
}  // namespace idbridge::core
