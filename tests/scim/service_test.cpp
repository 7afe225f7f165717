// scim::Service without a socket: Bulk, sorting, projection, ETags and concurrent PATCHes of
// one user, against a real SQLite store.
#include "idbridge/scim/service.hpp"

#include "idbridge/core/identity_service.hpp"
#include "idbridge/crypto/crypto.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "resource_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace idbridge::scim {
namespace {

using nlohmann::json;

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest()
      : store_(store::open_sqlite_store({.path = dir_.file("idbridge.db")})),
        identity_({*store_, clock_, ids_, hasher_, zones_}, core::ProviderSettings{"p"},
                  {acme_settings()}),
        service_(identity_, *store_, limits()) {
    EXPECT_TRUE(identity_.ensure_tenant(tenant_));
    who_.actor = {core::ActorKind::credential, "test"};
    who_.origin = {core::OriginKind::scim, ""};
    who_.ceiling = core::Role::account_owner;
    who_.tenant_scope = tenant_;
  }

  static core::TenantSettings acme_settings() {
    core::TenantSettings settings;
    settings.id = core::TenantId("acme");
    return settings;
  }

  static Limits limits() {
    Limits limits;
    limits.bulk_max_operations = 5;
    return limits;
  }

  Response call(const std::string& method, const std::string& path, const json& body = nullptr,
                const std::string& query = "", std::optional<std::string> if_match = {}) {
    Request request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.body = body.is_null() ? "" : body.dump();
    request.if_match = std::move(if_match);
    request.base_url = "https://idbridge.test/scim/v2/tenants/acme";
    return service_.handle(who_, tenant_, request);
  }

  static json body_of(const Response& response) { return json::parse(response.body); }

  std::string create_user(const std::string& user_name) {
    const auto response = call("POST", "/Users", {{"userName", user_name}});
    EXPECT_EQ(response.status, 201) << response.body;
    return body_of(response)["id"].get<std::string>();
  }

  static json patch_replace(const std::string& path, const json& value) {
    return {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
            {"Operations", {{{"op", "replace"}, {"path", path}, {"value", value}}}}};
  }

  testing::TempDir dir_;
  core::SystemClock clock_;
  core::RandomUuidGenerator ids_;
  crypto::ScryptPasswordHasher hasher_{10};
  core::TzdataZoneCatalog zones_;
  std::unique_ptr<core::Store> store_;
  core::IdentityService identity_;
  Service service_;
  core::TenantId tenant_{"acme"};
  core::Principal who_;
};

json bulk(json operations, std::optional<int> fail_on_errors = std::nullopt) {
  json body{{"schemas", {"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}},
            {"Operations", std::move(operations)}};
  if (fail_on_errors) {
    body["failOnErrors"] = *fail_on_errors;
  }
  return body;
}

TEST_F(ServiceTest, BulkResolvesBulkIdsAppliesInOrderAndReportsEachOperation) {
  const auto response =
      call("POST", "/Bulk",
           bulk({{{"method", "POST"},
                  {"path", "/Users"},
                  {"bulkId", "u"},
                  {"data", {{"userName", "b1"}}}},
                 {{"method", "POST"},
                  {"path", "/Groups"},
                  {"bulkId", "g"},
                  {"data", {{"displayName", "G"}, {"members", {{{"value", "bulkId:u"}}}}}}},
                 {{"method", "PATCH"},
                  {"path", "/Users/bulkId:u"},
                  {"data", patch_replace("title", "Engineer")}},
                 {{"method", "DELETE"}, {"path", "/Groups/bulkId:missing"}}}));
  ASSERT_EQ(response.status, 200) << response.body;
  const json result = body_of(response);
  const auto& ops = result["Operations"];
  ASSERT_EQ(ops.size(), 4U);
  EXPECT_EQ(ops[0]["status"], "201");
  EXPECT_EQ(ops[1]["status"], "201");
  EXPECT_EQ(ops[2]["status"], "200");
  EXPECT_EQ(ops[3]["status"], "409");
  EXPECT_EQ(ops[3]["response"]["scimType"], "invalidValue");
  const std::string user_id = ops[0]["location"].get<std::string>().substr(
      ops[0]["location"].get<std::string>().rfind('/') + 1);
  const auto user = body_of(call("GET", "/Users/" + user_id));
  EXPECT_EQ(user["title"], "Engineer");
  const auto groups = body_of(call("GET", "/Groups", nullptr, "filter=displayName%20eq%20%22G%22"));
  ASSERT_EQ(groups["totalResults"], 1);
  EXPECT_EQ(groups["Resources"][0]["members"][0]["value"], user_id)
      << "bulkId:u inside members was replaced by the created id";
}

TEST_F(ServiceTest, BulkStopsAfterFailOnErrorsAndEnforcesLimits) {
  create_user("taken");
  const auto response = call("POST", "/Bulk",
                             bulk({{{"method", "POST"},
                                    {"path", "/Users"},
                                    {"bulkId", "1"},
                                    {"data", {{"userName", "taken"}}}},
                                   {{"method", "POST"},
                                    {"path", "/Users"},
                                    {"bulkId", "2"},
                                    {"data", {{"userName", "bad name"}}}},
                                   {{"method", "POST"},
                                    {"path", "/Users"},
                                    {"bulkId", "3"},
                                    {"data", {{"userName", "never"}}}}},
                                  2));
  ASSERT_EQ(response.status, 200);
  const json ops = body_of(response)["Operations"];
  ASSERT_EQ(ops.size(), 2U) << "the third operation is not run";
  EXPECT_EQ(ops[0]["status"], "409");
  EXPECT_EQ(ops[1]["status"], "400");
  EXPECT_EQ(
      body_of(call("GET", "/Users", nullptr, "filter=userName%20eq%20%22never%22"))["totalResults"],
      0);
  json too_many = json::array();
  for (int i = 0; i < 6; ++i) {
    too_many.push_back({{"method", "DELETE"}, {"path", "/Users/x" + std::to_string(i)}});
  }
  EXPECT_EQ(call("POST", "/Bulk", bulk(too_many)).status, 413);
  EXPECT_EQ(call("POST", "/Bulk", json{{"Operations", json::array()}}).status, 400)
      << "a body without the BulkRequest schema";
  const auto no_bulk_id =
      call("POST", "/Bulk",
           bulk({{{"method", "POST"}, {"path", "/Users"}, {"data", {{"userName", "z"}}}}}));
  EXPECT_EQ(body_of(no_bulk_id)["Operations"][0]["status"], "400");
}

TEST_F(ServiceTest, SortsByAnyAttributeWithMissingValuesLast) {
  create_user("carol");
  create_user("Alice");
  const std::string bob = create_user("bob");
  ASSERT_EQ(call("PATCH", "/Users/" + bob, patch_replace("title", "Boss")).status, 200);
  const auto names = [&](const std::string& query) {
    std::vector<std::string> out;
    const auto response = call("GET", "/Users", nullptr, query);
    EXPECT_EQ(response.status, 200) << response.body;
    const json body = body_of(response);  // iterate a named value, not a temporary's member
    for (const auto& user : body["Resources"]) {
      out.push_back(user["userName"]);
    }
    return out;
  };
  EXPECT_EQ(names("sortBy=userName"), (std::vector<std::string>{"Alice", "bob", "carol"}));
  EXPECT_EQ(names("sortBy=userName&sortOrder=descending"),
            (std::vector<std::string>{"carol", "bob", "Alice"}));
  EXPECT_EQ(names("sortBy=title").front(), "bob") << "users without a title come last";
  EXPECT_EQ(names("sortBy=userName&startIndex=2&count=1"), std::vector<std::string>{"bob"});
  EXPECT_EQ(call("GET", "/Users", nullptr, "sortBy=userName&sortOrder=up").status, 400);
}

TEST_F(ServiceTest, ProjectionAndETags) {
  const std::string id = create_user("etag");
  const auto full = call("GET", "/Users/" + id);
  std::string etag;
  for (const auto& [name, value] : full.headers) {
    if (name == "ETag") {
      etag = value;
    }
  }
  ASSERT_EQ(etag, "W/\"1\"");
  Request conditional;
  conditional.method = "GET";
  conditional.path = "/Users/" + id;
  conditional.if_none_match = etag;
  EXPECT_EQ(service_.handle(who_, tenant_, conditional).status, 304);
  EXPECT_EQ(call("PATCH", "/Users/" + id, patch_replace("title", "x"), "", "W/\"7\"").status, 412);
  EXPECT_EQ(body_of(call("GET", "/Users/" + id))["meta"]["version"], "W/\"1\"")
      << "the refused PATCH changed nothing";
  const json projected = body_of(call("GET", "/Users/" + id, nullptr, "attributes=userName"));
  EXPECT_TRUE(projected.contains("id"));
  EXPECT_TRUE(projected.contains("userName"));
  EXPECT_FALSE(projected.contains("active"));
  const json excluded = body_of(call("GET", "/Users/" + id, nullptr, "excludedAttributes=groups"));
  EXPECT_FALSE(excluded.contains("groups"));
  EXPECT_TRUE(excluded.contains("active"));
}

TEST_F(ServiceTest, ConcurrentPatchesOfOneUserLoseNoUpdate) {
  const std::string id = create_user("contended");
  constexpr int rounds = 40;
  const auto writer = [&](const std::string& attribute) {
    for (int i = 0; i < rounds; ++i) {
      const auto response =
          call("PATCH", "/Users/" + id, patch_replace(attribute, attribute + std::to_string(i)));
      ASSERT_EQ(response.status, 200) << response.body;
    }
  };
  std::thread a(writer, "title");
  std::thread b(writer, "nickName");
  a.join();
  b.join();
  const json user = body_of(call("GET", "/Users/" + id));
  EXPECT_EQ(user["title"], "title" + std::to_string(rounds - 1));
  EXPECT_EQ(user["nickName"], "nickName" + std::to_string(rounds - 1));
  EXPECT_EQ(user["meta"]["version"], "W/\"" + std::to_string(1 + 2 * rounds) + "\"")
      << "every PATCH produced exactly one version";
}

}  // namespace
}  // namespace idbridge::scim

namespace idbridge::scim {
namespace {

TEST_F(ServiceTest, PathlessPatchMayRepeatTheIdButNotChangeIt) {
  const auto created = call("POST", "/Groups", {{"displayName", "Sales"}});
  ASSERT_EQ(created.status, 201);
  const std::string id = body_of(created)["id"];
  const auto patch = [&](const std::string& value_id, const std::string& name) {
    return call("PATCH", "/Groups/" + id,
                {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
                 {"Operations",
                  {{{"op", "replace"}, {"value", {{"id", value_id}, {"displayName", name}}}}}}});
  };
  EXPECT_EQ(patch(id, "Sales EMEA").status, 204) << "Okta's rename repeats the id";
  const auto refused = patch("another-id", "Hijack");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(body_of(refused)["scimType"], "mutability");
  EXPECT_EQ(body_of(call("GET", "/Groups/" + id))["displayName"], "Sales EMEA");
}

}  // namespace
}  // namespace idbridge::scim

namespace idbridge::scim {
namespace {

TEST_F(ServiceTest, DeeplyNestedJsonIsRefusedNotRecursedInto) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Request request;
  request.method = "POST";
  request.path = "/Users";
  request.body = R"({"userName":"deep","x":)" + deep + "}";
  const auto response = service_.handle(who_, tenant_, request);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(body_of(response)["scimType"], "invalidSyntax");
  request.path = "/Bulk";
  EXPECT_EQ(service_.handle(who_, tenant_, request).status, 400);
  EXPECT_EQ(call("POST", "/Users", {{"userName", "shallow"}, {"x", {{{"y", {1, 2}}}}}}).status, 201)
      << "ordinary nesting is fine";
}

TEST_F(ServiceTest, PutWithoutTheTenantExtensionKeepsRoleExtensionsAndMfa) {
  const json admin{{"userName", "admin1"},
                   {"urn:idbridge:params:scim:schemas:extension:tenant:2.0:User",
                    {{"role", "administrator"},
                     {"extensions", {{{"number", "101"}, {"e911Location", "HQ floor 2"}}}}}}};
  const auto created = call("POST", "/Users", admin);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = body_of(created)["id"];
  const auto put = call("PUT", "/Users/" + id, {{"userName", "admin1"}, {"title", "CTO"}});
  ASSERT_EQ(put.status, 200) << put.body;
  const json tenant = body_of(put)["urn:idbridge:params:scim:schemas:extension:tenant:2.0:User"];
  EXPECT_EQ(tenant["role"], "administrator");
  EXPECT_EQ(tenant["extensions"][0]["number"], "101");
  EXPECT_EQ(body_of(put)["title"], "CTO");
}

TEST_F(ServiceTest, MemberPatchOperationsApplyInOrder) {
  const std::string user = create_user("member");
  const auto group = call("POST", "/Groups", {{"displayName", "Ordered"}});
  const std::string id = body_of(group)["id"];
  const auto ops = [&](json operations) {
    return call("PATCH", "/Groups/" + id,
                {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
                 {"Operations", std::move(operations)}});
  };
  const auto members = [&] { return body_of(call("GET", "/Groups/" + id))["members"].size(); };
  ASSERT_EQ(ops({{{"op", "add"}, {"path", "members"}, {"value", {{{"value", user}}}}},
                 {{"op", "remove"}, {"path", "members[value eq \"" + user + "\"]"}}})
                .status,
            204);
  EXPECT_EQ(members(), 0U) << "add then remove leaves the user out";
  ASSERT_EQ(ops({{{"op", "remove"}, {"path", "members[value eq \"" + user + "\"]"}},
                 {{"op", "add"}, {"path", "members"}, {"value", {{{"value", user}}}}}})
                .status,
            204);
  EXPECT_EQ(members(), 1U) << "remove then add leaves the user in";
}

TEST_F(ServiceTest, GroupFiltersMayMentionMembersInValues) {
  ASSERT_EQ(call("POST", "/Groups", {{"displayName", "Board members"}}).status, 201);
  const auto found =
      call("GET", "/Groups", nullptr, "filter=displayName%20eq%20%22board%20members%22");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(body_of(found)["totalResults"], 1);
  EXPECT_EQ(call("GET", "/Groups", nullptr, "filter=members%20pr").status, 400);
  EXPECT_EQ(call("GET", "/Users", nullptr, "filter=groups.value%20eq%20%22x%22").status, 400)
      << "user documents carry no groups to match against";
}

TEST_F(ServiceTest, AScopedCredentialCannotTellForeignTenantsFromMissingOnes) {
  Request request;
  request.method = "GET";
  request.path = "/Users";
  EXPECT_EQ(service_.handle(who_, core::TenantId("nope"), request).status, 403);
  core::Principal provider = who_;
  provider.tenant_scope.reset();
  EXPECT_EQ(service_.handle(provider, core::TenantId("nope"), request).status, 404);
}

TEST_F(ServiceTest, ProjectingTwoSubAttributesKeepsOneObjectPerValue) {
  const auto created =
      call("POST", "/Users",
           {{"userName", "proj"},
            {"emails", {{{"value", "a@example.com"}, {"type", "work"}, {"primary", true}}}}});
  const std::string id = body_of(created)["id"];
  const json user =
      body_of(call("GET", "/Users/" + id, nullptr, "attributes=emails.value,emails.type"));
  ASSERT_EQ(user["emails"].size(), 1U);
  EXPECT_EQ(user["emails"][0], (json{{"value", "a@example.com"}, {"type", "work"}}));
}

// The daemon runs what this claims on its I/O threads: it must claim only unique-index reads.
// The read path writes users as text (resource_text.cpp): through the service, a user with
// groups reads back as exactly the DOM's bytes, alone, in a filtered list and after a write.
TEST_F(ServiceTest, UserResponsesAreTheDomsBytes) {
  const json body = {{"userName", "Text.Path@example.com"},
                     {"externalId", "ext \"1\""},
                     {"name", {{"givenName", "Zoë"}, {"familyName", "O'Brien"}}},
                     {"displayName", "Zoë \u00e9 \U0001F600"},
                     {"title", "a/b\\c"},
                     {"emails", {{{"value", "text.path@example.com"}, {"primary", true}}}},
                     {"phoneNumbers", {{{"value", "+1 555"}, {"type", "work"}}}},
                     {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                      {{"department", "R&D"}, {"costCenter", "7"}}}};
  const auto created = call("POST", "/Users", body);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = body_of(created)["id"].get<std::string>();
  const auto group_of = [&](const std::string& name) {
    const auto response =
        call("POST", "/Groups", {{"displayName", name}, {"members", {{{"value", id}}}}});
    EXPECT_EQ(response.status, 201) << response.body;
    return body_of(response)["id"].get<std::string>();
  };
  const std::string zeta = group_of("Zeta \"quoted\"");
  const std::string alpha = group_of("Alpha");

  const std::string base = "https://idbridge.test/scim/v2/tenants/acme";
  const auto expected = [&] {
    auto reader = store_->read();
    const auto user = reader->find_user(tenant_, core::UserId(id));
    EXPECT_TRUE(user.has_value());
    std::vector<GroupRef> groups;
    for (const auto& group : reader->group_names_of_user(tenant_, core::UserId(id))) {
      groups.push_back({group.id.str(), group.display_name});
    }
    EXPECT_EQ(groups.size(), 3U) << "All Users, then the two groups in join order";
    if (groups.size() == 3) {
      EXPECT_EQ(groups[1].id, zeta);
      EXPECT_EQ(groups[2].id, alpha);
    }
    return user_to_json(*user, base, groups).dump(-1, ' ', false, json::error_handler_t::replace);
  };

  const auto got = call("GET", "/Users/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, expected());

  const auto listed =
      call("GET", "/Users", nullptr, "filter=userName%20eq%20%22text.path%40example.com%22");
  ASSERT_EQ(listed.status, 200);
  const json list = {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:ListResponse"}},
                     {"totalResults", 1},
                     {"startIndex", 1},
                     {"itemsPerPage", 1},
                     {"Resources", {json::parse(expected())}}};
  EXPECT_EQ(listed.body, list.dump(-1, ' ', false, json::error_handler_t::replace));

  const auto patched = call("PATCH", "/Users/" + id, patch_replace("title", "new\ntitle"));
  ASSERT_EQ(patched.status, 200);
  EXPECT_EQ(patched.body, expected());
  // A projection still goes through the DOM.
  EXPECT_EQ(body_of(call("GET", "/Users/" + id, nullptr, "attributes=title")),
            json::parse(R"({"id":")" + id + R"(","schemas":)" +
                        json::parse(expected())["schemas"].dump() + R"(,"meta":)" +
                        json::parse(expected())["meta"].dump() + R"(,"title":"new\ntitle"})"));
}

TEST(IndexedUserRead, ClaimsOnlyGetByIdAndUserNameEquality) {
  EXPECT_TRUE(is_indexed_user_read("GET", "/Users/2819c223", ""));
  EXPECT_TRUE(is_indexed_user_read("GET", "/Users/2819c223", "attributes=userName"));
  EXPECT_TRUE(is_indexed_user_read("GET", "/Users", "filter=userName%20eq%20%22bjensen%22"));
  EXPECT_TRUE(is_indexed_user_read("GET", "/Users", "filter=USERNAME+EQ+%22b%40x%22&count=5"));

  EXPECT_FALSE(is_indexed_user_read("PATCH", "/Users/2819c223", ""));
  EXPECT_FALSE(is_indexed_user_read("GET", "/Users", ""));  // a page of 100 users
  EXPECT_FALSE(is_indexed_user_read("GET", "/Users/.search", ""));
  EXPECT_FALSE(is_indexed_user_read("GET", "/Groups/2819c223", ""));  // members: unbounded
  EXPECT_FALSE(is_indexed_user_read("GET", "/Users", "filter=title%20eq%20%22x%22"));
  EXPECT_FALSE(is_indexed_user_read("GET", "/Users", "filter=userName%20co%20%22b%22"));
  EXPECT_FALSE(is_indexed_user_read("GET", "/Users",
                                    "filter=userName%20eq%20%22b%22%20or%20title%20co%20%22x%22"));
  EXPECT_FALSE(
      is_indexed_user_read("GET", "/Users", "filter=userName%20eq%20%22b%22&sortBy=title"));
  EXPECT_FALSE(is_indexed_user_read("GET", "/Users", "filter=%zz"));
}

}  // namespace
}  // namespace idbridge::scim
