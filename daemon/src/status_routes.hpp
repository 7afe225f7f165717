// GET /status: the directory syncs' state (running, next runs, recent run records, held plans)
// for monitoring. Needs a bearer token like SCIM: a provider credential sees every directory, a
// tenant credential only its tenant's.
#pragma once

#include "idbridge/scim/auth.hpp"
#include "router.hpp"

namespace idbridge::daemon {

class SyncScheduler;

void add_status_route(Router& router, const SyncScheduler& scheduler,
                      const scim::BearerAuthenticator& authenticator);

}  // namespace idbridge::daemon
