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

Response handle_readyz(const ReadinessReport& report) {
  nlohmann::ordered_json body;
  const bool ready = report.ready();
  body["status"] = ready ? "ready" : "not_ready";
  if (!report.store_ok) {
    body["reason"] = "store unavailable";
  } else {
    for (const auto& tenant : report.tenants) {
      if (!tenant.exists) {
        body["reason"] = "tenant " + tenant.tenant + " does not exist";
        break;
      }
    }
  }
  body["store"] = report.store_ok ? "ok" : "unavailable";
  auto tenants = nlohmann::ordered_json::array();
  for (const auto& tenant : report.tenants) {
    tenants.push_back({{"id", tenant.tenant},
                       {"exists", tenant.exists},
                       {"users", tenant.users},
                       {"has_account_owner", tenant.has_account_owner},
                       {"healthy", tenant.healthy}});
  }
  body["tenants"] = std::move(tenants);
  return json_response(ready ? 200 : 503, body.dump());
}

}  // namespace idbridge::daemon
