// `idbridged sync --dry-run`: read a configured directory, map it, plan against the tenant's
// current state and print the plan. Nothing is written to the store.
#pragma once

#include "idbridge/config/config.hpp"
#include "idbridge/core/sync/plan.hpp"
#include "idbridge/ldap/reader.hpp"

#include <iosfwd>

namespace idbridge::core {
class Store;
}  // namespace idbridge::core

namespace idbridge::daemon {

class Logger;

// Exit codes of `sync` besides kExitOk, kExitFailure and kExitUsage.
inline constexpr int kExitPlanHeld = 3;        // the plan exceeds a safety threshold
inline constexpr int kExitReadIncomplete = 4;  // the read proved nothing about absences

// The LDAP reader's settings for a configured directory. `password` is the resolved
// bind_password (empty for an anonymous bind).
ldap::ReadSettings read_settings(const config::DirectoryConfig& directory, std::string password);

// The tenant's state as the planner sees it, for this slice: no user is linked yet (the link
// table does not exist), so every tenant user is a candidate for adoption by userName.
core::sync::TenantView tenant_view(core::Store& store, const core::TenantId& tenant);

// Reads `directory` (blocking), plans against `store` and prints the plan (table or JSON) to
// `out`. Logs weakened connection settings as warnings. Returns kExitOk, kExitPlanHeld or
// kExitReadIncomplete (the latter wins when both apply). Never writes to the store.
int sync_dry_run(const config::DirectoryConfig& directory, std::string password, core::Store& store,
                 bool json, std::ostream& out, Logger& logger);

}  // namespace idbridge::daemon
