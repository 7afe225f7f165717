// Command-line parsing for idbridged, separate from acting on it so it is unit-testable.
#pragma once

#include "idbridge/config/config.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace idbridge::daemon {

enum class Command {
  serve,
  check_config,
  init_demo,
  import_users,
  export_users,
  sync,
  writeback,
  help,
  version
};

struct CommandLine {
  Command command = Command::serve;
  std::string config_path;  // serve, check_config
  // serve: overrides, checked by config::apply_overrides (reported like config errors).
  config::Overrides overrides;
  std::optional<std::string> state_dir;  // init_demo: required
  // init_demo: the demo directory's URI and password file (both or neither).
  std::optional<std::string> demo_ldap_uri;
  std::optional<std::string> demo_ldap_password_file;
  std::string tenant;                    // import_users, export_users
  std::optional<std::string> file;       // import_users: required; export_users: default stdout
  std::string directory;                 // sync: the [directories.NAME] to read
  bool json = false;                     // sync: print the plan as JSON instead of a table
  bool dry_run = false;                  // sync: plan only, write nothing
  bool incremental = false;              // sync: read what changed since the stored cursor
  std::optional<std::string> plan_file;  // sync --apply: the held plan to approve
  bool list_runs = false;                // sync --runs: print the run records
  // writeback: exactly one of --conflicts, --outbox (needs --directory), --retry ID.
  bool list_conflicts = false;
  bool list_outbox = false;
  std::optional<std::int64_t> retry_id;
};

struct ParsedCommandLine {
  std::optional<CommandLine> command_line;
  std::string error;  // set when command_line is empty: a usage error (exit 2)
};

// `args` excludes argv[0]. Accepts "--flag VALUE" and "--flag=VALUE".
//   idbridged --config FILE [--listen ADDR:PORT] [--state-dir DIR]
//   idbridged --check-config FILE
//   idbridged init-demo --state-dir DIR [--ldap-uri URI --ldap-password-file FILE]
//   idbridged import-users --config FILE --tenant ID --file CSV [--state-dir DIR]
//   idbridged export-users --config FILE --tenant ID [--file CSV] [--state-dir DIR]
//   idbridged sync --config FILE --directory NAME [--dry-run] [--incremental] [--json]
//   idbridged sync --config FILE --apply PLANFILE [--json]
//   idbridged sync --config FILE --runs [--directory NAME] [--json]
//   idbridged writeback --config FILE --conflicts [--directory NAME] [--json]
//   idbridged writeback --config FILE --outbox --directory NAME [--json]
//   idbridged writeback --config FILE --retry ID
//   idbridged --help | --version
ParsedCommandLine parse_command_line(std::span<const std::string_view> args);

std::string usage_text();

// Exit codes of the process.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace idbridge::daemon
