// The daemon's configuration as typed values, loaded from a TOML file. Every problem is
// reported with file, line and the key's dotted path; secrets are references, never values.
#pragma once

#include "idbridge/core/model.hpp"

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
};

// Reads the secret now. Errors name the reference (path / variable / credential) but never the
// value. Trailing newlines of files are stripped. systemd credentials are read from
// $CREDENTIALS_DIRECTORY/<name>.
struct SecretValue {
  std::optional<std::string> value;
  std::string error;  // set when value is empty
};
SecretValue resolve_secret(const SecretRef& ref);

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;
  bool is_loopback() const;  // 127.0.0.0/8, ::1 or "localhost"
};
// "HOST:PORT" or "[V6]:PORT"; nullopt when malformed.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

struct TlsSettings {
  std::string certificate_file;  // PEM chain; not a secret
  SecretRef private_key;         // PEM key; a secret, so only by reference
};

struct ServerSettings {
  ListenAddress listen;
  std::optional<TlsSettings> tls;
  bool plain_http = false;  // allowed only when listen is a loopback address
  unsigned threads = 0;     // 0: one per core
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds shutdown_grace{20};
};

enum class LogLevel { debug, info, warning, error };
struct LoggingSettings {
  LogLevel level = LogLevel::info;
};

enum class StoreBackend { sqlite, postgresql };
struct StoreSettings {
  StoreBackend backend = StoreBackend::sqlite;
  std::string sqlite_path;  // resolved: absolute, or state_dir/idbridge.db by default
};

struct CredentialConfig {
  std::string name;  // appears in logs and change records as the actor
  SecretRef token;
  core::Role role_ceiling = core::Role::standard_user;
  bool read_only = false;
  SourceLocation where;
};

struct TenantConfig {
  core::TenantSettings settings;
  std::vector<CredentialConfig> credentials;
  SourceLocation where;
};

struct Config {
  std::string source_file;
  std::string state_dir = "/var/lib/idbridge";
  ServerSettings server;
  LoggingSettings logging;
  StoreSettings store;
  core::ProviderSettings provider;
  std::vector<CredentialConfig> provider_credentials;
  std::vector<TenantConfig> tenants;
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

// Validation that depends on command-line overrides (plain HTTP only on loopback, TLS present
// when not plain). Call after applying --listen/--state-dir.
std::vector<ConfigError> validate_effective(const Config& config);

}  // namespace idbridge::config
