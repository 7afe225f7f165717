// The one place where the concrete parts meet: config, store, service, router, server. Also the
// commands of the idbridged binary, so that main() only forwards its arguments.
#pragma once

#include "cli.hpp"
#include "idbridge/config/config.hpp"
#include "router.hpp"

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core {
class IdentityService;
class Store;
}  // namespace idbridge::core

namespace idbridge::daemon {

class Logger;

// Runs idbridged with `args` (argv without argv[0]); returns the process exit code.
int run_main(std::span<const std::string_view> args);

// --check-config: prints every problem to `err` (one ConfigError::to_string() per line) or
// "FILE: OK" to `out`. Returns kExitOk or kExitFailure.
int check_config(const std::string& path, std::ostream& out, std::ostream& err);

// import-users / export-users: CSV import with a per-row report on `out` (exit 1 when any row
// was refused or the file as a whole was), or CSV export to --file or `out`.
int users_csv(const CommandLine& command_line, std::ostream& out, std::ostream& err);

// sync --dry-run: reads the directory, plans against its tenant and prints the plan to `out`
// (nothing is written to the store). Exit codes: kExitOk, kExitFailure (config, store, unknown
// directory), kExitPlanHeld, kExitReadIncomplete (see sync_command.hpp).
int sync_directory(const CommandLine& command_line, std::ostream& out, std::ostream& err);

// Loads, overrides, validates, opens the store, ensures the tenants and serves until SIGTERM or
// SIGINT. Config problems are printed to stderr before anything is bound.
int serve(const CommandLine& command_line);

// The route table. `test_routes` adds /debug/* routes used by the integration tests
// (IDBRIDGE_TEST_ROUTES=1); they are never on in production configurations.
Router make_router(core::Store& store, core::IdentityService& service, Logger& logger,
                   bool test_routes);

}  // namespace idbridge::daemon
