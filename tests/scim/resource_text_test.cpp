// user_to_json_text against the DOM it replaces on the read path: the same bytes for users with
// every field set, none set, escapes and non-ASCII text; nullopt for invalid UTF-8.
#include "resource_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace idbridge::scim {
namespace {

using nlohmann::json;
using namespace std::string_literals;

const std::string base = "https://idbridge.test/scim/v2/tenants/acme";

std::string dom_text(const core::User& user, const std::vector<GroupRef>& groups) {
  return user_to_json(user, base, groups).dump(-1, ' ', false, json::error_handler_t::replace);
}

core::User minimal_user() {
  core::User user;
  user.id = core::UserId("u-1");
  user.tenant = core::TenantId("acme");
  user.user_name = "minimal";
  user.version = 1;
  user.created = core::Timestamp(std::chrono::milliseconds(1700000000123));
  user.last_modified = core::Timestamp(std::chrono::milliseconds(1700000000456));
  return user;
}

core::User full_user() {
  core::User user = minimal_user();
  user.user_name = "Full.User@example.com";
  user.external_id = "CN=Full,OU=\"People\"";
  user.name = {"Dr. Full User", "User", "Full", "Middle", "Dr.", "III"};
  user.display_name = "Full User";
  user.nick_name = "Fully";
  user.profile_url = "https://example.com/~full";
  user.title = "Chief \\ Officer";
  user.user_type = "Employee";
  user.preferred_language = "de-CH";
  user.locale = "de_CH";
  user.timezone = "Europe/Zurich";
  user.active = false;
  user.emails = {{"full.user@example.com", "work", true}, {"full@home.example", "", false}};
  user.phone_numbers = {{"+41 44 000 00 00", "mobile", false}};
  user.addresses = {{"work", "Bahnhofstrasse 1\n8001 Zürich", "Bahnhofstrasse 1", "Zürich", "ZH",
                     "8001", "CH", true},
                    {"", "", "", "", "", "", "", false}};
  user.role = core::Role::administrator;
  user.profiles = {"sales", "support"};
  user.extensions = {{"1001", "HQ floor 2", true}, {"1002", "", false}};
  user.mfa.method = core::MfaMethod::totp;
  user.mfa.email_addresses = {"a@example.com"};
  user.mfa.sms_numbers = {"+41 79 000 00 00", "+41 79 000 00 01"};
  user.must_change_password = true;
  user.password_set = true;
  user.enterprise = {"E-7", "CC-1", "Org", "Div", "Dept", core::UserId("manager-1")};
  user.version = 42;
  return user;
}

TEST(UserJsonText, EqualsTheDomDumpForMinimalAndFullUsers) {
  const std::vector<GroupRef> none;
  const std::vector<GroupRef> groups{{"g-all", "All Users"}, {"g-2", "Zeta"}, {"g-1", "Alpha"}};
  for (const auto& user : {minimal_user(), full_user()}) {
    for (const auto* list : {&none, &groups}) {
      const auto text = user_to_json_text(user, base, *list);
      ASSERT_TRUE(text.has_value());
      EXPECT_EQ(*text, dom_text(user, *list)) << user.user_name;
    }
  }
}

TEST(UserJsonText, EqualsTheDomDumpForEachFieldAloneAndForEscapes) {
  // One field at a time, so a member written out of order or left out shows up alone.
  const std::vector<std::function<void(core::User&, const std::string&)>> setters{
      [](core::User& u, const std::string& v) { u.external_id = v; },
      [](core::User& u, const std::string& v) { u.name.formatted = v; },
      [](core::User& u, const std::string& v) { u.name.honorific_suffix = v; },
      [](core::User& u, const std::string& v) { u.display_name = v; },
      [](core::User& u, const std::string& v) { u.nick_name = v; },
      [](core::User& u, const std::string& v) { u.profile_url = v; },
      [](core::User& u, const std::string& v) { u.title = v; },
      [](core::User& u, const std::string& v) { u.user_type = v; },
      [](core::User& u, const std::string& v) { u.preferred_language = v; },
      [](core::User& u, const std::string& v) { u.locale = v; },
      [](core::User& u, const std::string& v) { u.timezone = v; },
      [](core::User& u, const std::string& v) {
        u.emails = {{v, v, false}};
      },
      [](core::User& u, const std::string& v) {
        u.phone_numbers = {{v, "", true}};
      },
      [](core::User& u, const std::string& v) {
        u.addresses = {{"", "", "", "", v, "", "", false}};
      },
      [](core::User& u, const std::string& v) { u.profiles = {v}; },
      [](core::User& u, const std::string& v) {
        u.extensions = {{v, v, true}};
      },
      [](core::User& u, const std::string& v) { u.mfa.email_addresses = {v}; },
      [](core::User& u, const std::string& v) { u.enterprise.division = v; },
      [](core::User& u, const std::string& v) { u.enterprise.manager = core::UserId(v); },
      [](core::User& u, const std::string& v) { u.user_name = v; },
  };
  const std::vector<std::string> values{
      "plain",
      "",
      "quote \" backslash \\ slash /",
      "controls \x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f end"s,
      "nul \0 inside"s,
      "Zoë Ærø 日本 😀",
      "\xc2\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf",  // UTF-8 edges
  };
  for (std::size_t s = 0; s < setters.size(); ++s) {
    for (const auto& value : values) {
      core::User user = minimal_user();
      setters[s](user, value);
      const std::vector<GroupRef> groups{{value + "-id", value}};
      const auto text = user_to_json_text(user, base, groups);
      ASSERT_TRUE(text.has_value()) << "setter " << s;
      EXPECT_EQ(*text, dom_text(user, groups)) << "setter " << s << " value " << json(value);
    }
  }
}

TEST(UserJsonText, EqualsTheDomDumpForBaseUrlsThatNeedEscapes) {
  // The base URL comes from the Host header: URLs are written without building them only when
  // it needs no escape, so every other base must still come out as the DOM writes it.
  core::User user = full_user();
  const std::vector<GroupRef> groups{{"g-1", "One"}, {"g\"2", "Two"}};
  for (const std::string odd_base : {"http://a\"b/scim", "http://a\\b/scim", "http://h\x01st/scim",
                                     "http://höst/scim", "http://h\x7fst/scim", ""}) {
    const auto text = user_to_json_text(user, odd_base, groups);
    ASSERT_TRUE(text.has_value()) << odd_base;
    EXPECT_EQ(*text, user_to_json(user, odd_base, groups).dump(-1, ' ', false)) << odd_base;
  }
  EXPECT_FALSE(user_to_json_text(user, "http://\xff/scim", groups).has_value());
}

TEST(UserJsonText, AppendsToWhatTheBufferHolds) {
  std::string out = "{\"Resources\":[";
  ASSERT_TRUE(append_user_json_text(out, full_user(), base, {{"g", "G"}}));
  EXPECT_EQ(out, "{\"Resources\":[" + *user_to_json_text(full_user(), base, {{"g", "G"}}));
}

TEST(UserJsonText, InvalidUtf8IsLeftToTheDom) {
  for (const std::string bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                "\xf4\x90\x80\x80", "trail \xc3", "\xe2\x82"}) {
    core::User user = minimal_user();
    user.title = bad;
    EXPECT_FALSE(user_to_json_text(user, base, {}).has_value()) << bad.size();
    GroupRef group{"g", bad};
    EXPECT_FALSE(user_to_json_text(minimal_user(), base, {group}).has_value());
  }
}

TEST(UserJsonText, ListResponseTextEqualsTheDomDump) {
  const auto one = *user_to_json_text(full_user(), base, {});
  const auto two = *user_to_json_text(minimal_user(), base, {{"g", "G"}});
  for (const auto& items : {std::vector<std::string>{}, std::vector<std::string>{one},
                            std::vector<std::string>{one, two}}) {
    json resources = json::array();
    for (const auto& item : items) {
      resources.push_back(json::parse(item));
    }
    const json dom = {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:ListResponse"}},
                      {"totalResults", 1234},
                      {"startIndex", 7},
                      {"itemsPerPage", items.size()},
                      {"Resources", resources}};
    EXPECT_EQ(list_response_text(items, 1234, 7), dom.dump());
  }
}

}  // namespace
}  // namespace idbridge::scim
