// GET /status (status_routes.hpp).
#include "status_routes.hpp"

#include "sync_scheduler.hpp"

namespace idbridge::daemon {

void add_status_route(Router& router, const SyncScheduler& scheduler,
                      const scim::BearerAuthenticator& authenticator) {
  router.add({Method::get, "/status",
              [&scheduler, &authenticator](const Request& request) {
                const auto header = request.header("Authorization");
                const auto auth = authenticator.authenticate(header ? *header : "");
                if (auth.outcome != scim::AuthOutcome::ok || !auth.principal) {
                  Response response = error_response(401, "a valid bearer token is required");
                  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"idbridge\"");
                  return response;
                }
                return json_response(200, scheduler.status_json(auth.principal->tenant_scope));
              },
              Execution::blocking_pool});
}

}  // namespace idbridge::daemon
