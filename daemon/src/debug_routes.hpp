// Routes for integration tests only, switched on by IDBRIDGE_TEST_ROUTES=1 in the environment:
// a deliberately slow request (graceful shutdown) and a failing handler (500 without internals).
#pragma once

#include "router.hpp"

namespace idbridge::daemon {

class Logger;

// GET /debug/slow?ms=N logs "slow request started", then sleeps N milliseconds (at most 30000)
// on the blocking pool; tests wait for that line to know the request is in flight.
// GET /debug/fail throws.
void add_debug_routes(Router& router, Logger& logger);

}  // namespace idbridge::daemon
