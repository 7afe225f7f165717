// /healthz and /readyz: liveness of the process, readiness of the store and every tenant.
#pragma once

#include "http_message.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace idbridge::core {
class IdentityService;
class Store;
}  // namespace idbridge::core

namespace idbridge::daemon {

class Logger;

struct TenantReadiness {
  std::string tenant;
  bool exists = false;
  std::int64_t users = 0;
  bool has_account_owner = false;
  bool healthy = false;  // no users, or an Account Owner present (DOMAIN.md)
};

struct ReadinessReport {
  bool store_ok = false;
  std::vector<TenantReadiness> tenants;
  bool ready() const;
};

// Asks the store and the service; blocks on the store, so it runs on the blocking pool.
// A store that throws is reported as not ok (the exception text is logged, not returned).
ReadinessReport probe_readiness(core::Store& store, core::IdentityService& service, Logger& logger);

// GET /healthz: 200 {"status":"ok"} for as long as the process serves requests.
Response handle_healthz(const Request& request);

// GET /readyz: 200 when the store answers and every configured tenant exists, else 503 with a
// reason. Per-tenant health is reported either way; an unhealthy tenant does not make the
// process unready (its users still need to be served to repair it).
Response handle_readyz(const ReadinessReport& report);

}  // namespace idbridge::daemon
