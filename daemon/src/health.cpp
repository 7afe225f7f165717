// Readiness probing and the JSON bodies of /healthz and /readyz.
#include "health.hpp"

#include "idbridge/core/error.hpp"
#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/store.hpp"
#include "logger.hpp"

#include <nlohmann/json.hpp>

namespace idbridge::daemon {

bool ReadinessReport::ready() const {
  if (!store_ok) {
    return false;
  }
  for (const auto& tenant : tenants) {
    if (!tenant.exists) {
      return false;
    }
  }
  return true;
}

ReadinessReport probe_readiness(core::Store& store, core::IdentityService& service,
                                Logger& logger) {
  ReadinessReport report;
  try {
    store.check();
    const auto reader = store.read();
    for (const auto& id : service.tenant_ids()) {
      TenantReadiness tenant;
      tenant.tenant = id.str();
      tenant.exists = reader->find_tenant(id).has_value();
      if (tenant.exists) {
        const auto health = service.health(id);
        tenant.users = health.users;
        tenant.has_account_owner = health.has_account_owner;
        tenant.healthy = health.healthy();
      }
      if (!tenant.exists) {
        logger.warning("tenant missing from the store", {{"tenant", tenant.tenant}});
      } else if (!tenant.healthy) {
        logger.warning("tenant unhealthy: users but no Account Owner",
                       {{"tenant", tenant.tenant}, {"users", tenant.users}});
      }
      report.tenants.push_back(std::move(tenant));
    }
    report.store_ok = true;
  } catch (const std::exception& e) {
    logger.warning("readiness probe failed", {{"error", e.what()}});
    report.store_ok = false;
    report.tenants.clear();
  }
  return report;
}

Response handle_healthz(const Request& /*request*/) {
  return json_response(200, R"({"status":"ok"})");
}

// /readyz answers anyone who can reach the port, so it carries counts only: tenant ids, user
// counts and owner status are one tenant's business and go to the log (probe_readiness).
Response handle_readyz(const ReadinessReport& report) {
  nlohmann::ordered_json body;
  const bool ready = report.ready();
  body["status"] = ready ? "ready" : "not_ready";
  std::size_t missing = 0;
  std::size_t unhealthy = 0;
  for (const auto& tenant : report.tenants) {
    missing += tenant.exists ? 0 : 1;
    unhealthy += tenant.exists && !tenant.healthy ? 1 : 0;
  }
  if (!report.store_ok) {
    body["reason"] = "store unavailable";
  } else if (missing > 0) {
    body["reason"] = std::to_string(missing) + " configured tenant(s) missing from the store";
  }
  body["store"] = report.store_ok ? "ok" : "unavailable";
  body["tenants"] = {
      {"configured", report.tenants.size()}, {"missing", missing}, {"unhealthy", unhealthy}};
  return json_response(ready ? 200 : 503, body.dump());
}

}  // namespace idbridge::daemon
