// The demo of `scripts/dev run`: the configuration `idbridged init-demo` writes into a state
// directory (tenant "demo", plain HTTP on loopback) and, when asked, the [directories.demo]
// section that syncs the demo's private slapd (config/examples/demo-directory.ldif) into it.
#pragma once

#include "cli.hpp"

#include <iosfwd>
#include <optional>
#include <string>

namespace idbridge::daemon {

// The demo directory as scripts/demo-run.sh starts it: its own slapd on loopback, seeded with
// config/examples/demo-directory.ldif, and a service account whose password is in a file.
struct DemoDirectory {
  std::string uri;            // ldap://127.0.0.1:PORT
  std::string password_file;  // absolute: the password of kDemoBindDn
};

struct DemoOptions {
  std::string state_dir;
  std::optional<DemoDirectory> directory;
};

// The names of config/examples/demo-directory.ldif the directory section relies on.
inline constexpr const char* kDemoBindDn = "cn=idbridge,ou=services,dc=example,dc=com";
inline constexpr const char* kDemoPeopleDn = "ou=people,dc=example,dc=com";
inline constexpr const char* kDemoGroupsDn = "ou=groups,dc=example,dc=com";

// init-demo's options from its command line (--state-dir, --ldap-uri, --ldap-password-file).
DemoOptions demo_options(const CommandLine& command_line);

// init-demo: writes DIR/idbridged.toml (plain HTTP on 127.0.0.1:8080, tenant "demo") and
// DIR/demo.token (mode 0600, a random bearer token) unless they exist, then prints the config
// path to `out`. With a directory, the config has a [directories.demo] section; a config that
// exists without one (written by an earlier init-demo) gets it appended. Errors (exit 1, nothing
// written): the state directory cannot be created, the existing config does not load, the
// directory's URI or password file is refused by the config loader.
int init_demo(const DemoOptions& options, std::ostream& out, std::ostream& err);

// The demo configuration text for `state_dir` and `token_file` (both absolute).
std::string demo_config_text(const std::string& state_dir, const std::string& token_file);

// The [directories.demo] section for `directory`: the service account's bind, scheduled runs
// every 30 s (incremental) and 5 min (full), nested groups under kDemoGroupsDn, users under
// kDemoPeopleDn with their attributes, owners -> accountOwner, admins -> administrator,
// sales/support/engineering/platform -> team groups, and the safety limits written out.
std::string demo_directory_text(const DemoDirectory& directory);

}  // namespace idbridge::daemon
