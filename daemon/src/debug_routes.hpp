// Routes for integration tests only, switched on by IDBRIDGE_TEST_ROUTES=1 in the environment:
// a deliberately slow request (graceful shutdown) and a failing handler (500 without internals).
#pragma once

#include "router.hpp"

namespace idbridge::daemon {

// GET /debug/slow?ms=N sleeps N milliseconds (at most 30000) on the blocking pool.
// GET /debug/fail throws.
void add_debug_routes(Router& router);

}  // namespace idbridge::daemon
