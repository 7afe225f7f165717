// Microsoft Entra ID against the running idbridged: the published provisioning sequence (E01-E16),
// the aadOptscim062020 flag table, the further Entra/validator traffic (E17-E35), tenant
// isolation between two tenants' tokens, and durability of acknowledged writes through SIGKILL.
//
// Sources replayed (request shapes collected in /work/shared/reference/scim-clients.md §1):
// - [TUTORIAL] Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in
//   Microsoft Entra ID",
//   https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
//   (§"Understand the Microsoft Entra SCIM implementation" > "User Operations" / "Group
//   Operations" / "Schema discovery", and its request/response examples).
// - [KNOWN-ISSUES] Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol
//   compliance of the Microsoft Entra user provisioning service",
//   https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
//   (§"Flags to alter the SCIM behavior": the aadOptscim062020 before/after table).
// - [VALIDATOR] Microsoft Learn, "Tutorial: Validate a SCIM endpoint" (Microsoft Entra SCIM
//   Validator),
//   https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial
// - RFC 7644 (SCIM protocol), https://www.rfc-editor.org/rfc/rfc7644
#include "scim_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::testing {
namespace {

using nlohmann::json;

constexpr std::string_view kUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
constexpr std::string_view kGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
constexpr std::string_view kEnterpriseUser =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
constexpr std::string_view kListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
constexpr std::string_view kSchemaSchema = "urn:ietf:params:scim:schemas:core:2.0:Schema";

const std::string kEnterprise(kEnterpriseUser);

// Entra's query encoding: '+' for a space, percent-encoding outside the unreserved set
// (filter=userName+eq+%22x%40y%22).
std::string entra_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned>(byte));
      out += escaped;
    }
  }
  return out;
}

std::string filter_query(std::string_view filter) {
  return "filter=" + entra_encode(filter);
}

::testing::AssertionResult is_scim_json(const ScimResponse& response) {
  if (response.header("Content-Type") != "application/scim+json") {
    return ::testing::AssertionFailure()
           << "Content-Type is " << response.header("Content-Type").value_or("(none)");
  }
  return ::testing::AssertionSuccess();
}

// A 200 ListResponse (RFC 7644 §3.4.2) with integer paging numbers and `total` results.
void expect_list(const ScimResponse& response, std::int64_t total) {
  ASSERT_EQ(response.status, 200) << response.raw;
  EXPECT_TRUE(is_scim_json(response));
  EXPECT_EQ(response.body.at("schemas"), json::array({kListResponse}));
  ASSERT_TRUE(response.body.at("totalResults").is_number_integer()) << response.raw;
  EXPECT_EQ(response.body.at("totalResults"), total) << response.raw;
  EXPECT_TRUE(response.body.at("startIndex").is_number_integer());
  EXPECT_TRUE(response.body.at("itemsPerPage").is_number_integer());
  if (total > 0) {
    EXPECT_TRUE(response.body.contains("Resources")) << response.raw;
  }
}

// A 201 whose Location and ETag headers agree with meta (RFC 7644 §3.3, §3.14).
void expect_created(const ScimResponse& response, std::string_view resource_type) {
  ASSERT_EQ(response.status, 201) << response.raw;
  EXPECT_TRUE(is_scim_json(response));
  const json& body = response.body;
  ASSERT_TRUE(body.at("id").is_string());
  EXPECT_FALSE(body.at("id").get<std::string>().empty());
  const json& meta = body.at("meta");
  EXPECT_EQ(meta.at("resourceType"), resource_type);
  EXPECT_TRUE(meta.at("created").is_string());
  EXPECT_TRUE(meta.at("lastModified").is_string());
  const std::string collection = resource_type == "User" ? "/Users/" : "/Groups/";
  const std::string location = meta.at("location").get<std::string>();
  EXPECT_EQ(location.rfind("http://", 0), 0u) << location;
  EXPECT_TRUE(location.ends_with(collection + body.at("id").get<std::string>())) << location;
  EXPECT_EQ(response.header("Location"), location);
  EXPECT_EQ(response.header("ETag"), meta.at("version").get<std::string>());
}

// The 204 (or 200) Entra accepts for a group PATCH.
::testing::AssertionResult is_group_patch_ok(const ScimResponse& response) {
  if (response.status == 204 || response.status == 200) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << response.status << " " << response.raw;
}

// Refused across tenants: 403 or 404, with a SCIM Error body either way.
::testing::AssertionResult is_denied(const ScimResponse& response) {
  return response.status == 403 ? is_scim_error(response, 403) : is_scim_error(response, 404);
}

std::vector<std::string> member_ids(const json& group) {
  std::vector<std::string> ids;
  for (const auto& member : group.value("members", json::array())) {
    ids.push_back(member.at("value").get<std::string>());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Every key, recursively, whose value is null (Microsoft: omit absent values, don't send null).
void collect_nulls(const json& value, const std::string& where, std::vector<std::string>& out) {
  if (value.is_null()) {
    out.push_back(where);
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      collect_nulls(item, where + "/" + key, out);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      collect_nulls(value[i], where + "/" + std::to_string(i), out);
    }
  }
}

json user_body(const std::string& user_name, const std::string& external_id) {
  return {{"schemas", {kUserSchema, kEnterpriseUser}},
          {"externalId", external_id},
          {"userName", user_name},
          {"active", true},
          {"emails", {{{"primary", true}, {"type", "work"}, {"value", user_name}}}},
          {"meta", {{"resourceType", "User"}}},
          {"name", {{"familyName", "Family"}, {"givenName", "Given"}}},
          {"roles", json::array()}};
}

std::string create_user(const ScimClient& client, const std::string& user_name,
                        const std::string& external_id) {
  const auto created = client.post("/Users", user_body(user_name, external_id));
  EXPECT_EQ(created.status, 201) << created.raw;
  return created.body.value("id", std::string());
}

std::string create_group(const ScimClient& client, const std::string& display_name) {
  const auto created =
      client.post("/Groups", {{"schemas", {kGroupSchema}}, {"displayName", display_name}});
  EXPECT_EQ(created.status, 201) << created.raw;
  return created.body.value("id", std::string());
}

// TUTORIAL, "User Operations" and "Group Operations": the published request/response examples,
// in order, from "Create User" to "Discover schema", with the default (no flag) job's forms.
TEST(EntraPublishedSequence, ReplaysE01ToE16) {
  ScimDaemon daemon;
  const auto entra = ScimClient::bearer(daemon, "okta");
  const std::string user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
  const std::string email = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com";
  json user;

  {
    SCOPED_TRACE("E01 TUTORIAL §Create User (Example 1)");
    const json request = {{"schemas", {kUserSchema, kEnterpriseUser}},
                          {"externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"},
                          {"userName", user_name},
                          {"active", true},
                          {"emails", {{{"primary", true}, {"type", "work"}, {"value", email}}}},
                          {"meta", {{"resourceType", "User"}}},
                          {"name",
                           {{"formatted", "givenName familyName"},
                            {"familyName", "familyName"},
                            {"givenName", "givenName"}}},
                          {"roles", json::array()}};
    const auto created = entra.post("/Users", request);
    expect_created(created, "User");
    user = created.body;
    EXPECT_TRUE(std::find(user["schemas"].begin(), user["schemas"].end(), kUserSchema) !=
                user["schemas"].end());
    EXPECT_EQ(user.at("userName"), user_name);
    EXPECT_EQ(user.at("externalId"), "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    EXPECT_EQ(user.at("active"), true);
    EXPECT_EQ(user.at("name"), request.at("name"));
    ASSERT_EQ(user.at("emails").size(), 1u);
    EXPECT_EQ(user["emails"][0].at("value"), email);
    EXPECT_EQ(user["emails"][0].at("type"), "work");
    EXPECT_EQ(user["emails"][0].at("primary"), true);
    EXPECT_FALSE(user.contains("roles")) << user;
    EXPECT_FALSE(user.contains("password"));
  }
  const std::string id = user.value("id", std::string());
  ASSERT_FALSE(id.empty());

  {
    SCOPED_TRACE("E01 TUTORIAL §Create User (Example 2): nulls, misspelt extension URN");
    // The older example: "…:enterprise:2.0User" (no colon), null attributes, and enterprise
    // attributes at the top level. None of that may break the create.
    const json request = json::parse(R"({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
      "externalId": "jyoung",
      "userName": "jyoung@testuser.com",
      "active": true,
      "addresses": null,
      "displayName": "Joy Young",
      "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
      "meta": {"resourceType": "User"},
      "name": {"familyName": "Young", "givenName": "Joy"},
      "phoneNumbers": null,
      "preferredLanguage": null,
      "title": null,
      "department": null,
      "manager": null
    })");
    const auto created = entra.post("/Users", request);
    expect_created(created, "User");
    const json& body = created.body;
    EXPECT_EQ(body.at("userName"), "jyoung@testuser.com");
    EXPECT_EQ(body.at("displayName"), "Joy Young");
    EXPECT_EQ(body.at("emails")[0].at("value"), "jyoung@Contoso.com");  // stored as sent
    for (const char* absent :
         {"addresses", "phoneNumbers", "preferredLanguage", "title", "department", "manager"}) {
      EXPECT_FALSE(body.contains(absent)) << absent << " in " << body;
    }
    std::vector<std::string> nulls;
    collect_nulls(body, "", nulls);
    EXPECT_TRUE(nulls.empty()) << "null values at " << ::testing::PrintToString(nulls);
  }

  {
    SCOPED_TRACE("E02 TUTORIAL §Get User");
    const auto got = entra.get("/Users/" + id);
    ASSERT_EQ(got.status, 200) << got.raw;
    EXPECT_TRUE(is_scim_json(got));
    EXPECT_EQ(got.body, user);  // the same representation the create returned
    EXPECT_EQ(got.header("ETag"), user["meta"]["version"].get<std::string>());
    EXPECT_TRUE(is_scim_error(entra.get("/Users/5171a35d82074e068ce2"), 404));
  }

  {
    SCOPED_TRACE("E03 TUTORIAL §Get User by query");
    const auto found = entra.get("/Users?" + filter_query("userName eq \"" + user_name + "\""));
    expect_list(found, 1);
    EXPECT_EQ(found.body.at("startIndex"), 1);
    ASSERT_EQ(found.body.at("Resources").size(), 1u);
    EXPECT_EQ(found.body["Resources"][0].at("id"), id);
    EXPECT_EQ(found.body["Resources"][0].at("userName"), user_name);
  }

  {
    SCOPED_TRACE("E04 TUTORIAL §Get User by query - Zero results");
    const auto none = entra.get("/Users?" + filter_query("userName eq \"non-existent user\""));
    expect_list(none, 0);
    EXPECT_EQ(none.body.value("Resources", json::array()), json::array());
  }

  {
    SCOPED_TRACE("E05 TUTORIAL §Update User [Multi-valued properties]");
    const auto patched = entra.patch(
        "/Users/" + id,
        patch_op(
            {{{"op", "Replace"},
              {"path", "emails[type eq \"work\"].value"},
              {"value", "updatedEmail@microsoft.com"}},
             {{"op", "Replace"}, {"path", "name.familyName"}, {"value", "updatedFamilyName"}}}));
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_TRUE(is_scim_json(patched));
    const json& emails = patched.body.at("emails");
    ASSERT_EQ(emails.size(), 1u) << emails;  // updated in place, not appended
    EXPECT_EQ(emails[0].at("value"), "updatedEmail@microsoft.com");
    EXPECT_EQ(emails[0].at("type"), "work");
    EXPECT_EQ(emails[0].at("primary"), true);
    EXPECT_EQ(patched.body["name"].at("familyName"), "updatedFamilyName");
    EXPECT_EQ(patched.body["name"].at("givenName"), "givenName");
  }

  const std::string renamed = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
  {
    SCOPED_TRACE("E06 TUTORIAL §Update User [Single-valued properties]");
    const auto patched = entra.patch(
        "/Users/" + id, patch_op({{{"op", "Replace"}, {"path", "userName"}, {"value", renamed}}}));
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body.at("userName"), renamed);
    EXPECT_EQ(patched.body.at("id"), id);
    // A rename onto another user's userName, in any case, is a uniqueness conflict.
    for (const char* taken : {"jyoung@testuser.com", "JYoung@TestUser.com"}) {
      EXPECT_TRUE(is_scim_error(
          entra.patch("/Users/" + id,
                      patch_op({{{"op", "Replace"}, {"path", "userName"}, {"value", taken}}})),
          409, "uniqueness"))
          << taken;
    }
    EXPECT_EQ(entra.get("/Users/" + id).body.value("userName", ""), renamed);
  }

  {
    SCOPED_TRACE("E07 TUTORIAL §Disable User (default job: \"False\" as a string)");
    const auto disabled = entra.patch(
        "/Users/" + id, patch_op({{{"op", "Replace"}, {"path", "active"}, {"value", "False"}}}));
    ASSERT_EQ(disabled.status, 200) << disabled.raw;
    EXPECT_EQ(disabled.body.at("active"), json(false));  // a JSON boolean
    // VALIDATOR: "Response from a GET and filter request on a disabled User should have
    // attribute active".
    EXPECT_EQ(entra.get("/Users/" + id).body.at("active"), json(false));
    const auto found = entra.get("/Users?" + filter_query("userName eq \"" + renamed + "\""));
    expect_list(found, 1);
    EXPECT_EQ(found.body["Resources"][0].at("active"), json(false));
    const auto enabled = entra.patch(
        "/Users/" + id, patch_op({{{"op", "Replace"}, {"path", "active"}, {"value", "True"}}}));
    ASSERT_EQ(enabled.status, 200) << enabled.raw;
    EXPECT_EQ(enabled.body.at("active"), json(true));
  }

  {
    SCOPED_TRACE("E08 TUTORIAL §Delete User");
    const auto deleted = entra.del("/Users/" + id);
    EXPECT_EQ(deleted.status, 204) << deleted.raw;
    EXPECT_TRUE(deleted.raw.empty());
    EXPECT_TRUE(is_scim_error(entra.get("/Users/" + id), 404));
    EXPECT_TRUE(is_scim_error(entra.del("/Users/" + id), 404));  // VALIDATOR: delete twice
  }

  const std::string member_id = create_user(entra, "member@testuser.com", "member");
  const std::string second_member_id = create_user(entra, "member2@testuser.com", "member2");
  json group;
  {
    SCOPED_TRACE("E09 TUTORIAL §Create Group");
    const auto created = entra.post("/Groups", json::parse(R"({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                  "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
      "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
      "displayName": "displayName",
      "meta": {"resourceType": "Group"}
    })"));
    expect_created(created, "Group");
    group = created.body;
    EXPECT_EQ(group.at("displayName"), "displayName");
    EXPECT_EQ(group.at("externalId"), "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    EXPECT_EQ(group.value("members", json::array()), json::array());
    // Entra requires displayName to be unique; the validator creates a duplicate.
    for (const char* duplicate : {"displayName", "DISPLAYNAME"}) {
      EXPECT_TRUE(is_scim_error(
          entra.post("/Groups", {{"schemas", {kGroupSchema}}, {"displayName", duplicate}}), 409,
          "uniqueness"))
          << duplicate;
    }
  }
  const std::string group_id = group.value("id", std::string());
  ASSERT_FALSE(group_id.empty());

  {
    SCOPED_TRACE("E10 TUTORIAL §Get Group");
    const auto got = entra.get("/Groups/" + group_id + "?excludedAttributes=members");
    ASSERT_EQ(got.status, 200) << got.raw;
    EXPECT_TRUE(is_scim_json(got));
    EXPECT_FALSE(got.body.contains("members")) << got.raw;
    EXPECT_EQ(got.body.at("id"), group_id);
    EXPECT_EQ(got.body.at("displayName"), "displayName");
  }

  {
    SCOPED_TRACE("E11 TUTORIAL §Get Group by displayName");
    const auto found = entra.get("/Groups?excludedAttributes=members&" +
                                 filter_query("displayName eq \"displayName\""));
    expect_list(found, 1);
    EXPECT_EQ(found.body.at("startIndex"), 1);
    ASSERT_EQ(found.body.at("Resources").size(), 1u);
    EXPECT_EQ(found.body["Resources"][0].at("id"), group_id);
    EXPECT_FALSE(found.body["Resources"][0].contains("members"));
  }

  const std::string new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName";
  {
    SCOPED_TRACE("E12 TUTORIAL §Update Group [Non-member attributes]");
    EXPECT_TRUE(is_group_patch_ok(entra.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "Replace"}, {"path", "displayName"}, {"value", new_name}}}))));
    EXPECT_EQ(entra.get("/Groups/" + group_id).body.value("displayName", ""), new_name);
  }

  {
    SCOPED_TRACE("E13 TUTORIAL §Update Group [Add Members]");
    const json add = patch_op({{{"op", "Add"},
                                {"path", "members"},
                                {"value", {{{"$ref", nullptr}, {"value", member_id}}}}}});
    const auto added = entra.patch("/Groups/" + group_id, add);
    EXPECT_EQ(added.status, 204) << added.raw;  // Entra's recommendation
    EXPECT_EQ(member_ids(entra.get("/Groups/" + group_id).body),
              std::vector<std::string>{member_id});
    // Re-adding an existing member is a no-op; several members may come in one operation.
    EXPECT_TRUE(is_group_patch_ok(entra.patch("/Groups/" + group_id, add)));
    EXPECT_TRUE(is_group_patch_ok(
        entra.patch("/Groups/" + group_id,
                    patch_op({{{"op", "Add"},
                               {"path", "members"},
                               {"value",
                                {{{"$ref", nullptr}, {"value", member_id}},
                                 {{"$ref", nullptr}, {"value", second_member_id}}}}}}))));
    auto expected = std::vector<std::string>{member_id, second_member_id};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(member_ids(entra.get("/Groups/" + group_id).body), expected);
  }

  {
    SCOPED_TRACE("E14 TUTORIAL §Update Group [Remove Members] (default job: value array)");
    const auto removed =
        entra.patch("/Groups/" + group_id,
                    patch_op({{{"op", "Remove"},
                               {"path", "members"},
                               {"value", {{{"$ref", nullptr}, {"value", member_id}}}}}}));
    EXPECT_EQ(removed.status, 204) << removed.raw;
    EXPECT_EQ(member_ids(entra.get("/Groups/" + group_id).body),
              std::vector<std::string>{second_member_id});
  }

  {
    SCOPED_TRACE("E15 TUTORIAL §Delete Group");
    const auto deleted = entra.del("/Groups/" + group_id);
    EXPECT_EQ(deleted.status, 204) << deleted.raw;
    EXPECT_TRUE(is_scim_error(entra.get("/Groups/" + group_id), 404));
    // The members themselves are untouched.
    EXPECT_EQ(entra.get("/Users/" + second_member_id).status, 200);
  }

  {
    SCOPED_TRACE("E16 TUTORIAL §Discover schema");
    const auto schemas = entra.get("/Schemas");
    ASSERT_EQ(schemas.status, 200) << schemas.raw;
    EXPECT_TRUE(is_scim_json(schemas));
    EXPECT_EQ(schemas.body.at("schemas"), json::array({kListResponse}));
    std::set<std::string> ids;
    for (const auto& schema : schemas.body.at("Resources")) {
      ids.insert(schema.at("id").get<std::string>());
      EXPECT_EQ(schema.at("schemas"), json::array({kSchemaSchema}));
      EXPECT_TRUE(schema.at("name").is_string());
      EXPECT_EQ(schema.at("meta").at("resourceType"), "Schema");
      for (const auto& attribute : schema.at("attributes")) {
        for (const char* key : {"name", "type", "multiValued", "description", "required",
                                "mutability", "returned", "uniqueness"}) {
          EXPECT_TRUE(attribute.contains(key)) << key << " missing in " << attribute;
        }
        if (attribute.value("type", "") == "string") {
          EXPECT_TRUE(attribute.contains("caseExact")) << attribute;
        }
        const std::string mutability = attribute.value("mutability", "");
        EXPECT_TRUE(mutability == "readOnly" || mutability == "readWrite" ||
                    mutability == "immutable" || mutability == "writeOnly")
            << mutability;
      }
    }
    for (const std::string_view expected : {kUserSchema, kGroupSchema, kEnterpriseUser}) {
      EXPECT_TRUE(ids.contains(std::string(expected))) << expected;
    }
    std::vector<std::string> nulls;
    collect_nulls(schemas.body, "", nulls);
    EXPECT_TRUE(nulls.empty()) << "null values at " << ::testing::PrintToString(nulls);
  }
}

// KNOWN-ISSUES §"Flags to alter the SCIM behavior": the four requests the aadOptscim062020 flag
// changes, replayed in the default job's form (flag = false) and in the flagged form. Both must
// leave the same state.
void replay_flag_column(bool flag) {
  ScimDaemon daemon;
  const auto entra = ScimClient::bearer(daemon, "okta");
  // The flag is part of the Tenant URL; should it reach the server it must be ignored.
  const auto url = [flag](const std::string& path) {
    if (!flag) {
      return path;
    }
    return path + (path.find('?') == std::string::npos ? "?" : "&") + "aadOptscim062020";
  };
  const auto op = [flag](std::string name) {
    if (flag) {
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    return name;
  };
  const std::string user_name = std::string(flag ? "flag" : "default") + "@contoso.com";
  const std::string id = create_user(entra, user_name, "before");
  const std::string other_id = create_user(entra, "other@contoso.com", "other");
  const std::string group_id = create_group(entra, "Flag column group");
  ASSERT_FALSE(id.empty());
  ASSERT_FALSE(group_id.empty());

  {
    SCOPED_TRACE("Disable user");
    const json value = flag ? json(false) : json("False");
    const auto disabled =
        entra.patch(url("/Users/" + id),
                    patch_op({{{"op", op("Replace")}, {"path", "active"}, {"value", value}}}));
    ASSERT_EQ(disabled.status, 200) << disabled.raw;
    EXPECT_EQ(disabled.body.at("active"), json(false));
    const auto found =
        entra.get(url("/Users?" + filter_query("userName eq \"" + user_name + "\"")));
    expect_list(found, 1);
    EXPECT_EQ(found.body["Resources"][0].at("active"), json(false));
  }

  {
    SCOPED_TRACE("Add single-valued string (E26)");
    const auto added =
        entra.patch(url("/Users/" + id),
                    patch_op({{{"op", op("Add")}, {"path", "nickName"}, {"value", "Babs"}}}));
    ASSERT_EQ(added.status, 200) << added.raw;
    EXPECT_EQ(added.body.at("nickName"), "Babs");
  }

  {
    SCOPED_TRACE(flag ? "Replace several attributes (E27: valuePath + path-less key map)"
                      : "Replace several attributes (E28: one Replace per path)");
    json operations;
    if (flag) {
      operations = {{{"op", "replace"},
                     {"path", "emails[type eq \"work\"].value"},
                     {"value", "new@contoso.com"}},
                    {{"op", "replace"},
                     {"value",
                      {{"displayName", "Bjfe"},
                       {"name.givenName", "Kkom"},
                       {"name.familyName", "Unua"},
                       {"externalId", "after"},
                       {kEnterprise + ":employeeNumber", "Aklq"}}}}};
    } else {
      operations = {
          {{"op", "Replace"}, {"path", "displayName"}, {"value", "Bjfe"}},
          {{"op", "Replace"},
           {"path", "emails[type eq \"work\"].value"},
           {"value", "new@contoso.com"}},
          {{"op", "Replace"}, {"path", "name.givenName"}, {"value", "Kkom"}},
          {{"op", "Replace"}, {"path", "name.familyName"}, {"value", "Unua"}},
          {{"op", "Replace"}, {"path", "externalId"}, {"value", "after"}},
          {{"op", "Replace"}, {"path", kEnterprise + ":employeeNumber"}, {"value", "Aklq"}}};
    }
    const auto replaced = entra.patch(url("/Users/" + id), patch_op(operations));
    ASSERT_EQ(replaced.status, 200) << replaced.raw;
    const auto got = entra.get(url("/Users/" + id));
    ASSERT_EQ(got.status, 200) << got.raw;
    for (const json* body : {&replaced.body, &got.body}) {
      EXPECT_EQ(body->at("displayName"), "Bjfe");
      ASSERT_EQ(body->at("emails").size(), 1u) << *body;
      EXPECT_EQ(body->at("emails")[0].at("value"), "new@contoso.com");
      EXPECT_EQ(body->at("emails")[0].at("type"), "work");
      EXPECT_EQ(body->at("name").at("givenName"), "Kkom");
      EXPECT_EQ(body->at("name").at("familyName"), "Unua");
      EXPECT_EQ(body->at("externalId"), "after");
      EXPECT_EQ(body->at(kEnterprise).at("employeeNumber"), "Aklq");
      // The dotted keys are paths, not attribute names to store.
      EXPECT_FALSE(body->contains("name.givenName"));
      EXPECT_FALSE(body->contains(kEnterprise + ":employeeNumber"));
      EXPECT_EQ(body->at("nickName"), "Babs");
      EXPECT_EQ(body->at("active"), json(false));
    }
  }

  {
    SCOPED_TRACE(flag ? "Remove group member (members[value eq ...])"
                      : "Remove group member (value array)");
    EXPECT_TRUE(is_group_patch_ok(
        entra.patch(url("/Groups/" + group_id),
                    patch_op({{{"op", op("Add")},
                               {"path", "members"},
                               {"value", {{{"value", id}}, {{"value", other_id}}}}}}))));
    ASSERT_EQ(member_ids(entra.get(url("/Groups/" + group_id)).body).size(), 2u);
    const json removal =
        flag ? json{{"op", "remove"}, {"path", "members[value eq \"" + id + "\"]"}}
             : json{{"op", "Remove"}, {"path", "members"}, {"value", {{{"value", id}}}}};
    const auto removed = entra.patch(url("/Groups/" + group_id), patch_op({removal}));
    EXPECT_EQ(removed.status, 204) << removed.raw;
    EXPECT_EQ(member_ids(entra.get(url("/Groups/" + group_id)).body),
              std::vector<std::string>{other_id});
    // Removing a member that is no longer there is not an error (retries are idempotent).
    EXPECT_TRUE(is_group_patch_ok(entra.patch(url("/Groups/" + group_id), patch_op({removal}))));
  }

  {
    SCOPED_TRACE("Re-enable user");
    const json value = flag ? json(true) : json("True");
    const auto enabled =
        entra.patch(url("/Users/" + id),
                    patch_op({{{"op", op("Replace")}, {"path", "active"}, {"value", value}}}));
    ASSERT_EQ(enabled.status, 200) << enabled.raw;
    EXPECT_EQ(enabled.body.at("active"), json(true));
  }
}

TEST(EntraFlagTable, DefaultJobWithoutFlag) {
  replay_flag_column(false);
}

TEST(EntraFlagTable, WithAadOptscim062020) {
  replay_flag_column(true);
}

// Requests Entra and the Microsoft validators send besides the tutorial's examples (E17-E35 in
// scim-clients.md §1.4).
TEST(EntraFurtherTraffic, ReplaysE17ToE34) {
  ScimDaemon daemon;
  const auto entra = ScimClient::bearer(daemon, "okta");
  const std::string id = create_user(entra, "johnwong@contoso.com", "johnwong");
  const std::string manager_id = create_user(entra, "boss@contoso.com", "boss");
  ASSERT_FALSE(id.empty());
  ASSERT_FALSE(manager_id.empty());

  {
    SCOPED_TRACE("E17 TUTORIAL §Test Connection: a random GUID as the matching value");
    const auto none =
        entra.get("/Users?" + filter_query("userName eq \"7d9e1c52-0b0e-4f43-a1bb-2a3a8f7de8f3\""));
    expect_list(none, 0);
  }
  {
    SCOPED_TRACE("E18 random group probe");
    const auto none = entra.get("/Groups?excludedAttributes=members&" +
                                filter_query("displayName eq \"2f9ec1a5-6b0c-4c5d-8d5e\""));
    expect_list(none, 0);
  }
  {
    SCOPED_TRACE("E19 match on externalId (caseExact)");
    const auto found = entra.get("/Users?filter=externalId+eq+%22johnwong%22");
    expect_list(found, 1);
    EXPECT_EQ(found.body["Resources"][0].at("id"), id);
    expect_list(entra.get("/Users?filter=externalId+eq+%22JOHNWONG%22"), 0);
    // The tutorial prints the value unquoted: not RFC grammar. A 400 invalidFilter is a clear
    // answer; a match would be leniency. Anything else (500, a wrong match) is not.
    const auto unquoted = entra.get("/Users?filter=externalId+eq+johnwong");
    if (unquoted.status == 200) {
      expect_list(unquoted, 1);
    } else {
      EXPECT_TRUE(is_scim_error(unquoted, 400, "invalidFilter"));
    }
  }
  {
    SCOPED_TRACE("E20 email uniqueness lookup");
    const auto found = entra.get(
        "/Users?" + filter_query("emails[type eq \"work\"].value eq \"johnwong@contoso.com\""));
    expect_list(found, 1);
    EXPECT_EQ(found.body["Resources"][0].at("id"), id);
  }

  {
    SCOPED_TRACE("E22 set manager as a bare string (Entra)");
    const auto patched = entra.patch(
        "/Users/" + id,
        patch_op({{{"op", "Add"}, {"path", kEnterprise + ":manager"}, {"value", manager_id}}}));
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body.at(kEnterprise).at("manager").at("value"), manager_id);
    EXPECT_FALSE(patched.body.contains("manager"));
  }
  {
    SCOPED_TRACE("E21 manager reference check, RFC form, attributes=id");
    const auto found = entra.get("/Users?" +
                                 filter_query("id eq \"" + id + "\" and " + kEnterprise +
                                              ":manager.value eq \"" + manager_id + "\"") +
                                 "&attributes=id");
    expect_list(found, 1);
    ASSERT_EQ(found.body.at("Resources").size(), 1u);
    EXPECT_EQ(found.body["Resources"][0].at("id"), id);
    EXPECT_FALSE(found.body["Resources"][0].contains("userName"));
    // The legacy doc prints the values unquoted; that is not RFC filter grammar, and the answer
    // is a clear 400 invalidFilter (Entra itself quotes them).
    EXPECT_TRUE(is_scim_error(
        entra.get("/Users?" + filter_query("id eq " + id + " and manager eq " + manager_id) +
                  "&attributes=id"),
        400, "invalidFilter"));
  }
  {
    SCOPED_TRACE("E23 set manager, validator form {\"value\": id}, replace");
    const auto patched =
        entra.patch("/Users/" + id, patch_op({{{"op", "replace"},
                                               {"path", kEnterprise + ":manager"},
                                               {"value", {{"value", manager_id}}}}}));
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body.at(kEnterprise).at("manager").at("value"), manager_id);
  }
  {
    SCOPED_TRACE("E24 remove manager (remove op; replace with an empty value)");
    const auto removed = entra.patch(
        "/Users/" + id, patch_op({{{"op", "remove"}, {"path", kEnterprise + ":manager"}}}));
    ASSERT_EQ(removed.status, 200) << removed.raw;
    const auto got = entra.get("/Users/" + id);
    for (const json* body : {&removed.body, &got.body}) {
      EXPECT_FALSE(body->value(kEnterprise, json::object()).contains("manager")) << *body;
      EXPECT_FALSE(body->contains("manager")) << *body;
    }
    for (const json& empty : {json(""), json(nullptr)}) {
      ASSERT_EQ(entra
                    .patch("/Users/" + id, patch_op({{{"op", "Add"},
                                                      {"path", kEnterprise + ":manager"},
                                                      {"value", manager_id}}}))
                    .status,
                200);
      const auto cleared = entra.patch(
          "/Users/" + id,
          patch_op({{{"op", "replace"}, {"path", kEnterprise + ":manager"}, {"value", empty}}}));
      ASSERT_EQ(cleared.status, 200) << empty << " " << cleared.raw;
      EXPECT_FALSE(cleared.body.value(kEnterprise, json::object()).contains("manager"))
          << empty << " " << cleared.body;
      EXPECT_FALSE(cleared.body.contains("manager"));
    }
  }
  {
    SCOPED_TRACE("E25 legacy manager form (top-level path \"manager\")");
    const auto legacy = entra.patch(
        "/Users/" + id, patch_op({{{"op", "Add"},
                                   {"path", "manager"},
                                   {"value",
                                    {{{"$ref", "http://example.com/scim/Users/" + manager_id},
                                      {"value", manager_id}}}}}}));
    // Optional in the reference; idbridge names the path it does not know rather than guess.
    if (legacy.status != 200) {
      EXPECT_TRUE(is_scim_error(legacy, 400, "invalidPath"));
    }
  }

  {
    SCOPED_TRACE("E29/E30 roles: not supported by idbridge");
    // idbridge users hold one role in its tenant extension
    // (urn:idbridge:params:scim:schemas:extension:tenant:2.0:User:role), so the core `roles`
    // attribute is not in its schema. Entra only sends roles when an admin maps app roles; then
    // it must get a clear 400 naming the problem, never a 500 and never a silent drop. An empty
    // list (every E01 create carries "roles": []) is no value and is accepted.
    const auto before = entra.get("/Users/" + id);
    const auto single = entra.patch(
        "/Users/" + id,
        patch_op(
            {{{"op", "Add"}, {"path", "roles[primary eq \"True\"].value"}, {"value", "Admin"}}}));
    EXPECT_TRUE(is_scim_error(single, 400, "invalidPath"));
    const auto complex = entra.patch(
        "/Users/" + id,
        patch_op(
            {{{"op", "Add"},
              {"path", "roles"},
              {"value",
               {{{"value",
                  R"({"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"})"}}}}}}));
    EXPECT_TRUE(is_scim_error(complex, 400, "invalidPath"));
    EXPECT_EQ(entra.get("/Users/" + id).body, before.body);
    json with_roles = user_body("roles@contoso.com", "roles");
    with_roles["roles"] = {
        {{"primary", "True"}, {"type", "WindowsAzureActiveDirectoryRole"}, {"value", "Admin"}}};
    EXPECT_TRUE(is_scim_error(entra.post("/Users", with_roles), 400, "invalidValue"));
    expect_list(entra.get("/Users?" + filter_query("userName eq \"roles@contoso.com\"")), 0);
  }

  {
    SCOPED_TRACE("E31 replace with an empty string, then null, clears the attribute");
    ASSERT_EQ(entra
                  .patch("/Users/" + id,
                         patch_op({{{"op", "Add"}, {"path", "title"}, {"value", "Engineer"}},
                                   {{"op", "Add"}, {"path", "nickName"}, {"value", "JW"}}}))
                  .body.value("title", ""),
              "Engineer");
    const auto emptied = entra.patch(
        "/Users/" + id, patch_op({{{"op", "replace"}, {"path", "title"}, {"value", ""}}}));
    ASSERT_EQ(emptied.status, 200) << emptied.raw;
    EXPECT_FALSE(emptied.body.contains("title")) << emptied.raw;
    EXPECT_FALSE(entra.get("/Users/" + id).body.contains("title"));
    const auto nulled = entra.patch(
        "/Users/" + id, patch_op({{{"op", "replace"}, {"path", "nickName"}, {"value", nullptr}}}));
    ASSERT_EQ(nulled.status, 200) << nulled.raw;
    EXPECT_FALSE(nulled.body.contains("nickName")) << nulled.raw;
    EXPECT_FALSE(entra.get("/Users/" + id).body.contains("nickName"));
  }

  const std::string group_id = create_group(entra, "UHYYWKURUTZS");
  ASSERT_FALSE(group_id.empty());
  {
    SCOPED_TRACE("E32 group replace without a path (validator)");
    EXPECT_TRUE(is_group_patch_ok(entra.patch(
        "/Groups/" + group_id,
        patch_op({{{"op", "replace"}, {"value", {{"externalId", "c3b97a69-53d8-4b5b"}}}}}))));
    const auto got = entra.get("/Groups/" + group_id);
    EXPECT_EQ(got.body.value("externalId", ""), "c3b97a69-53d8-4b5b");
    EXPECT_EQ(got.body.value("displayName", ""), "UHYYWKURUTZS");
  }
  {
    SCOPED_TRACE("E33 user replace without a path (validator \"Update User userName\")");
    const auto renamed = entra.patch(
        "/Users/" + id,
        patch_op({{{"op", "replace"}, {"value", {{"userName", "emilio@hermann.uk"}}}}}));
    ASSERT_EQ(renamed.status, 200) << renamed.raw;
    EXPECT_EQ(renamed.body.at("userName"), "emilio@hermann.uk");
  }
  {
    SCOPED_TRACE("E34 case-insensitive userName and displayName filters (validator)");
    const std::string ford = create_user(entra, "ford_purdy@abernathypadberg.uk", "ford");
    const auto user =
        entra.get("/Users?" + filter_query("userName eq \"FORD_PURDY@ABERNATHYPADBERG.UK\""));
    expect_list(user, 1);
    EXPECT_EQ(user.body["Resources"][0].at("id"), ford);
    // Attribute names and operators are case-insensitive too (RFC 7644 §3.4.2.2).
    expect_list(
        entra.get("/Users?" + filter_query("USERNAME EQ \"Ford_Purdy@abernathypadberg.uk\"")), 1);
    const auto group = entra.get("/Groups?excludedAttributes=members&" +
                                 filter_query("displayName eq \"uhyywkurutzs\""));
    expect_list(group, 1);
    EXPECT_EQ(group.body["Resources"][0].at("id"), group_id);
    // The 409 check agrees with the filter: a differently-cased create is a duplicate.
    EXPECT_TRUE(is_scim_error(
        entra.post("/Users", user_body("Ford_Purdy@AbernathyPadberg.uk", "x")), 409, "uniqueness"));
  }
}

// E35, VALIDATOR pagination test: at least 11 users, pages of 5; startIndex is echoed, the
// numbers are JSON integers, and the pages are stable and cover every user exactly once.
TEST(EntraFurtherTraffic, E35PaginatesStably) {
  ScimDaemon daemon;
  const auto entra = ScimClient::bearer(daemon, "okta");
  constexpr int users = 12;
  std::set<std::string> created;
  for (int i = 0; i < users; ++i) {
    created.insert(
        create_user(entra, "page" + std::to_string(i) + "@contoso.com", "p" + std::to_string(i)));
  }
  ASSERT_EQ(created.size(), static_cast<std::size_t>(users));
  std::vector<std::string> walked;
  for (int page = 0; page * 5 < users + 5; ++page) {
    const int start = page * 5 + 1;
    SCOPED_TRACE("startIndex=" + std::to_string(start));
    const auto listed = entra.get("/Users?startIndex=" + std::to_string(start) + "&count=5");
    expect_list(listed, users);
    EXPECT_EQ(listed.body.at("startIndex"), start);
    const json resources = listed.body.value("Resources", json::array());
    const int expected = std::clamp(users - (start - 1), 0, 5);
    EXPECT_EQ(static_cast<int>(resources.size()), expected);
    EXPECT_EQ(listed.body.at("itemsPerPage"), resources.size());
    for (const auto& resource : resources) {
      walked.push_back(resource.at("id").get<std::string>());
    }
  }
  EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()), created);
  EXPECT_EQ(walked.size(), created.size());  // no user on two pages
  // The same page twice gives the same users in the same order.
  std::vector<std::string> again;
  const auto repeated = entra.get("/Users?startIndex=6&count=5");
  for (const auto& resource : repeated.body.at("Resources")) {
    again.push_back(resource.at("id").get<std::string>());
  }
  EXPECT_EQ(again, std::vector<std::string>(walked.begin() + 5, walked.begin() + 10));
}

// Two tenants, each provisioned by its own Entra token, and the provider's token. A tenant's
// token must not reach the other tenant's users and groups by any route: its URL, its ids under
// the own tenant's URL, or a filter on its userName/displayName.
TEST(EntraTenantIsolation, TenantTokensStayInTheirTenant) {
  ScimDaemonOptions options;
  options.tenants = {"acme", "globex"};
  options.credentials = {{"acme-entra", "acme", "administrator", false},
                         {"globex-entra", "globex", "administrator", false}};
  options.provider_credentials = {{"provider-admin", "", "accountOwner", false}};
  ScimDaemon daemon(options);
  const auto acme = ScimClient::bearer(daemon, "acme-entra", "acme");
  const auto globex = ScimClient::bearer(daemon, "globex-entra", "globex");
  // The acme token presented on globex's URL.
  const ScimClient acme_on_globex(daemon.port(), "globex", "Bearer " + daemon.token("acme-entra"));

  const std::string acme_user = create_user(acme, "alice@acme.example", "alice");
  const std::string globex_user = create_user(globex, "gina@globex.example", "gina");
  const std::string globex_group = create_group(globex, "Globex Admins");
  ASSERT_FALSE(acme_user.empty());
  ASSERT_FALSE(globex_user.empty());
  ASSERT_FALSE(globex_group.empty());
  ASSERT_TRUE(is_group_patch_ok(globex.patch(
      "/Groups/" + globex_group,
      patch_op({{{"op", "add"}, {"path", "members"}, {"value", {{{"value", globex_user}}}}}}))));
  const json user_before = globex.get("/Users/" + globex_user).body;
  const json group_before = globex.get("/Groups/" + globex_group).body;

  const json rename = patch_op({{{"op", "Replace"}, {"path", "displayName"}, {"value", "pwned"}}});
  const json add_acme_member =
      patch_op({{{"op", "Add"}, {"path", "members"}, {"value", {{{"value", acme_user}}}}}});
  const std::string user_filter = filter_query("userName eq \"gina@globex.example\"");
  const std::string group_filter = filter_query("displayName eq \"Globex Admins\"");

  {
    SCOPED_TRACE("acme token on globex's URL");
    EXPECT_TRUE(is_denied(acme_on_globex.get("/Users/" + globex_user)));
    EXPECT_TRUE(is_denied(acme_on_globex.get("/Users")));
    EXPECT_TRUE(is_denied(acme_on_globex.get("/Users?" + user_filter)));
    EXPECT_TRUE(is_denied(acme_on_globex.post(
        "/Users/.search", {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}},
                           {"filter", "userName eq \"gina@globex.example\""}})));
    EXPECT_TRUE(is_denied(acme_on_globex.patch("/Users/" + globex_user, rename)));
    EXPECT_TRUE(is_denied(acme_on_globex.put("/Users/" + globex_user, user_body("x@y.z", "x"))));
    EXPECT_TRUE(
        is_denied(acme_on_globex.post("/Users", user_body("intruder@globex.example", "i"))));
    EXPECT_TRUE(is_denied(acme_on_globex.del("/Users/" + globex_user)));
    EXPECT_TRUE(is_denied(acme_on_globex.get("/Groups/" + globex_group)));
    EXPECT_TRUE(is_denied(acme_on_globex.get("/Groups")));
    EXPECT_TRUE(is_denied(acme_on_globex.get("/Groups?" + group_filter)));
    EXPECT_TRUE(is_denied(acme_on_globex.patch("/Groups/" + globex_group, rename)));
    EXPECT_TRUE(is_denied(acme_on_globex.patch("/Groups/" + globex_group, add_acme_member)));
    EXPECT_TRUE(is_denied(acme_on_globex.del("/Groups/" + globex_group)));
  }
  {
    SCOPED_TRACE("globex ids and names under acme's own URL");
    EXPECT_TRUE(is_scim_error(acme.get("/Users/" + globex_user), 404));
    expect_list(acme.get("/Users?" + user_filter), 0);
    expect_list(acme.get("/Users?" + filter_query("id eq \"" + globex_user + "\"")), 0);
    expect_list(acme.get("/Users?" + filter_query("userName co \"globex\"")), 0);
    EXPECT_TRUE(is_scim_error(acme.patch("/Users/" + globex_user, rename), 404));
    EXPECT_TRUE(is_scim_error(acme.del("/Users/" + globex_user), 404));
    EXPECT_TRUE(is_scim_error(acme.get("/Groups/" + globex_group), 404));
    expect_list(acme.get("/Groups?" + group_filter), 0);
    EXPECT_TRUE(is_scim_error(acme.patch("/Groups/" + globex_group, rename), 404));
    EXPECT_TRUE(is_scim_error(acme.del("/Groups/" + globex_group), 404));
    // An acme group cannot take globex's user as a member.
    const std::string acme_group = create_group(acme, "Acme Admins");
    const auto cross = acme.patch(
        "/Groups/" + acme_group,
        patch_op({{{"op", "Add"}, {"path", "members"}, {"value", {{{"value", globex_user}}}}}}));
    EXPECT_TRUE(is_scim_error(cross, 400, "invalidValue")) << cross.raw;
    EXPECT_EQ(member_ids(acme.get("/Groups/" + acme_group).body), std::vector<std::string>{});
    // userName is unique across all tenants (docs/design/core.md), so taking globex's name is a
    // 409; it must not say which tenant holds the name or which user has it.
    const auto taken = acme.post("/Users", user_body("GINA@globex.example", "gina"));
    EXPECT_TRUE(is_scim_error(taken, 409, "uniqueness"));
    EXPECT_EQ(taken.raw.find(globex_user), std::string::npos) << taken.raw;
    // It may say the rule spans all tenants, but never name the tenant that holds the name.
    EXPECT_EQ(taken.raw.find("\"globex"), std::string::npos) << taken.raw;
    EXPECT_EQ(taken.raw.find("tenant globex"), std::string::npos) << taken.raw;
    EXPECT_NE(taken.raw.find("unique across all tenants"), std::string::npos) << taken.raw;
    // Every listing acme can make holds acme's users only.
    const auto all = acme.get("/Users");
    expect_list(all, 1);
    EXPECT_EQ(all.body["Resources"][0].at("id"), acme_user);
  }
  {
    SCOPED_TRACE("globex's data is unchanged");
    EXPECT_EQ(globex.get("/Users/" + globex_user).body, user_before);
    EXPECT_EQ(globex.get("/Groups/" + globex_group).body, group_before);
    expect_list(globex.get("/Users"), 1);
  }
  {
    SCOPED_TRACE("the provider token reaches both tenants");
    const auto provider_acme = ScimClient::bearer(daemon, "provider-admin", "acme");
    const auto provider_globex = ScimClient::bearer(daemon, "provider-admin", "globex");
    EXPECT_EQ(provider_acme.get("/Users/" + acme_user).status, 200);
    EXPECT_EQ(provider_globex.get("/Users/" + globex_user).body, user_before);
    expect_list(provider_globex.get("/Users?" + user_filter), 1);
    expect_list(provider_acme.get("/Users?" + user_filter), 0);  // still scoped by the URL
    EXPECT_TRUE(is_scim_error(provider_acme.get("/Users/" + globex_user), 404));
    const auto renamed = provider_globex.patch("/Groups/" + globex_group, rename);
    EXPECT_TRUE(is_group_patch_ok(renamed));
    EXPECT_EQ(globex.get("/Groups/" + globex_group).body.value("displayName", ""), "pwned");
  }
}

// Every write the daemon acknowledged survives a SIGKILL right after the last acknowledgement:
// Entra caches the ids it was given and never re-sends a create it saw succeed.
TEST(EntraDurability, AcknowledgedWritesSurviveSigkill) {
  ScimDaemon daemon;
  constexpr int threads = 4;
  constexpr int writes_per_thread = 50;  // 200 acknowledged writes in all
  struct Acknowledged {
    std::map<std::string, std::string> user_names;     // id -> userName
    std::map<std::string, std::string> display_names;  // id -> last acknowledged displayName
    int writes = 0;
  };
  std::vector<Acknowledged> acknowledged(threads);
  {
    const auto entra = ScimClient::bearer(daemon, "okta");
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&entra, &acknowledged, t] {
        Acknowledged& mine = acknowledged[static_cast<std::size_t>(t)];
        std::string last_id;
        for (int i = 0; i < writes_per_thread; ++i) {
          const std::string tag = std::to_string(t) + "-" + std::to_string(i);
          if (i % 3 == 2 && !last_id.empty()) {
            const std::string display = "patched " + tag;
            const auto patched = entra.patch(
                "/Users/" + last_id,
                patch_op({{{"op", "Replace"}, {"path", "displayName"}, {"value", display}}}));
            if (patched.status == 200) {
              mine.display_names[last_id] = display;
              ++mine.writes;
            } else {
              ADD_FAILURE() << "PATCH " << patched.status << " " << patched.raw;
            }
            continue;
          }
          const std::string user_name = "burst-" + tag + "@contoso.com";
          const auto created = entra.post("/Users", user_body(user_name, "burst-" + tag));
          if (created.status == 201) {
            last_id = created.body.at("id").get<std::string>();
            mine.user_names[last_id] = user_name;
            ++mine.writes;
          } else {
            ADD_FAILURE() << "POST " << created.status << " " << created.raw;
          }
        }
      });
    }
    for (auto& worker : workers) {
      worker.join();
    }
  }
  daemon.kill_hard();  // immediately after the last 2xx
  daemon.restart();

  const auto entra = ScimClient::bearer(daemon, "okta");
  int writes = 0;
  std::size_t users = 0;
  for (const auto& mine : acknowledged) {
    writes += mine.writes;
    users += mine.user_names.size();
    for (const auto& [id, user_name] : mine.user_names) {
      const auto got = entra.get("/Users/" + id);
      ASSERT_EQ(got.status, 200) << "acknowledged user " << user_name << " lost: " << got.raw;
      EXPECT_EQ(got.body.at("userName"), user_name);
      if (const auto it = mine.display_names.find(id); it != mine.display_names.end()) {
        EXPECT_EQ(got.body.value("displayName", ""), it->second) << user_name;
      }
    }
  }
  EXPECT_EQ(writes, threads * writes_per_thread);
  expect_list(entra.get("/Users?count=1"), static_cast<std::int64_t>(users));
}

}  // namespace
}  // namespace idbridge::testing
