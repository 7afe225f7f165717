// Reading secrets from their references (file, environment, systemd credential) and checking
// that every reference of a config resolves. Nothing here ever puts a secret's value into text.
#include "idbridge/config/config.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace idbridge::config {
namespace {

SecretValue failure(std::string error) {
  return SecretValue{std::nullopt, std::move(error)};
}

// Secret files are usually written by `echo` or editors, which add a final newline that is no
// part of the token.
void strip_trailing_newlines(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
}

SecretValue read_secret_file(const std::filesystem::path& path, const std::string& what) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return failure("cannot read " + what + ": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return failure("cannot read " + what + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return failure("cannot read " + what + ": " + std::strerror(errno));
  }
  std::string value = std::move(text).str();
  strip_trailing_newlines(value);
  if (value.empty()) {
    return failure(what + " is empty");
  }
  return SecretValue{std::move(value), {}};
}

}  // namespace

std::string describe(const SecretRef& ref) {
  switch (ref.kind) {
    case SecretRef::Kind::file: return "secret file " + ref.name;
    case SecretRef::Kind::env: return "environment variable " + ref.name;
    case SecretRef::Kind::systemd_credential: return "credential " + ref.name;
  }
  return "secret " + ref.name;
}

SecretValue resolve_secret(const SecretRef& ref) {
  switch (ref.kind) {
    case SecretRef::Kind::file: return read_secret_file(ref.name, describe(ref));
    case SecretRef::Kind::env: {
      const char* value = std::getenv(ref.name.c_str());
      if (value == nullptr) {
        return failure(describe(ref) + " is not set");
      }
      if (*value == '\0') {
        return failure(describe(ref) + " is empty");
      }
      return SecretValue{std::string(value), {}};
    }
    case SecretRef::Kind::systemd_credential: {
      const char* directory = std::getenv("CREDENTIALS_DIRECTORY");
      if (directory == nullptr || *directory == '\0') {
        return failure("cannot read " + describe(ref) +
                       ": $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)");
      }
      return read_secret_file(std::filesystem::path(directory) / ref.name, describe(ref));
    }
  }
  return failure("unknown kind of secret reference");
}

std::vector<ConfigError> check_secrets(const Config& config) {
  std::vector<ConfigError> errors;
  const auto check = [&](const SecretRef& ref) {
    SecretValue secret = resolve_secret(ref);
    if (!secret.value) {
      errors.push_back(ConfigError{ref.where.file.empty() ? config.source_file : ref.where.file,
                                   ref.where.line, ref.where.column, ref.key_path,
                                   std::move(secret.error)});
    }
  };
  if (config.server.tls) {
    check(config.server.tls->private_key);
  }
  for (const auto& credential : config.provider_credentials) {
    check(credential.token);
  }
  for (const auto& tenant : config.tenants) {
    for (const auto& credential : tenant.credentials) {
      check(credential.token);
    }
  }
  for (const auto& directory : config.directories) {
    if (directory.bind_password) {
      check(*directory.bind_password);
    }
  }
  return errors;
}

}  // namespace idbridge::config
