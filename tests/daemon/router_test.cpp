// Route matching, 404/405 responses and the exception barrier, without a socket.
#include "router.hpp"

#include "logger.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <stdexcept>

namespace idbridge::daemon {
namespace {

Response named(std::string name) {
  return json_response(200, std::move(name));
}

Router sample_router() {
  return Router({
      {Method::get, "/healthz", [](const Request&) { return named("healthz"); }},
      {Method::get, "/scim/v2/{tenant}/Users", [](const Request&) { return named("list"); }},
      {Method::post, "/scim/v2/{tenant}/Users", [](const Request&) { return named("create"); }},
      {Method::get, "/scim/v2/{tenant}/Users/{id}", [](const Request&) { return named("get"); }},
      {Method::delete_, "/scim/v2/{tenant}/Users/{id}",
       [](const Request&) { return named("delete"); }},
      {Method::get, "/scim/v2/{tenant}/Users/.search", [](const Request&) { return named("x"); }},
  });
}

struct MatchCase {
  Method method;
  std::string path;
  std::string expected;  // handler name, "404", or "405:<Allow>"
};

std::string describe(const Router& router, Method method, const std::string& path) {
  const auto match = router.match(method, path);
  if (const auto* found = std::get_if<RouteFound>(&match)) {
    return found->route->handler(Request{}).body;
  }
  if (const auto* not_allowed = std::get_if<MethodNotAllowed>(&match)) {
    return "405:" + not_allowed->allow;
  }
  return "404";
}

TEST(RouterTest, MatchesByMethodAndPattern) {
  const Router router = sample_router();
  const MatchCase cases[] = {
      {Method::get, "/healthz", "healthz"},
      {Method::post, "/healthz", "405:GET"},
      {Method::get, "/healthz/", "404"},
      {Method::get, "/healthzz", "404"},
      {Method::get, "/", "404"},
      {Method::get, "", "404"},
      {Method::get, "healthz", "404"},
      {Method::get, "/scim/v2/acme/Users", "list"},
      {Method::post, "/scim/v2/acme/Users", "create"},
      {Method::put, "/scim/v2/acme/Users", "405:GET, POST"},
      {Method::get, "/scim/v2/acme/Users/42", "get"},
      {Method::delete_, "/scim/v2/acme/Users/42", "delete"},
      {Method::patch, "/scim/v2/acme/Users/42", "405:GET, DELETE"},
      {Method::other, "/scim/v2/acme/Users/42", "405:GET, DELETE"},
      {Method::get, "/scim/v2//Users", "404"},  // an empty {tenant} never matches
      {Method::get, "/scim/v2/acme/Users//", "404"},
      {Method::get, "/scim/v2/acme/Users/42/x", "404"},
      {Method::get, "/scim/v2/acme/Users/.search", "get"},  // first matching entry wins
  };
  for (const auto& c : cases) {
    EXPECT_EQ(describe(router, c.method, c.path), c.expected)
        << to_string(c.method) << " " << c.path;
  }
}

TEST(RouterTest, ExtractsPathParameters) {
  const Router router = sample_router();
  const auto match = router.match(Method::get, "/scim/v2/acme/Users/0b5e-77");
  const auto* found = std::get_if<RouteFound>(&match);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->params.at("tenant"), "acme");
  EXPECT_EQ(found->params.at("id"), "0b5e-77");
  EXPECT_EQ(found->params.size(), 2U);
}

TEST(RouterTest, NotRoutedResponsesCarryStatusAllowAndJsonError) {
  const Router router = sample_router();
  const auto not_found = not_routed_response(router.match(Method::get, "/nope"));
  EXPECT_EQ(not_found.status, 404);
  EXPECT_FALSE(not_found.header("Allow").has_value());
  const auto body = nlohmann::json::parse(not_found.body);
  EXPECT_EQ(body.at("status"), "404");

  const auto not_allowed = not_routed_response(router.match(Method::post, "/healthz"));
  EXPECT_EQ(not_allowed.status, 405);
  ASSERT_TRUE(not_allowed.header("allow").has_value());
  EXPECT_EQ(*not_allowed.header("allow"), "GET");
  EXPECT_EQ(nlohmann::json::parse(not_allowed.body).at("status"), "405");
}

TEST(RouterTest, HandlerExceptionBecomesGeneric500AndIsLogged) {
  std::ostringstream log;
  Logger logger(LogLevel::info, &log);
  const Route route{Method::get, "/boom", [](const Request&) -> Response {
                      throw std::runtime_error("SQLITE_IOERR at /var/lib/idbridge/idbridge.db");
                    }};
  const auto response = invoke_handler(route, make_request(Method::get, "/boom", {}, ""), logger);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("SQLITE"), std::string::npos);
  EXPECT_EQ(response.body.find("/var/lib"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(response.body).at("status"), "500");
  const auto line = nlohmann::json::parse(log.str());
  EXPECT_EQ(line.at("level"), "error");
  EXPECT_EQ(line.at("route"), "/boom");
  EXPECT_NE(line.at("error").get<std::string>().find("SQLITE_IOERR"), std::string::npos);
}

TEST(RouterTest, NonStandardExceptionBecomes500) {
  std::ostringstream log;
  Logger logger(LogLevel::info, &log);
  const Route route{Method::get, "/boom", [](const Request&) -> Response { throw 42; }};
  EXPECT_EQ(invoke_handler(route, Request{}, logger).status, 500);
}

TEST(HttpMessageTest, MakeRequestSplitsPathAndQuery) {
  const auto request = make_request(Method::get, "/scim/v2/a/Users?filter=userName%20eq%20%22x%22",
                                    {{"Content-Type", "application/json"}}, "");
  EXPECT_EQ(request.path, "/scim/v2/a/Users");
  EXPECT_EQ(request.query, "filter=userName%20eq%20%22x%22");
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_FALSE(request.header("accept").has_value());
}

TEST(HttpMessageTest, MethodNamesRoundTrip) {
  for (const auto method : {Method::get, Method::head, Method::post, Method::put, Method::patch,
                            Method::delete_, Method::options}) {
    EXPECT_EQ(parse_method(to_string(method)), method);
  }
  EXPECT_EQ(parse_method("get"), Method::other);  // methods are case-sensitive
  EXPECT_EQ(parse_method("BREW"), Method::other);
}

}  // namespace
}  // namespace idbridge::daemon
