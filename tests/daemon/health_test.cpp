// /healthz and /readyz bodies and statuses from readiness reports, without a store.
#include "health.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace idbridge::daemon {
namespace {

TEST(HealthTest, HealthzIsOk) {
  const auto response = handle_healthz(Request{});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(response.body), nlohmann::json({{"status", "ok"}}));
}

TEST(HealthTest, ReadyWhenStoreAnswersAndEveryTenantExists) {
  ReadinessReport report;
  report.store_ok = true;
  report.tenants = {{"acme", true, 3, true, true}, {"empty", true, 0, false, true}};
  const auto response = handle_readyz(report);
  EXPECT_EQ(response.status, 200);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body.at("status"), "ready");
  EXPECT_FALSE(body.contains("reason"));
  ASSERT_EQ(body.at("tenants").size(), 2U);
  EXPECT_EQ(body.at("tenants")[0].at("id"), "acme");
  EXPECT_EQ(body.at("tenants")[0].at("users"), 3);
  EXPECT_EQ(body.at("tenants")[0].at("has_account_owner"), true);
  EXPECT_EQ(body.at("tenants")[1].at("healthy"), true);
}

TEST(HealthTest, UnhealthyTenantIsReportedButStaysReady) {
  ReadinessReport report;
  report.store_ok = true;
  report.tenants = {{"acme", true, 5, false, false}};
  const auto response = handle_readyz(report);
  EXPECT_EQ(response.status, 200);
  const auto tenant = nlohmann::json::parse(response.body).at("tenants")[0];
  EXPECT_EQ(tenant.at("healthy"), false);
  EXPECT_EQ(tenant.at("has_account_owner"), false);
}

TEST(HealthTest, MissingTenantIsNotReady) {
  ReadinessReport report;
  report.store_ok = true;
  report.tenants = {{"acme", true, 0, false, true}, {"beta", false, 0, false, false}};
  const auto response = handle_readyz(report);
  EXPECT_EQ(response.status, 503);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body.at("status"), "not_ready");
  EXPECT_EQ(body.at("reason"), "tenant beta does not exist");
}

TEST(HealthTest, StoreDownIsNotReadyWithoutInternals) {
  ReadinessReport report;
  report.store_ok = false;
  const auto response = handle_readyz(report);
  EXPECT_EQ(response.status, 503);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body.at("reason"), "store unavailable");
  EXPECT_EQ(body.at("store"), "unavailable");
}

}  // namespace
}  // namespace idbridge::daemon
