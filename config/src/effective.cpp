// Error formatting, command-line overrides and the checks that depend on them (plain HTTP only
// on loopback, TLS otherwise).
#include "idbridge/config/config.hpp"

#include <filesystem>

namespace idbridge::config {
namespace {

constexpr std::string_view command_line = "command line";

ConfigError error_at(const Config& config, const SourceLocation& where, std::string key_path,
                     std::string message) {
  return ConfigError{where.file.empty() ? config.source_file : where.file, where.line, where.column,
                     std::move(key_path), std::move(message)};
}

std::string to_text(const ListenAddress& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) {
      out += ':' + std::to_string(column);
    }
  }
  out += ": ";
  if (!key_path.empty()) {
    out += key_path + ": ";
  }
  out += message;
  return out;
}

std::vector<ConfigError> apply_overrides(Config& config, const Overrides& overrides) {
  std::vector<ConfigError> errors;
  const SourceLocation from_command_line{std::string(command_line), 0, 0};
  if (overrides.listen) {
    if (auto address = parse_listen_address(*overrides.listen)) {
      config.server.listen = std::move(*address);
      config.server.listen_where = from_command_line;
    } else {
      errors.push_back(error_at(config, from_command_line, "--listen",
                                "expected HOST:PORT or [IPV6]:PORT with a port from 0 to 65535"));
    }
  }
  if (overrides.state_dir) {
    const std::filesystem::path dir(*overrides.state_dir);
    if (!dir.is_absolute()) {
      errors.push_back(
          error_at(config, from_command_line, "--state-dir", "must be an absolute path"));
    } else {
      config.state_dir = dir.lexically_normal().string();
      const std::filesystem::path store(config.store.sqlite_path_as_written);
      config.store.sqlite_path = store.is_absolute() ? store.lexically_normal().string()
                                                     : (dir / store).lexically_normal().string();
    }
  }
  return errors;
}

std::vector<ConfigError> validate_effective(const Config& config) {
  std::vector<ConfigError> errors;
  const ServerSettings& server = config.server;
  if (server.plain_http) {
    if (!server.listen.is_loopback()) {
      errors.push_back(error_at(
          config, server.plain_http_where.line > 0 ? server.plain_http_where : server.listen_where,
          "server.plain_http",
          "plain_http is allowed only on a loopback address; listen is " + to_text(server.listen)));
    }
    if (server.tls) {
      // Both set is a contradiction the reader could take for TLS being on.
      errors.push_back(error_at(config, server.tls->certificate_where, "server.tls_certificate",
                                "plain_http = true leaves TLS off; remove the TLS settings or "
                                "plain_http"));
    }
  } else if (!server.tls) {
    const SourceLocation& where = server.listen_where.line > 0 || !server.listen_where.file.empty()
                                      ? server.listen_where
                                      : server.where;
    errors.push_back(error_at(config, where, "server",
                              "TLS is required: set tls_certificate and tls_private_key (or "
                              "plain_http = true on a loopback address, for development)"));
  }
  return errors;
}

}  // namespace idbridge::config
