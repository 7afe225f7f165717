// Okta against the running idbridged: the provisioning request sequence Okta sends (O01-O18) and
// the "Okta SCIM 2.0 SPEC Test" Runscope suite (S1-S12), replayed over 127.0.0.1.
//
// Sources replayed (see /work/shared/reference/scim-clients.md §2):
// - "Okta and SCIM Version 2.0" (SCIM 2.0 protocol reference),
//   https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
// - "Prepare your SCIM API service" (Build a SCIM provisioning integration),
//   https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/
// - "Test your SCIM API" (Runscope Okta SCIM 2.0 SPEC Test),
//   https://developer.okta.com/docs/guides/build-provisioning-integration/test-scim-api/
#include "scim_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace idbridge::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
constexpr std::string_view kGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
constexpr std::string_view kListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

// Okta generates app passwords such as "1mz050nq" (lower-case letters and digits); the tenant's
// policy decides whether they are acceptable, and this tenant accepts them.
ScimDaemonOptions okta_tenant() {
  ScimDaemonOptions options;
  options.tenant_toml["acme"] = "[tenants.acme.password_policy]\nrequire_upper = false\n";
  return options;
}

std::vector<std::string> member_ids(const json& group) {
  std::vector<std::string> ids;
  for (const auto& member : group.value("members", json::array())) {
    ids.push_back(member.at("value").get<std::string>());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void expect_list_response(const ScimResponse& response) {
  ASSERT_EQ(response.status, 200) << response.raw;
  EXPECT_EQ(response.header("Content-Type"), "application/scim+json");
  EXPECT_EQ(response.body.at("schemas"), json::array({kListResponse}));
  EXPECT_TRUE(response.body.at("totalResults").is_number_integer());
  EXPECT_TRUE(response.body.at("startIndex").is_number_integer());
  EXPECT_TRUE(response.body.at("itemsPerPage").is_number_integer());
}

// The 204 or 200 a group PATCH may answer (Okta accepts both).
void expect_patch_ok(const ScimResponse& response) {
  EXPECT_TRUE(response.status == 204 || response.status == 200)
      << response.status << " " << response.raw;
}

// "Okta and SCIM Version 2.0": create, read, update, deactivate and reactivate users, import,
// push groups, rename them, update their membership and delete them, in the order Okta sends.
TEST(OktaSequence, ReplaysO01ToO18) {
  ScimDaemon daemon(okta_tenant());
  const auto okta = ScimClient::bearer(daemon, "okta");

  // O01: does the user exist? Okta percent-encodes the filter and always pages.
  {
    SCOPED_TRACE("O01");
    const auto lookup = okta.get(
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100");
    expect_list_response(lookup);
    EXPECT_EQ(lookup.body.at("totalResults"), 0);
    EXPECT_EQ(lookup.body.at("startIndex"), 1);
    EXPECT_EQ(lookup.body.at("itemsPerPage"), 0);
    EXPECT_EQ(lookup.body.value("Resources", json::array()), json::array());
  }

  // O02: create, with a password (never returned) and the readOnly `groups: []`.
  const json create_body = json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": true
  })");
  std::string user_id;
  {
    SCOPED_TRACE("O02");
    const auto created = okta.post("/Users", create_body);
    ASSERT_EQ(created.status, 201) << created.raw;
    const json& user = created.body;
    user_id = user.at("id").get<std::string>();
    EXPECT_FALSE(user_id.empty());
    EXPECT_THAT(user_id, Not(HasSubstr("bulkId")));
    EXPECT_EQ(user.at("meta").at("resourceType"), "User");
    EXPECT_EQ(created.header("Location"), user.at("meta").at("location").get<std::string>());
    EXPECT_EQ(created.header("ETag"), user.at("meta").at("version").get<std::string>());
    EXPECT_EQ(user.at("userName"), "test.user@okta.local");
    EXPECT_EQ(user.at("name").at("givenName"), "Test");
    EXPECT_EQ(user.at("name").at("familyName"), "User");
    EXPECT_EQ(user.at("emails").at(0).at("value"), "test.user@okta.local");
    EXPECT_EQ(user.at("emails").at(0).at("primary"), true);
    EXPECT_EQ(user.at("displayName"), "Test User");
    EXPECT_EQ(user.at("locale"), "en-US");
    EXPECT_EQ(user.at("externalId"), "00ujl29u0le5T6Aj10h7");
    EXPECT_EQ(user.at("active"), true);
    EXPECT_THAT(user.at("schemas"), ::testing::Contains(json(kUserSchema)));
    EXPECT_FALSE(user.contains("password"));
    EXPECT_THAT(created.raw, Not(HasSubstr("1mz050nq")));
  }

  // O03: the same POST again.
  {
    SCOPED_TRACE("O03");
    EXPECT_TRUE(is_scim_error(okta.post("/Users", create_body), 409, "uniqueness"));
  }

  // O04: Okta reads before every update.
  std::string version;
  {
    SCOPED_TRACE("O04");
    const auto read = okta.get("/Users/" + user_id);
    ASSERT_EQ(read.status, 200) << read.raw;
    EXPECT_EQ(read.body.at("id"), user_id);
    EXPECT_EQ(read.body.at("userName"), "test.user@okta.local");
    EXPECT_FALSE(read.body.contains("password"));
    EXPECT_THAT(read.raw, Not(HasSubstr("1mz050nq")));
    version = read.body.at("meta").at("version").get<std::string>();
  }

  // O05: profile update with PUT; the body carries id, meta and groups (readOnly: ignored) and
  // omits displayName, locale and externalId (replaced, RFC 7644 §3.5.1).
  {
    SCOPED_TRACE("O05");
    const json put_body = json::parse(R"({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": ")" + user_id + R"(",
      "userName": "test.user@okta.local",
      "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
      "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work",
                  "display": "test.user@okta.local"}],
      "active": true,
      "groups": [],
      "meta": {"resourceType": "User"}
    })");
    const auto updated = okta.put("/Users/" + user_id, put_body);
    ASSERT_EQ(updated.status, 200) << updated.raw;
    EXPECT_EQ(updated.body.at("id"), user_id);
    EXPECT_EQ(updated.body.at("name").at("givenName"), "Another");
    EXPECT_EQ(updated.body.at("name").at("middleName"), "Excited");
    // idbridge derives an omitted displayName from the name (core rule), so the old one is gone.
    EXPECT_EQ(updated.body.at("displayName"), "Another User");
    EXPECT_FALSE(updated.body.contains("locale"));
    EXPECT_FALSE(updated.body.contains("externalId"));
    EXPECT_NE(updated.body.at("meta").at("version"), version);
    const auto read = okta.get("/Users/" + user_id);
    EXPECT_EQ(read.body.at("name").at("givenName"), "Another");
  }

  // O06 and O07: deactivate and reactivate with a path-less replace.
  for (const bool active : {false, true}) {
    SCOPED_TRACE(active ? "O07" : "O06");
    const auto patched = okta.patch(
        "/Users/" + user_id, patch_op({{{"op", "replace"}, {"value", {{"active", active}}}}}));
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body.at("active"), active);
    EXPECT_EQ(okta.get("/Users/" + user_id).body.at("active"), active);
    // The filter Okta looks users up with still finds a deactivated user.
    const auto found = okta.get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22");
    ASSERT_EQ(found.body.at("totalResults"), 1) << found.raw;
    EXPECT_EQ(found.body.at("Resources").at(0).at("active"), active);
  }

  // O08: password sync; a new version, and the password is never echoed.
  {
    SCOPED_TRACE("O08");
    const auto before = okta.get("/Users/" + user_id);
    const auto patched =
        okta.patch("/Users/" + user_id,
                   patch_op({{{"op", "replace"}, {"value", {{"password", "9xkq2m7ptw"}}}}}));
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_FALSE(patched.body.contains("password"));
    EXPECT_THAT(patched.raw, Not(HasSubstr("9xkq2m7ptw")));
    EXPECT_NE(patched.body.at("meta").at("version"), before.body.at("meta").at("version"));
  }

  // O09: import users, 100 per page, until totalResults; the order is stable across requests.
  std::vector<std::string> others;
  for (int i = 0; i < 104; ++i) {
    const std::string name = "import." + std::to_string(i) + "@okta.local";
    const auto created =
        okta.post("/Users", {{"schemas", {kUserSchema}},
                             {"userName", name},
                             {"name", {{"givenName", "Import"}, {"familyName", "User"}}},
                             {"emails", {{{"primary", true}, {"value", name}, {"type", "work"}}}},
                             {"active", true}});
    ASSERT_EQ(created.status, 201) << created.raw;
    others.push_back(created.body.at("id").get<std::string>());
  }
  {
    SCOPED_TRACE("O09");
    std::vector<std::string> seen;
    std::int64_t total = -1;
    for (int start = 1; total < 0 || start <= total; start += 100) {
      const auto page = okta.get("/Users?startIndex=" + std::to_string(start) + "&count=100");
      expect_list_response(page);
      total = page.body.at("totalResults").get<std::int64_t>();
      EXPECT_EQ(page.body.at("startIndex"), start);
      EXPECT_EQ(page.body.at("itemsPerPage"), page.body.at("Resources").size());
      for (const auto& user : page.body.at("Resources")) {
        seen.push_back(user.at("id").get<std::string>());
      }
      // The same page asked again lists the same users in the same order.
      const auto again = okta.get("/Users?startIndex=" + std::to_string(start) + "&count=100");
      EXPECT_EQ(again.body.at("Resources"), page.body.at("Resources"));
    }
    EXPECT_EQ(total, 105);
    EXPECT_EQ(seen.size(), 105U);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 105U);
  }

  // O11: push a group.
  std::string group_id;
  {
    SCOPED_TRACE("O11");
    const auto created = okta.post(
        "/Groups", json::parse(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                   "displayName": "Test SCIMv2", "members": []})"));
    ASSERT_EQ(created.status, 201) << created.raw;
    group_id = created.body.at("id").get<std::string>();
    EXPECT_EQ(created.body.at("displayName"), "Test SCIMv2");
    EXPECT_EQ(created.body.value("members", json::array()), json::array());
    EXPECT_EQ(created.body.at("meta").at("resourceType"), "Group");
    EXPECT_THAT(created.body.at("schemas"), ::testing::Contains(json(kGroupSchema)));
    EXPECT_EQ(created.header("Location"),
              created.body.at("meta").at("location").get<std::string>());
  }

  // O10: import groups, the same paging rules.
  {
    SCOPED_TRACE("O10");
    const auto page = okta.get("/Groups?startIndex=1&count=100");
    expect_list_response(page);
    EXPECT_EQ(page.body.at("totalResults"), 2);  // All Users and the pushed group
    std::vector<std::string> names;
    for (const auto& group : page.body.at("Resources")) {
      names.push_back(group.at("displayName").get<std::string>());
    }
    EXPECT_THAT(names, ::testing::UnorderedElementsAre("All Users", "Test SCIMv2"));
  }

  // O12: does the group exist?
  {
    SCOPED_TRACE("O12");
    const auto found = okta.get("/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22");
    expect_list_response(found);
    ASSERT_EQ(found.body.at("totalResults"), 1) << found.raw;
    EXPECT_EQ(found.body.at("Resources").at(0).at("id"), group_id);
  }

  // O13: read the group.
  {
    SCOPED_TRACE("O13");
    const auto read = okta.get("/Groups/" + group_id);
    ASSERT_EQ(read.status, 200) << read.raw;
    EXPECT_EQ(read.body.at("displayName"), "Test SCIMv2");
    EXPECT_EQ(member_ids(read.body), std::vector<std::string>{});
  }

  // O14: rename; the value map carries the group's own id.
  {
    SCOPED_TRACE("O14");
    expect_patch_ok(okta.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "replace"},
                   {"value", {{"id", group_id}, {"displayName", "Test SCIMv2 Renamed"}}}}})));
    EXPECT_EQ(okta.get("/Groups/" + group_id).body.at("displayName"), "Test SCIMv2 Renamed");
  }

  // O15: membership delta: remove one member by value filter and add another, together with the
  // rename Okta sends along with every membership update.
  const std::string& first = others.at(0);
  {
    SCOPED_TRACE("O15");
    expect_patch_ok(okta.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "add"},
                   {"path", "members"},
                   {"value", {{{"value", first}, {"display", "import.0@okta.local"}}}}}})));
    EXPECT_EQ(member_ids(okta.get("/Groups/" + group_id).body), std::vector<std::string>{first});

    expect_patch_ok(okta.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "replace"},
                   {"value", {{"id", group_id}, {"displayName", "Test SCIMv2 Renamed"}}}},
                  {{"op", "remove"}, {"path", "members[value eq \"" + first + "\"]"}},
                  {{"op", "add"},
                   {"path", "members"},
                   {"value", {{{"value", user_id}, {"display", "test.user@okta.local"}}}}}})));
    const auto read = okta.get("/Groups/" + group_id);
    EXPECT_EQ(member_ids(read.body), std::vector<std::string>{user_id});
    EXPECT_EQ(read.body.at("displayName"), "Test SCIMv2 Renamed");

    // The same delta without the rename (the member-only path of the service).
    expect_patch_ok(okta.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "remove"}, {"path", "members[value eq \"" + user_id + "\"]"}},
                  {{"op", "add"}, {"path", "members"}, {"value", {{{"value", first}}}}}})));
    EXPECT_EQ(member_ids(okta.get("/Groups/" + group_id).body), std::vector<std::string>{first});
  }

  // O16: full membership push.
  {
    SCOPED_TRACE("O16");
    expect_patch_ok(okta.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "replace"},
                   {"path", "members"},
                   {"value", {{{"value", others.at(1)}}, {{"value", others.at(2)}}}}}})));
    std::vector<std::string> expected{others.at(1), others.at(2)};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(member_ids(okta.get("/Groups/" + group_id).body), expected);
  }

  // O17: AIW group update: PUT the whole group.
  {
    SCOPED_TRACE("O17");
    const auto replaced = okta.put("/Groups/" + group_id, {{"schemas", {kGroupSchema}},
                                                           {"id", group_id},
                                                           {"displayName", "Test SCIMv2"},
                                                           {"members", {{{"value", user_id}}}}});
    ASSERT_EQ(replaced.status, 200) << replaced.raw;
    EXPECT_EQ(replaced.body.at("displayName"), "Test SCIMv2");
    EXPECT_EQ(member_ids(replaced.body), std::vector<std::string>{user_id});
    EXPECT_EQ(member_ids(okta.get("/Groups/" + group_id).body), std::vector<std::string>{user_id});
    // The user's groups now list it.
    const auto user = okta.get("/Users/" + user_id);
    std::vector<std::string> groups;
    for (const auto& group : user.body.at("groups")) {
      groups.push_back(group.at("value").get<std::string>());
    }
    EXPECT_THAT(groups, ::testing::Contains(group_id));
  }

  // O18: unlink with "Delete the group in the target app".
  {
    SCOPED_TRACE("O18");
    const auto deleted = okta.del("/Groups/" + group_id);
    EXPECT_EQ(deleted.status, 204) << deleted.raw;
    EXPECT_TRUE(deleted.raw.empty());
    EXPECT_TRUE(is_scim_error(okta.get("/Groups/" + group_id), 404));
    EXPECT_TRUE(is_scim_error(okta.del("/Groups/" + group_id), 404));
    // Its members are untouched.
    EXPECT_EQ(okta.get("/Users/" + user_id).status, 200);
  }
}

// "Test your SCIM API": the Okta SCIM 2.0 SPEC Test, S1-S12, with its variable values.
TEST(OktaSpecTest, ReplaysS1ToS12) {
  ScimDaemon daemon(okta_tenant());
  const auto okta = ScimClient::bearer(daemon, "okta");
  const std::string random_user = "Runscope300Hfluaklab151@example.com";
  const std::string random_user_caps = "RUNSCOPE300HFLUAKLAB151@EXAMPLE.COM";

  // Precondition of the suite: at least one user exists.
  ASSERT_EQ(
      okta.post("/Users", {{"schemas", {kUserSchema}},
                           {"userName", "existing@example.com"},
                           {"name", {{"givenName", "Existing"}, {"familyName", "Person"}}},
                           {"emails", {{{"primary", true}, {"value", "existing@example.com"}}}},
                           {"active", true}})
          .status,
      201);

  // S1: Required: Test Users endpoint.
  std::string isv_user_id;
  {
    SCOPED_TRACE("S1");
    const auto list = okta.get("/Users?count=1&startIndex=1");
    expect_list_response(list);
    ASSERT_EQ(list.body.at("Resources").size(), 1U) << list.raw;
    const json& user = list.body.at("Resources").at(0);
    isv_user_id = user.at("id").get<std::string>();
    EXPECT_FALSE(isv_user_id.empty());
    EXPECT_FALSE(user.at("name").at("familyName").get<std::string>().empty());
    EXPECT_FALSE(user.at("name").at("givenName").get<std::string>().empty());
    EXPECT_FALSE(user.at("userName").get<std::string>().empty());
    EXPECT_TRUE(user.at("active").is_boolean());
    EXPECT_FALSE(user.at("emails").at(0).at("value").get<std::string>().empty());
  }

  // S2: Required: Get Users/{{id}}.
  {
    SCOPED_TRACE("S2");
    const auto user = okta.get("/Users/" + isv_user_id);
    ASSERT_EQ(user.status, 200) << user.raw;
    EXPECT_EQ(user.body.at("id"), isv_user_id);
    EXPECT_FALSE(user.body.at("userName").get<std::string>().empty());
    EXPECT_FALSE(user.body.at("emails").at(0).at("value").get<std::string>().empty());
  }

  // S3: Required: Test invalid User by username. Runscope leaves the quotes raw in the URL.
  {
    SCOPED_TRACE("S3");
    const auto none = okta.get("/Users?filter=userName%20eq%20\"abcdefgh@example.com\"");
    expect_list_response(none);
    EXPECT_EQ(none.body.at("totalResults"), 0);
  }

  // S3 with literal spaces as well: not valid in an HTTP request target (RFC 9112 §3.2), so the
  // server must refuse the request line cleanly rather than guess where the target ends.
  {
    SCOPED_TRACE("S3 raw spaces");
    HttpConnection connection("127.0.0.1", daemon.port());
    connection.send_raw("GET " + okta.base() +
                        "/Users?filter=userName eq \"abcdefgh@example.com\" HTTP/1.1\r\n"
                        "Host: 127.0.0.1\r\nAuthorization: Bearer " +
                        daemon.token("okta") + "\r\n\r\n");
    EXPECT_EQ(connection.read_response().status, 400);
    EXPECT_EQ(okta.get("/Users?filter=userName%20eq%20\"abcdefgh@example.com\"").status, 200);
  }

  // S4: Required: Test invalid User by ID.
  {
    SCOPED_TRACE("S4");
    EXPECT_TRUE(is_scim_error(okta.get("/Users/010101001010101011001010101011"), 404));
  }

  // S5: Required: Make sure random user doesn't exist.
  {
    SCOPED_TRACE("S5");
    const auto none = okta.get("/Users?filter=userName%20eq%20\"" + random_user + "\"");
    expect_list_response(none);
    EXPECT_EQ(none.body.at("totalResults"), 0);
  }

  // S6: Required: Create Okta user with realistic values (Content-Type: application/json).
  const json create_body{
      {"schemas", {kUserSchema}},
      {"userName", random_user},
      {"name", {{"givenName", "Hfluaklab"}, {"familyName", "Runscope"}}},
      {"emails", {{{"primary", true}, {"value", random_user}, {"type", "work"}}}},
      {"displayName", "Hfluaklab Runscope"},
      {"active", true}};
  const Headers json_content{{"Content-Type", "application/json"}};
  std::string id_user_one;
  {
    SCOPED_TRACE("S6");
    const auto created = okta.post("/Users", create_body, json_content);
    ASSERT_EQ(created.status, 201) << created.raw;
    id_user_one = created.body.at("id").get<std::string>();
    EXPECT_FALSE(id_user_one.empty());
    EXPECT_EQ(created.body.at("active"), true);
    EXPECT_EQ(created.body.at("userName"), random_user);
    EXPECT_EQ(created.body.at("name").at("givenName"), "Hfluaklab");
    EXPECT_EQ(created.body.at("name").at("familyName"), "Runscope");
    EXPECT_THAT(created.body.at("schemas"), ::testing::Contains(json(kUserSchema)));
  }

  // S7: Required: Verify that user was created.
  {
    SCOPED_TRACE("S7");
    const auto user = okta.get("/Users/" + id_user_one);
    ASSERT_EQ(user.status, 200) << user.raw;
    EXPECT_EQ(user.body.at("userName"), random_user);
    EXPECT_EQ(user.body.at("name").at("givenName"), "Hfluaklab");
    EXPECT_EQ(user.body.at("name").at("familyName"), "Runscope");
  }

  // S8: Required: Expect failure when recreating user with same values.
  {
    SCOPED_TRACE("S8");
    EXPECT_TRUE(is_scim_error(okta.post("/Users", create_body, json_content), 409, "uniqueness"));
  }

  // S9: Required: Username Case Sensitivity Check. Okta asserts only 200; userName is
  // caseExact=false, so the right answer is the user.
  {
    SCOPED_TRACE("S9");
    const auto found = okta.get("/Users?filter=userName%20eq%20\"" + random_user_caps + "\"");
    expect_list_response(found);
    ASSERT_EQ(found.body.at("totalResults"), 1) << found.raw;
    EXPECT_EQ(found.body.at("Resources").at(0).at("id"), id_user_one);
  }

  // S10: Optional: Verify Groups endpoint.
  {
    SCOPED_TRACE("S10");
    const auto groups = okta.get("/Groups");
    expect_list_response(groups);
    EXPECT_GE(groups.body.at("totalResults"), 1);
    EXPECT_TRUE(groups.body.at("Resources").is_array());
  }

  // S11: Required: Check status 401, with a SCIM Error body.
  {
    SCOPED_TRACE("S11");
    const ScimClient stranger(daemon.port(), "acme", "non-token");
    const auto denied = stranger.get("/Users?filter=userName%20eq%20\"" + random_user + "\"");
    EXPECT_TRUE(is_scim_error(denied, 401));
    EXPECT_TRUE(denied.header("WWW-Authenticate").has_value());
    // No Authorization header at all, and a wrong bearer token: the same.
    EXPECT_TRUE(is_scim_error(ScimClient(daemon.port(), "acme", "").get("/Users"), 401));
    EXPECT_TRUE(
        is_scim_error(ScimClient(daemon.port(), "acme", "Bearer wrong").get("/Users"), 401));
  }

  // S12: Required: Check status 404.
  {
    SCOPED_TRACE("S12");
    EXPECT_TRUE(is_scim_error(okta.get("/Users/00919288221112222"), 404));
  }
}

// server.public_base_url: behind a reverse proxy the URLs idbridge hands out (Location,
// meta.location, $ref) must name the public address, never whatever Host the request carried.
TEST(PublicBaseUrl, ResponseUrlsUseTheConfiguredBaseNotTheHostHeader) {
  ScimDaemonOptions options = okta_tenant();
  options.extra_server = "public_base_url = \"https://scim.example.com\"\n";
  ScimDaemon daemon(options);
  const auto okta = ScimClient::bearer(daemon, "okta");
  const auto created =
      okta.post("/Users", json{{"userName", "proxy.user@example.com"}}, {{"Host", "evil.example"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body.at("id").get<std::string>();
  const std::string expected = "https://scim.example.com/scim/v2/tenants/acme/Users/" + id;
  EXPECT_EQ(created.header("Location"), expected);
  EXPECT_EQ(created.body.at("meta").at("location"), expected);
  EXPECT_EQ(created.raw.find("evil.example"), std::string::npos);
}

}  // namespace
}  // namespace idbridge::testing
