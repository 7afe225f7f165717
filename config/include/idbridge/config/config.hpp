// The daemon's configuration as typed values, loaded from a TOML file. Every problem is
// reported with file, line and the key's dotted path; secrets are references, never values.
#pragma once

#include "idbridge/core/model.hpp"
#include "idbridge/core/sync/mapping.hpp"
#include "idbridge/core/sync/plan.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::config {

struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

// Where a secret can be read from. The config never holds a secret's value.
struct SecretRef {
  enum class Kind { file, env, systemd_credential };
  Kind kind = Kind::file;
  std::string name;  // absolute file path (relative ones are resolved against the config's
                     // directory when loading), variable name, or credential name
  SourceLocation where;
  std::string key_path;  // "tenants.acme.credentials[0].token", for error messages
};

// Reads the secret now. Errors name the reference (path / variable / credential) but never the
// value. Trailing newlines of files are stripped. systemd credentials are read from
// $CREDENTIALS_DIRECTORY/<name>.
struct SecretValue {
  std::optional<std::string> value;
  std::string error;  // set when value is empty
};
SecretValue resolve_secret(const SecretRef& ref);

// "file /etc/idbridge/okta.token", "environment variable OKTA_TOKEN", "credential okta".
std::string describe(const SecretRef& ref);

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;
  bool is_loopback() const;  // 127.0.0.0/8, ::1 or "localhost"
};
// "HOST:PORT" or "[V6]:PORT"; nullopt when malformed.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

struct TlsSettings {
  std::string certificate_file;  // PEM chain; not a secret. Absolute after loading.
  SecretRef private_key;         // PEM key; a secret, so only by reference
  SourceLocation certificate_where;
};

struct ServerSettings {
  ListenAddress listen;
  std::optional<TlsSettings> tls;
  bool plain_http = false;  // allowed only when listen is a loopback address
  unsigned threads = 0;     // 0: one per core
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds shutdown_grace{20};
  // The scheme, host and port clients reach the daemon by (e.g. behind a reverse proxy), used in
  // meta.location, Location and $ref. Empty: taken from the request's Host header.
  std::string public_base_url;
  // Where the settings were written, for validate_effective. line 0 when defaulted; an override
  // from the command line sets file to "command line".
  SourceLocation where;  // the [server] table
  SourceLocation listen_where;
  SourceLocation plain_http_where;
};

enum class LogLevel { debug, info, warning, error };
struct LoggingSettings {
  LogLevel level = LogLevel::info;
};

enum class StoreBackend { sqlite, postgresql };
struct StoreSettings {
  StoreBackend backend = StoreBackend::sqlite;
  std::string sqlite_path;  // resolved: absolute, or state_dir/idbridge.db by default
  std::string sqlite_path_as_written = "idbridge.db";  // re-resolved when state_dir changes
};

struct CredentialConfig {
  std::string name;  // appears in logs and change records as the actor
  SecretRef token;
  core::Role role_ceiling = core::Role::standard_user;
  bool read_only = false;
  SourceLocation where;
};

// An OAuth 2.0 issuer whose signed JWTs are accepted as bearer tokens (RFC 7519, RFC 7515). The
// JWKS file holds public keys, so it is a plain path, not a secret reference; the daemon reads it
// at start and reports problems at jwks_where.
struct JwtIssuerConfig {
  std::string name;       // the actor, like CredentialConfig::name; unique across the file
  std::string issuer;     // the exact `iss`
  std::string audience;   // the `aud` required (a string equal to it, or an array holding it)
  std::string jwks_file;  // absolute after loading
  std::vector<std::string> algorithms{"RS256", "ES256"};  // a subset of these two
  core::Role role_ceiling = core::Role::standard_user;
  bool read_only = false;
  std::chrono::seconds clock_skew{60};
  SourceLocation where;
  SourceLocation jwks_where;
  std::string jwks_key_path;  // "tenants.acme.jwt_issuers[0].jwks_file", for error messages
};

struct TenantConfig {
  core::TenantSettings settings;
  std::vector<CredentialConfig> credentials;
  std::vector<JwtIssuerConfig> jwt_issuers;
  SourceLocation where;
};

enum class DirectoryKind { openldap, active_directory };
std::string_view to_string(DirectoryKind kind);  // "openldap", "active_directory"

// How incremental reads find changes (`change_detection`); ldap::ChangeDetection mirrors it.
enum class ChangeDetection { full, content_sync, modify_timestamp, usn_changed };
std::string_view to_string(ChangeDetection detection);  // "full", "content_sync", ...

// One `[directories.NAME]` table: where the directory is, how to read its users, and how they map
// onto the tenant. Connection settings are plain values; the daemon turns them into the LDAP
// client's settings (config does not depend on ldap/).
struct DirectoryConfig {
  std::string name;
  core::TenantId tenant;
  DirectoryKind kind = DirectoryKind::openldap;
  std::string uri;  // ldap://host:port or ldaps://host:port
  bool start_tls = false;
  bool verify_certificate = true;  // false only when written; the daemon logs a warning
  std::string ca_file;             // absolute after loading; empty: the system's
  std::string bind_dn;             // empty: anonymous bind
  std::optional<SecretRef> bind_password;
  int page_size = 500;
  std::chrono::seconds timeout{30};  // TCP/TLS connect and each server reply
  // How often the daemon runs a full and an incremental sync (each ±10% jitter); 0: never.
  std::chrono::seconds full_sync_interval{6 * 3600};
  std::chrono::seconds incremental_sync_interval{300};
  // Defaulted by kind: content_sync (openldap; modify_timestamp when the anchor is not
  // entryUUID), usn_changed (active_directory).
  ChangeDetection change_detection = ChangeDetection::full;
  // Near-real-time sync (content_sync only): the daemon keeps an RFC 4533 refreshAndPersist
  // search open and applies each batch of changes as it arrives, between the scheduled runs.
  bool persist = false;
  // Non-empty: groups read there (group_filter) and nested memberships resolved.
  std::vector<std::string> group_base_dns;
  std::string group_filter;  // defaulted by kind: (objectClass=groupOfNames) / (objectClass=group)

  std::vector<std::string> user_base_dns;
  std::string user_filter;       // defaulted by kind
  std::string anchor_attribute;  // defaulted by kind: entryUUID / objectGUID

  core::sync::MappingRules rules;
  core::sync::Policy policy;
  // [directories.NAME.writeback] and [directories.NAME.authority]: who owns each mapped
  // attribute and which changes are written back (docs/writeback.md). Always filled: without
  // those tables every mapped attribute is directory-owned and nothing is written back.
  core::writeback::Policy writeback;
  // [directories.NAME.writeback] poll_interval_seconds: how often delivery looks at the outbox
  // when nothing woke it. A SCIM change wakes it at once; the poll finds what another process
  // queued (the CLI) or released (`writeback --retry`).
  std::chrono::seconds writeback_poll_interval{5};

  SourceLocation where;  // the [directories.NAME] table
  SourceLocation verify_certificate_where;
};

struct Config {
  std::string source_file;
  std::string state_dir = "/var/lib/idbridge";
  ServerSettings server;
  LoggingSettings logging;
  StoreSettings store;
  core::ProviderSettings provider;
  std::vector<CredentialConfig> provider_credentials;
  std::vector<JwtIssuerConfig> provider_jwt_issuers;
  std::vector<TenantConfig> tenants;
  std::vector<DirectoryConfig> directories;  // sorted by name

  // The directory named `name`, or nullptr.
  const DirectoryConfig* find_directory(std::string_view name) const;
};

struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key_path;  // "tenants.acme.credentials[0].token"
  std::string message;
  // "file:line:column: key_path: message"
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // every problem found, in file order
};

// Parses and validates. Never throws for bad input; every problem becomes a ConfigError.
LoadResult load_config_file(const std::string& path);
LoadResult parse_config(std::string_view toml_text, const std::string& source_name);

// Command-line values that replace the file's. Applied by apply_overrides, which keeps derived
// values consistent (store.path relative to a new state_dir) and reports malformed values with
// file "command line" and the option as key_path.
struct Overrides {
  std::optional<std::string> listen;     // --listen HOST:PORT
  std::optional<std::string> state_dir;  // --state-dir DIR (absolute)
};
std::vector<ConfigError> apply_overrides(Config& config, const Overrides& overrides);

// Validation that depends on command-line overrides (plain HTTP only on loopback, TLS present
// when not plain). Call after applying --listen/--state-dir.
std::vector<ConfigError> validate_effective(const Config& config);

// Resolves every secret reference of the config (TLS key, every credential token, every
// directory bind password) and reports the ones that cannot be read or are empty, at the
// reference's location. Values are discarded.
std::vector<ConfigError> check_secrets(const Config& config);

}  // namespace idbridge::config
