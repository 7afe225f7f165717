// Every class of refused SCIM request against the running idbridged: the status and scimType of
// RFC 7644 §3.12 (never a 500), a SCIM Error body, and the resource unchanged afterwards.
// The requests are the shapes Okta sends ("Okta and SCIM Version 2.0",
// https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20) with one thing wrong.
#include "scim_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace idbridge::testing {
namespace {

using nlohmann::json;

constexpr std::string_view kUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
constexpr std::string_view kTenantUser =
    "urn:idbridge:params:scim:schemas:extension:tenant:2.0:User";
constexpr std::size_t kMaxBody = 64 * 1024;

ScimDaemonOptions error_daemon_options() {
  ScimDaemonOptions options;
  options.credentials = {{"okta", "acme", "administrator", false},
                         {"auditor", "acme", "administrator", true},
                         {"helpdesk", "acme", "standardUser", false},
                         {"owner", "acme", "accountOwner", false}};
  options.extra_server = "max_body_bytes = " + std::to_string(kMaxBody) + "\n";
  return options;
}

json user_body(const std::string& user_name, const std::string& email) {
  return {{"schemas", {kUserSchema}},
          {"userName", user_name},
          {"name", {{"givenName", "Error"}, {"familyName", "Case"}}},
          {"emails", {{{"primary", true}, {"value", email}, {"type", "work"}}}},
          {"active", true}};
}

// What a case sends. Placeholders in target, body and header values: {id} (a fresh user),
// {group} (a fresh group whose one member is {id}), {all_users} (the All Users group),
// {stale} / {group_stale} (ETags of {id} / {group} that are no longer current),
// {taken_user} / {taken_email} (another user's), {long} (a 17,000-character filter).
struct ErrorCase {
  std::string name;
  std::string credential;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string scim_type;
  Headers headers = {};
};

void PrintTo(const ErrorCase& c, std::ostream* out) {
  *out << c.name;
}

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

class ScimErrorTest : public ::testing::TestWithParam<ErrorCase> {
 protected:
  static void SetUpTestSuite() {
    daemon_ = std::make_unique<ScimDaemon>(error_daemon_options());
    const auto okta = ScimClient::bearer(*daemon_, "okta");
    const auto taken =
        okta.post("/Users", user_body("taken.user@example.com", "taken@example.com"));
    ASSERT_EQ(taken.status, 201) << taken.raw;
    const auto all = okta.get("/Groups?filter=displayName%20eq%20%22All%20Users%22");
    ASSERT_EQ(all.body.at("totalResults"), 1) << all.raw;
    all_users_ = all.body.at("Resources").at(0).at("id").get<std::string>();
  }
  static void TearDownTestSuite() { daemon_.reset(); }

  static std::unique_ptr<ScimDaemon> daemon_;
  static std::string all_users_;
};

std::unique_ptr<ScimDaemon> ScimErrorTest::daemon_;
std::string ScimErrorTest::all_users_;

// The user and group as GET returns them, and All Users without its (growing) member list.
struct Snapshot {
  json user;
  json all_users;
  json group;
};

Snapshot snapshot(const ScimClient& client, const std::string& id, const std::string& all_users,
                  const std::string& group) {
  return {client.get("/Users/" + id).body,
          client.get("/Groups/" + all_users + "?excludedAttributes=members").body,
          client.get("/Groups/" + group).body};
}

TEST_P(ScimErrorTest, IsRefusedWithTheRightStatusAndChangesNothing) {
  const ErrorCase& c = GetParam();
  const auto okta = ScimClient::bearer(*daemon_, "okta");
  const std::string name = "case." + c.name + "@example.com";
  const auto created = okta.post("/Users", user_body(name, name));
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body.at("id").get<std::string>();
  const std::string stale = created.body.at("meta").at("version").get<std::string>();
  ASSERT_EQ(okta.patch("/Users/" + id,
                       patch_op({{{"op", "replace"}, {"path", "displayName"}, {"value", "Moved"}}}))
                .status,
            200);
  // A group holding the user, also moved past its first version.
  const auto group =
      okta.post("/Groups", {{"displayName", "Case " + c.name}, {"members", {{{"value", id}}}}});
  ASSERT_EQ(group.status, 201) << group.raw;
  const std::string group_id = group.body.at("id").get<std::string>();
  const std::string group_stale = group.body.at("meta").at("version").get<std::string>();
  ASSERT_EQ(okta.patch("/Groups/" + group_id,
                       patch_op({{{"op", "replace"}, {"path", "externalId"}, {"value", "g-1"}}}))
                .status,
            204);
  const Snapshot before = snapshot(okta, id, all_users_, group_id);
  ASSERT_NE(before.user.at("meta").at("version"), stale);
  ASSERT_NE(before.group.at("meta").at("version"), group_stale);

  const auto substitute = [&](std::string text) {
    replace_all(text, "{id}", id);
    replace_all(text, "{group}", group_id);
    replace_all(text, "{group_stale}", group_stale);
    replace_all(text, "{all_users}", all_users_);
    replace_all(text, "{stale}", stale);
    replace_all(text, "{taken_user}", "taken.user@example.com");
    replace_all(text, "{taken_email}", "taken@example.com");
    // JSON-escaped: {long} only appears inside a JSON string.
    replace_all(text, "{long}", "userName eq \\\"" + std::string(17000, 'a') + "\\\"");
    return text;
  };
  Headers headers = {};
  for (const auto& [key, value] : c.headers) {
    headers.emplace_back(key, substitute(value));
  }
  const auto client = ScimClient::bearer(*daemon_, c.credential);
  const auto response =
      client.raw(c.method, substitute(c.target), substitute(c.body), std::move(headers));
  EXPECT_TRUE(is_scim_error(response, c.status, c.scim_type));

  const Snapshot after = snapshot(okta, id, all_users_, group_id);
  EXPECT_EQ(after.user, before.user);
  EXPECT_EQ(after.all_users, before.all_users);
  EXPECT_EQ(after.group, before.group);
  // Nothing was created either (every POST case would create new.user@example.com).
  EXPECT_EQ(okta.get("/Users?filter=userName%20eq%20%22new.user%40example.com%22")
                .body.at("totalResults"),
            0);
}

std::string patch(const std::string& operations) {
  return R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":)" +
         operations + "}";
}

std::string user_json(const std::string& extra) {
  return R"({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new.user@example.com",
             "name":{"givenName":"New","familyName":"User"},
             "emails":[{"primary":true,"value":"new.user@example.com"}])" +
         extra + "}";
}

// PUT body for {id}: a valid replacement except for `extra`.
std::string put_json(const std::string& extra) {
  return R"({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"{id}",
             "userName":"renamed.user@example.com","name":{"givenName":"Re","familyName":"Named"},
             "emails":[{"primary":true,"value":"renamed.user@example.com"}])" +
         extra + "}";
}

const std::string tenant_urn(kTenantUser);

INSTANTIATE_TEST_SUITE_P(
    Cases, ScimErrorTest,
    ::testing::Values(
        // Malformed JSON and bodies that are not objects: invalidSyntax.
        ErrorCase{"PostMalformedJson", "okta", "POST", "/Users", R"({"userName": )", 400,
                  "invalidSyntax"},
        ErrorCase{"PutMalformedJson", "okta", "PUT", "/Users/{id}", R"({"userName": "x",})", 400,
                  "invalidSyntax"},
        ErrorCase{"PatchMalformedJson", "okta", "PATCH", "/Users/{id}", R"({"Operations": [)", 400,
                  "invalidSyntax"},
        ErrorCase{"PostBodyIsArray", "okta", "POST", "/Users", "[1, 2]", 400, "invalidSyntax"},
        ErrorCase{"PutBodyIsString", "okta", "PUT", "/Users/{id}", R"("text")", 400,
                  "invalidSyntax"},
        ErrorCase{"PatchBodyIsNumber", "okta", "PATCH", "/Users/{id}", "42", 400, "invalidSyntax"},
        ErrorCase{"PatchWithoutOperations", "okta", "PATCH", "/Users/{id}",
                  R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]})", 400,
                  "invalidSyntax"},
        ErrorCase{"PatchEmptyOperations", "okta", "PATCH", "/Users/{id}", patch("[]"), 400,
                  "invalidSyntax"},
        ErrorCase{"PatchUnknownOp", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"merge","path":"displayName","value":"x"}])"), 400,
                  "invalidSyntax"},
        // Values of the wrong type: invalidValue.
        ErrorCase{"PutStringAttributeAsNumber", "okta", "PUT", "/Users/{id}",
                  put_json(R"(,"displayName": 42)"), 400, "invalidValue"},
        ErrorCase{"PostUserNameAsObject", "okta", "POST", "/Users",
                  R"({"userName": {"value": "new.user@example.com"}})", 400, "invalidValue"},
        ErrorCase{"PatchStringAttributeAsNumber", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"displayName","value":42}])"), 400,
                  "invalidValue"},
        ErrorCase{"PatchBooleanAsWord", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"active","value":"maybe"}])"), 400,
                  "invalidValue"},
        ErrorCase{"PatchBooleanAsNumberWithoutPath", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","value":{"active":0}}])"), 400, "invalidValue"},
        ErrorCase{"PutBooleanAsNumber", "okta", "PUT", "/Users/{id}", put_json(R"(,"active": 1)"),
                  400, "invalidValue"},
        ErrorCase{"PutComplexAsString", "okta", "PUT", "/Users/{id}",
                  R"({"userName":"renamed.user@example.com","name":"Re Named"})", 400,
                  "invalidValue"},
        ErrorCase{"PatchComplexAsNumber", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"name","value":5}])"), 400, "invalidValue"},
        ErrorCase{"PatchMultiValuedElementAsNumber", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"add","path":"emails","value":[7]}])"), 400, "invalidValue"},
        // The idbridge tenant extension: unknown role and MFA method.
        ErrorCase{
            "PatchUnknownRole", "owner", "PATCH", "/Users/{id}",
            patch(R"([{"op":"replace","path":")" + tenant_urn + R"(:role","value":"superuser"}])"),
            400, "invalidValue"},
        ErrorCase{"PostUnknownRole", "okta", "POST", "/Users",
                  user_json(R"(,")" + tenant_urn + R"(":{"role":"superuser"})"), 400,
                  "invalidValue"},
        ErrorCase{"PatchUnknownMfaMethod", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":")" + tenant_urn +
                        R"(:mfa.method","value":"carrier-pigeon"}])"),
                  400, "invalidValue"},
        ErrorCase{"PutUnknownMfaMethod", "okta", "PUT", "/Users/{id}",
                  put_json(R"(,")" + tenant_urn + R"(":{"mfa":{"method":"fax"}})"), 400,
                  "invalidValue"},
        // Tenant rules.
        ErrorCase{"PatchPasswordPolicy", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","value":{"password":"abc"}}])"), 400, "invalidValue"},
        ErrorCase{"PostPasswordPolicy", "okta", "POST", "/Users",
                  user_json(R"(,"password":"alllowercase")"), 400, "invalidValue"},
        ErrorCase{"PatchUserNameCharacters", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"userName","value":"bad name"}])"), 400,
                  "invalidValue"},
        ErrorCase{"PostUserNameCharacters", "okta", "POST", "/Users",
                  R"({"userName":"new user*","emails":[{"primary":true,"value":"n@example.com"}]})",
                  400, "invalidValue"},
        ErrorCase{"PatchDuplicateUserName", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"userName","value":"{taken_user}"}])"), 409,
                  "uniqueness"},
        ErrorCase{"PatchDuplicateUserNameOtherCase", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"userName","value":"TAKEN.User@example.com"}])"),
                  409, "uniqueness"},
        ErrorCase{"PatchDuplicateEmail", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"emails[type eq \"work\"].value",
                              "value":"{taken_email}"}])"),
                  409, "uniqueness"},
        ErrorCase{"PostDuplicateEmail", "okta", "POST", "/Users",
                  R"({"userName":"new.user@example.com",
                      "emails":[{"primary":true,"value":"{taken_email}"}]})",
                  409, "uniqueness"},
        // Filters: invalidFilter.
        ErrorCase{"FilterUnterminatedString", "okta", "GET", "/Users?filter=userName%20eq%20%22abc",
                  "", 400, "invalidFilter"},
        ErrorCase{"FilterUnknownOperator", "okta", "GET", "/Users?filter=userName%20xx%20%22abc%22",
                  "", 400, "invalidFilter"},
        ErrorCase{"FilterMissingValue", "okta", "GET", "/Users?filter=userName%20eq", "", 400,
                  "invalidFilter"},
        ErrorCase{"FilterUnbalancedParenthesis", "okta", "GET",
                  "/Groups?filter=%28displayName%20eq%20%22a%22", "", 400, "invalidFilter"},
        ErrorCase{"FilterTooLong", "okta", "POST", "/Users/.search", R"({"filter":"{long}"})", 400,
                  "invalidFilter"},
        // PATCH paths: invalidPath, and readOnly/required targets: mutability.
        ErrorCase{"PatchPathUnbalancedBracket", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"emails[type eq \"work\"","value":"x"}])"), 400,
                  "invalidPath"},
        ErrorCase{"PatchPathDoubleDot", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"name..givenName","value":"x"}])"), 400,
                  "invalidPath"},
        ErrorCase{"PatchPathUnknownAttribute", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"favouriteColour","value":"red"}])"), 400,
                  "invalidPath"},
        ErrorCase{
            "PatchPathUnknownSchemaUrn", "okta", "PATCH", "/Users/{id}",
            patch(
                R"([{"op":"replace","path":"urn:example:params:scim:schemas:extension:acme:2.0:User:badge","value":"x"}])"),
            400, "invalidPath"},
        ErrorCase{"PatchPathNotAString", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":7,"value":"x"}])"), 400, "invalidPath"},
        ErrorCase{"PatchReadOnlyId", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"id","value":"another-id"}])"), 400,
                  "mutability"},
        ErrorCase{"PatchReadOnlyGroups", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"add","path":"groups","value":[{"value":"{all_users}"}]}])"), 400,
                  "mutability"},
        ErrorCase{
            "PatchReadOnlyMeta", "okta", "PATCH", "/Users/{id}",
            patch(R"([{"op":"replace","path":"meta.created","value":"2001-01-01T00:00:00Z"}])"),
            400, "mutability"},
        ErrorCase{"PatchRemoveRequiredUserName", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"remove","path":"userName"}])"), 400, "mutability"},
        ErrorCase{"PatchRemoveWithoutPath", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"remove"}])"), 400, "noTarget"},
        // One bad operation after a good one: nothing is applied (RFC 7644 §3.5.2 atomicity).
        ErrorCase{"PatchAtomicAfterGoodOperation", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":"displayName","value":"Changed"},
                            {"op":"replace","path":"active","value":"maybe"}])"),
                  400, "invalidValue"},
        // Preconditions (RFC 7644 §3.14).
        ErrorCase{"PutStaleIfMatch",
                  "okta",
                  "PUT",
                  "/Users/{id}",
                  put_json(""),
                  412,
                  "",
                  {{"If-Match", "{stale}"}}},
        ErrorCase{"PatchStaleIfMatch",
                  "okta",
                  "PATCH",
                  "/Users/{id}",
                  patch(R"([{"op":"replace","value":{"active":false}}])"),
                  412,
                  "",
                  {{"If-Match", "{stale}"}}},
        ErrorCase{"DeleteStaleIfMatch",
                  "okta",
                  "DELETE",
                  "/Users/{id}",
                  "",
                  412,
                  "",
                  {{"If-Match", "{stale}"}}},
        // Credentials: read-only, and a role ceiling below the requested role.
        ErrorCase{"ReadOnlyPost", "auditor", "POST", "/Users", user_json(""), 403, ""},
        ErrorCase{"ReadOnlyPut", "auditor", "PUT", "/Users/{id}", put_json(""), 403, ""},
        ErrorCase{"ReadOnlyPatch", "auditor", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","value":{"active":false}}])"), 403, ""},
        ErrorCase{"ReadOnlyDelete", "auditor", "DELETE", "/Users/{id}", "", 403, ""},
        ErrorCase{"ReadOnlyGroupPatch", "auditor", "PATCH", "/Groups/{all_users}",
                  patch(R"([{"op":"replace","path":"displayName","value":"Everyone"}])"), 403, ""},
        ErrorCase{"RoleCeilingOnCreate", "helpdesk", "POST", "/Users",
                  user_json(R"(,")" + tenant_urn + R"(":{"role":"administrator"})"), 403, ""},
        ErrorCase{"RoleCeilingOnPatch", "okta", "PATCH", "/Users/{id}",
                  patch(R"([{"op":"replace","path":")" + tenant_urn +
                        R"(:role","value":"administrator"}])"),
                  403, ""},
        // Groups.
        ErrorCase{"GroupPatchWithoutOperations", "okta", "PATCH", "/Groups/{group}",
                  R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]})", 400,
                  "invalidSyntax"},
        ErrorCase{"GroupPutMalformedJson", "okta", "PUT", "/Groups/{group}", R"({"displayName":)",
                  400, "invalidSyntax"},
        ErrorCase{"GroupPutDisplayNameAsNumber", "okta", "PUT", "/Groups/{group}",
                  R"({"displayName":42,"members":[]})", 400, "invalidValue"},
        ErrorCase{"GroupPutMembersAsString", "okta", "PUT", "/Groups/{group}",
                  R"({"displayName":"X","members":"everyone"})", 400, "invalidValue"},
        ErrorCase{"GroupAddUnknownMember", "okta", "PATCH", "/Groups/{group}",
                  patch(R"([{"op":"add","path":"members","value":[{"value":"no-such-id"}]}])"), 400,
                  "invalidValue"},
        ErrorCase{
            "GroupAddMemberWithBadType", "okta", "PATCH", "/Groups/{group}",
            patch(R"([{"op":"add","path":"members","value":[{"value":"{id}","type":"Robot"}]}])"),
            400, "invalidValue"},
        ErrorCase{
            "GroupUnknownKind", "okta", "PATCH", "/Groups/{group}",
            patch(
                R"([{"op":"replace","path":"urn:idbridge:params:scim:schemas:extension:tenant:2.0:Group:kind","value":"club"}])"),
            400, "invalidValue"},
        ErrorCase{"GroupRenameToTakenNameOtherCase", "okta", "PATCH", "/Groups/{group}",
                  patch(R"([{"op":"replace","path":"displayName","value":"all users"}])"), 409,
                  "uniqueness"},
        ErrorCase{"GroupPatchReadOnlyId", "okta", "PATCH", "/Groups/{group}",
                  patch(R"([{"op":"replace","path":"id","value":"x"}])"), 400, "mutability"},
        ErrorCase{
            "GroupPatchReadOnlySystem", "okta", "PATCH", "/Groups/{group}",
            patch(
                R"([{"op":"replace","path":"urn:idbridge:params:scim:schemas:extension:tenant:2.0:Group:system","value":true}])"),
            400, "mutability"},
        ErrorCase{"GroupRemoveRequiredDisplayName", "okta", "PATCH", "/Groups/{group}",
                  patch(R"([{"op":"remove","path":"displayName"}])"), 400, "mutability"},
        ErrorCase{"GroupMemberPatchStaleIfMatch",
                  "okta",
                  "PATCH",
                  "/Groups/{group}",
                  patch(R"([{"op":"remove","path":"members[value eq \"{id}\"]"}])"),
                  412,
                  "",
                  {{"If-Match", "{group_stale}"}}},
        ErrorCase{"GroupRenameStaleIfMatch",
                  "okta",
                  "PATCH",
                  "/Groups/{group}",
                  patch(R"([{"op":"replace","path":"displayName","value":"Other"}])"),
                  412,
                  "",
                  {{"If-Match", "{group_stale}"}}},
        ErrorCase{"GroupPutStaleIfMatch",
                  "okta",
                  "PUT",
                  "/Groups/{group}",
                  R"({"displayName":"Other","members":[]})",
                  412,
                  "",
                  {{"If-Match", "{group_stale}"}}},
        ErrorCase{"GroupDeleteStaleIfMatch",
                  "okta",
                  "DELETE",
                  "/Groups/{group}",
                  "",
                  412,
                  "",
                  {{"If-Match", "{group_stale}"}}},
        ErrorCase{"ReadOnlyGroupDelete", "auditor", "DELETE", "/Groups/{group}", "", 403, ""},
        // Bytes a client should not send (JSON text is UTF-8, RFC 8259 §8.1).
        ErrorCase{"PostUserNameInvalidUtf8", "okta", "POST", "/Users",
                  "{\"userName\":\"new.\xff@example.com\"}", 400, "invalidSyntax"},
        ErrorCase{"QueryBadPercentEncoding", "okta", "GET", "/Users?filter=userName%zzeq", "", 400,
                  "invalidSyntax"},
        // All Users is the tenant itself: no rename, delete or member removal.
        ErrorCase{"AllUsersRename", "okta", "PATCH", "/Groups/{all_users}",
                  patch(R"([{"op":"replace","path":"displayName","value":"Everyone"}])"), 400,
                  "mutability"},
        ErrorCase{
            "AllUsersRenameWithoutPath", "okta", "PATCH", "/Groups/{all_users}",
            patch(R"([{"op":"replace","value":{"id":"{all_users}","displayName":"Everyone"}}])"),
            400, "mutability"},
        ErrorCase{"AllUsersPutRename", "okta", "PUT", "/Groups/{all_users}",
                  R"({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
                      "displayName":"Everyone"})",
                  400, "mutability"},
        ErrorCase{"AllUsersDelete", "okta", "DELETE", "/Groups/{all_users}", "", 400, "mutability"},
        ErrorCase{"AllUsersRemoveMember", "okta", "PATCH", "/Groups/{all_users}",
                  patch(R"([{"op":"remove","path":"members[value eq \"{id}\"]"}])"), 400,
                  "mutability"},
        ErrorCase{"AllUsersRemoveMemberByValue", "okta", "PATCH", "/Groups/{all_users}",
                  patch(R"([{"op":"Remove","path":"members","value":[{"value":"{id}"}]}])"), 400,
                  "mutability"}),
    [](const ::testing::TestParamInfo<ErrorCase>& param_info) { return param_info.param.name; });

// If-None-Match with the current ETag: 304 without a body; a stale one gets the resource.
TEST_F(ScimErrorTest, IfNoneMatchWithTheCurrentVersionIs304) {
  const auto okta = ScimClient::bearer(*daemon_, "okta");
  const auto created = okta.post("/Users", user_body("etag.user@example.com", "etag@example.com"));
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body.at("id").get<std::string>();
  const auto etag = created.header("ETag");
  ASSERT_TRUE(etag.has_value());

  const auto unchanged = okta.get("/Users/" + id, {{"If-None-Match", *etag}});
  EXPECT_EQ(unchanged.status, 304);
  EXPECT_TRUE(unchanged.raw.empty());
  EXPECT_EQ(unchanged.header("ETag"), etag);

  ASSERT_EQ(okta.patch("/Users/" + id, patch_op({{{"op", "replace"}, {"value", {{"title", "X"}}}}}))
                .status,
            200);
  const auto changed = okta.get("/Users/" + id, {{"If-None-Match", *etag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body.at("title"), "X");
  EXPECT_NE(changed.header("ETag"), etag);

  const auto groups = okta.get("/Groups/" + all_users_);
  ASSERT_TRUE(groups.header("ETag").has_value());
  EXPECT_EQ(okta.get("/Groups/" + all_users_, {{"If-None-Match", *groups.header("ETag")}}).status,
            304);
}

// A body over server.max_body_bytes is refused before it reaches SCIM, and nothing changes.
TEST_F(ScimErrorTest, BodyOverMaxBodyBytesIs413) {
  const auto okta = ScimClient::bearer(*daemon_, "okta");
  const auto created = okta.post("/Users", user_body("big.user@example.com", "big@example.com"));
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body.at("id").get<std::string>();
  const auto before = okta.get("/Users/" + id);
  const auto users_before = okta.get("/Users?count=0").body.at("totalResults");

  const json big = patch_op(
      {{{"op", "replace"}, {"path", "displayName"}, {"value", std::string(kMaxBody + 1, 'x')}}});
  const auto refused = okta.patch("/Users/" + id, big);
  EXPECT_EQ(refused.status, 413) << refused.raw;
  EXPECT_FALSE(refused.http.keep_alive);
  // The HTTP layer refuses it before routing, still with a SCIM Error body (but labelled
  // application/json: the server does not know yet that the target is a SCIM endpoint).
  EXPECT_EQ(refused.body.value("schemas", json()),
            json::array({"urn:ietf:params:scim:api:messages:2.0:Error"}));
  EXPECT_EQ(refused.body.value("status", json()), "413");
  EXPECT_EQ(okta.get("/Users/" + id).body, before.body);
  EXPECT_EQ(okta.post("/Users", big).status, 413);
  EXPECT_EQ(okta.get("/Users?count=0").body.at("totalResults"), users_before);
}

// Reading stays allowed to a read-only credential; a lower ceiling still manages its own roles.
TEST_F(ScimErrorTest, RestrictedCredentialsStillDoWhatTheyMay) {
  const auto auditor = ScimClient::bearer(*daemon_, "auditor");
  EXPECT_EQ(auditor.get("/Users").status, 200);
  EXPECT_EQ(auditor.get("/Groups/" + all_users_).status, 200);
  const auto helpdesk = ScimClient::bearer(*daemon_, "helpdesk");
  json body = user_body("helpdesk.made@example.com", "helpdesk.made@example.com");
  body[std::string(kTenantUser)] = {{"role", "standardUser"}};
  EXPECT_EQ(helpdesk.post("/Users", body).status, 201);
}

}  // namespace
}  // namespace idbridge::testing
