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
  EXPECT_EQ(body.at("tenants"),
            nlohmann::json({{"configured", 2}, {"missing", 0}, {"unhealthy", 0}}));
  EXPECT_EQ(response.body.find("acme"), std::string::npos)
      << "an unauthenticated probe learns no tenant ids";
}

TEST(HealthTest, UnhealthyTenantIsReportedButStaysReady) {
  ReadinessReport report;
  report.store_ok = true;
  report.tenants = {{"acme", true, 5, false, false}};
  const auto response = handle_readyz(report);
  EXPECT_EQ(response.status, 200);
  const auto tenants = nlohmann::json::parse(response.body).at("tenants");
  EXPECT_EQ(tenants.at("unhealthy"), 1);
}

TEST(HealthTest, MissingTenantIsNotReady) {
  ReadinessReport report;
  report.store_ok = true;
  report.tenants = {{"acme", true, 0, false, true}, {"beta", false, 0, false, false}};
  const auto response = handle_readyz(report);
  EXPECT_EQ(response.status, 503);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body.at("status"), "not_ready");
  EXPECT_EQ(body.at("reason"), "1 configured tenant(s) missing from the store");
  EXPECT_EQ(body.at("tenants").at("missing"), 1);
  EXPECT_EQ(response.body.find("beta"), std::string::npos);
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
