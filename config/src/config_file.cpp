// The config file's schema: maps a TOML document onto Config, reporting every problem at once
// with its location and dotted key path. Reading the file and parsing TOML live here too.
#include "idbridge/config/config.hpp"
#include "toml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

namespace idbridge::config {
namespace {

using detail::Diagnostics;
using detail::join_path;
using detail::TableReader;

constexpr std::string_view inline_secret_message =
    "inline secret not allowed; use { file = ... }, { env = ... } or { credential = ... }";

struct Context {
  std::filesystem::path config_dir;
  Diagnostics& diagnostics;
  // Credential names are the actor in logs and change records, so they are unique file-wide.
  std::map<std::string, SourceLocation, std::less<>> credential_names;
  // A token names its issuer and audience only, so two JWT issuer entries with the same pair
  // could not tell which one (which tenant, which ceiling) a token belongs to.
  std::map<std::pair<std::string, std::string>, SourceLocation> jwt_issuer_audiences;
};

std::filesystem::path config_directory(const std::string& source_name) {
  std::error_code ignored;
  auto absolute = std::filesystem::absolute(source_name, ignored);
  if (absolute.empty()) {
    absolute = source_name;
  }
  return absolute.parent_path();
}

std::string resolve_path(const std::filesystem::path& base, const std::string& path) {
  const std::filesystem::path given(path);
  if (given.is_absolute()) {
    return given.lexically_normal().string();
  }
  return (base / given).lexically_normal().string();
}

std::string at(const SourceLocation& where) {
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [a-z0-9][a-z0-9-]{0,62}: usable in URLs, file names and DNS labels without escaping.
bool is_valid_tenant_id(std::string_view id) {
  if (id.empty() || id.size() > 63 || id.front() == '-') {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_valid_credential_name(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_ascii_alnum(c) || c == '.' || c == '_' || c == '@' || c == ':' || c == '-';
  });
}

bool is_valid_env_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_ascii_alnum(c) || c == '_'; });
}

// A systemd credential name is a file name inside $CREDENTIALS_DIRECTORY.
bool is_valid_systemd_credential_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

// Specials are punctuation the tenant allows in userNames; letters and digits are always allowed
// and whitespace or control characters never.
bool is_valid_specials(std::string_view specials) {
  return std::all_of(specials.begin(), specials.end(),
                     [](char c) { return c > ' ' && c < 0x7f && !is_ascii_alnum(c); });
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

std::optional<std::string> required_string(TableReader& reader, std::string_view key) {
  if (reader.get(key) == nullptr) {
    reader.report_missing(key);
    return std::nullopt;
  }
  return reader.string(key);
}

std::optional<SecretRef> read_secret_ref(TableReader& parent, std::string_view key,
                                         Context& context) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  const std::string path = parent.path_of(key);
  if (node->is_string()) {
    context.diagnostics.add(node->source(), path, std::string(inline_secret_message));
    return std::nullopt;
  }
  const auto* table = node->as_table();
  if (table == nullptr) {
    parent.report_type(key, *node, "table such as { file = ... }");
    return std::nullopt;
  }

  struct Form {
    std::string_view key;
    SecretRef::Kind kind;
  };
  constexpr Form forms[] = {{"file", SecretRef::Kind::file},
                            {"env", SecretRef::Kind::env},
                            {"credential", SecretRef::Kind::systemd_credential}};
  TableReader reader(*table, path, context.diagnostics);
  std::optional<SecretRef> ref;
  int given = 0;
  bool valid = true;
  for (const Form& form : forms) {
    if (reader.get(form.key) == nullptr) {
      continue;
    }
    ++given;
    auto name = reader.string(form.key);
    if (!name) {
      valid = false;
      continue;
    }
    // Messages below do not repeat the name: a misplaced secret could sit in its place.
    switch (form.kind) {
      case SecretRef::Kind::file:
        if (name->empty()) {
          reader.report_value(form.key, "file path is empty");
          valid = false;
        } else {
          *name = resolve_path(context.config_dir, *name);
        }
        break;
      case SecretRef::Kind::env:
        if (!is_valid_env_name(*name)) {
          reader.report_value(form.key,
                              "not a valid environment variable name (letters, digits and _, "
                              "not starting with a digit)");
          valid = false;
        }
        break;
      case SecretRef::Kind::systemd_credential:
        if (!is_valid_systemd_credential_name(*name)) {
          reader.report_value(form.key,
                              "not a valid credential name (a file name: no '/', not . or ..)");
          valid = false;
        }
        break;
    }
    ref =
        SecretRef{form.kind, std::move(*name), context.diagnostics.location(node->source()), path};
  }
  if (given == 0) {
    context.diagnostics.add(table->source(), path,
                            "needs one of { file = ... }, { env = ... } or { credential = ... }");
  } else if (given > 1) {
    context.diagnostics.add(table->source(), path, "give only one of file, env or credential");
  }
  reader.finish();
  if (!valid || given != 1) {
    return std::nullopt;
  }
  return ref;
}

std::optional<core::Role> read_role(TableReader& reader, std::string_view key) {
  const auto text = reader.string(key);
  if (!text) {
    return std::nullopt;
  }
  auto role = core::parse_role(*text);
  if (!role) {
    reader.report_value(key, "unknown role \"" + *text +
                                 "\"; expected accountOwner, administrator, standardUser or "
                                 "limitedAccessUser");
  }
  return role;
}

// The name of a credential or JWT issuer entry: valid, and not used by any other in the file.
void check_actor_name(TableReader& reader, const std::string& name, Context& context) {
  if (!is_valid_credential_name(name)) {
    reader.report_value("name", "credential name must be 1 to 128 letters, digits or . _ @ : -");
  } else if (auto [it, inserted] = context.credential_names.try_emplace(
                 name, context.diagnostics.location(reader.get("name")->source()));
             !inserted) {
    reader.report_value("name",
                        "credential name \"" + name + "\" is already used at " + at(it->second));
  }
}

std::vector<CredentialConfig> read_credentials(TableReader& parent, Context& context) {
  std::vector<CredentialConfig> credentials;
  const auto tables = parent.array_of_tables("credentials");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (tables[i] == nullptr) {
      continue;
    }
    TableReader reader(*tables[i], parent.path_of("credentials") + "[" + std::to_string(i) + "]",
                       context.diagnostics);
    CredentialConfig credential;
    credential.where = reader.location();
    if (auto name = required_string(reader, "name")) {
      check_actor_name(reader, *name, context);
      credential.name = std::move(*name);
    }
    if (auto token = read_secret_ref(reader, "token", context)) {
      credential.token = std::move(*token);
    } else if (reader.get("token") == nullptr) {
      reader.report_missing("token");
    }
    if (auto role = read_role(reader, "role_ceiling")) {
      credential.role_ceiling = *role;
    }
    if (auto read_only = reader.boolean("read_only")) {
      credential.read_only = *read_only;
    }
    reader.finish();
    credentials.push_back(std::move(credential));
  }
  return credentials;
}

// `algorithms = ["RS256", "ES256"]`: a non-empty subset, without repeats.
std::optional<std::vector<std::string>> read_jwt_algorithms(TableReader& reader, Context& context) {
  const toml::node* node = reader.get("algorithms");
  if (node == nullptr) {
    return std::nullopt;
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    reader.report_type("algorithms", *node, "array of strings");
    return std::nullopt;
  }
  if (array->empty()) {
    reader.report_value("algorithms", "algorithms is empty; allow \"RS256\", \"ES256\" or both");
    return std::nullopt;
  }
  std::vector<std::string> algorithms;
  bool valid = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_path = reader.path_of("algorithms") + "[" + std::to_string(i) + "]";
    const auto* name = element.as_string();
    if (name == nullptr) {
      context.diagnostics.add(
          element.source(), element_path,
          "expected string, found " + std::string(detail::type_name(element.type())));
      valid = false;
    } else if (name->get() != "RS256" && name->get() != "ES256") {
      // Only asymmetric algorithms: an HMAC "key" would have to be a shared secret, and `none`
      // is no signature at all.
      context.diagnostics.add(
          element.source(), element_path,
          "unsupported algorithm \"" + name->get() + "\"; expected \"RS256\" or \"ES256\"");
      valid = false;
    } else if (std::find(algorithms.begin(), algorithms.end(), name->get()) != algorithms.end()) {
      context.diagnostics.add(element.source(), element_path,
                              "algorithm \"" + name->get() + "\" is listed twice");
      valid = false;
    } else {
      algorithms.push_back(name->get());
    }
  }
  if (!valid) {
    return std::nullopt;
  }
  return algorithms;
}

std::vector<JwtIssuerConfig> read_jwt_issuers(TableReader& parent, Context& context) {
  std::vector<JwtIssuerConfig> issuers;
  const auto tables = parent.array_of_tables("jwt_issuers");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (tables[i] == nullptr) {
      continue;
    }
    TableReader reader(*tables[i], parent.path_of("jwt_issuers") + "[" + std::to_string(i) + "]",
                       context.diagnostics);
    JwtIssuerConfig issuer;
    issuer.where = reader.location();
    if (auto name = required_string(reader, "name")) {
      check_actor_name(reader, *name, context);
      issuer.name = std::move(*name);
    }
    const auto iss = required_string(reader, "issuer");
    if (iss) {
      if (iss->empty() || has_space_or_control(*iss)) {
        reader.report_value("issuer", "issuer is a non-empty string without spaces");
      }
      issuer.issuer = *iss;
    }
    const auto audience = required_string(reader, "audience");
    if (audience) {
      if (audience->empty() || has_space_or_control(*audience)) {
        reader.report_value("audience", "audience is a non-empty string without spaces");
      }
      issuer.audience = *audience;
    }
    if (iss && audience) {
      if (auto [it, inserted] = context.jwt_issuer_audiences.try_emplace(
              std::pair(*iss, *audience),
              context.diagnostics.location(reader.get("issuer")->source()));
          !inserted) {
        reader.report_value("issuer", "issuer and audience are the same as at " + at(it->second) +
                                          "; a token could not be told apart between the two");
      }
    }
    if (auto jwks = required_string(reader, "jwks_file")) {
      if (jwks->empty()) {
        reader.report_value("jwks_file", "file path is empty");
      } else {
        issuer.jwks_file = resolve_path(context.config_dir, *jwks);
      }
      issuer.jwks_where = context.diagnostics.location(reader.get("jwks_file")->source());
    }
    issuer.jwks_key_path = reader.path_of("jwks_file");
    if (auto algorithms = read_jwt_algorithms(reader, context)) {
      issuer.algorithms = std::move(*algorithms);
    }
    if (auto role = read_role(reader, "role_ceiling")) {
      issuer.role_ceiling = *role;
    }
    if (auto read_only = reader.boolean("read_only")) {
      issuer.read_only = *read_only;
    }
    if (auto seconds = reader.integer("clock_skew_seconds", 0, 600)) {
      issuer.clock_skew = std::chrono::seconds(*seconds);
    }
    reader.finish();
    issuers.push_back(std::move(issuer));
  }
  return issuers;
}

core::PasswordPolicy read_password_policy(const toml::table& table, std::string path,
                                          Context& context) {
  TableReader reader(table, std::move(path), context.diagnostics);
  core::PasswordPolicy policy;
  constexpr std::int64_t longest = 4096;
  const auto min_length = reader.integer("min_length", 1, longest);
  const auto max_length = reader.integer("max_length", 1, longest);
  if (min_length) {
    policy.min_length = static_cast<int>(*min_length);
  }
  if (max_length) {
    policy.max_length = static_cast<int>(*max_length);
  }
  if ((min_length || max_length) && policy.min_length > policy.max_length) {
    reader.report_value(min_length ? "min_length" : "max_length",
                        "min_length (" + std::to_string(policy.min_length) +
                            ") is greater than max_length (" + std::to_string(policy.max_length) +
                            ")");
  }
  const std::pair<std::string_view, bool core::PasswordPolicy::*> flags[] = {
      {"require_lower", &core::PasswordPolicy::require_lower},
      {"require_upper", &core::PasswordPolicy::require_upper},
      {"require_digit", &core::PasswordPolicy::require_digit},
      {"require_special", &core::PasswordPolicy::require_special},
      {"forbid_user_name", &core::PasswordPolicy::forbid_user_name},
  };
  for (const auto& [key, member] : flags) {
    if (auto value = reader.boolean(key)) {
      policy.*member = *value;
    }
  }
  reader.finish();
  return policy;
}

std::vector<core::ProfileDefinition> read_profiles(TableReader& parent, Context& context) {
  std::vector<core::ProfileDefinition> profiles;
  std::map<std::string, SourceLocation, std::less<>> seen;
  const auto tables = parent.array_of_tables("profiles");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (tables[i] == nullptr) {
      continue;
    }
    TableReader reader(*tables[i], parent.path_of("profiles") + "[" + std::to_string(i) + "]",
                       context.diagnostics);
    core::ProfileDefinition profile;
    if (auto name = required_string(reader, "name")) {
      constexpr std::string_view default_prefix = "default:";
      if (name->empty()) {
        reader.report_value("name", "profile name is empty");
      } else if (name->starts_with(default_prefix) &&
                 !core::parse_role(std::string_view(*name).substr(default_prefix.size()))) {
        reader.report_value("name",
                            "profiles named default:* redefine a role's default profile and must "
                            "name a role (default:accountOwner, default:administrator, "
                            "default:standardUser, default:limitedAccessUser)");
      } else if (auto [it, inserted] = seen.try_emplace(
                     *name, context.diagnostics.location(reader.get("name")->source()));
                 !inserted) {
        reader.report_value("name",
                            "profile \"" + *name + "\" is already defined at " + at(it->second));
      }
      profile.name = std::move(*name);
    }
    if (const toml::node* node = reader.get("rights")) {
      const std::string rights_path = reader.path_of("rights");
      if (const auto* array = node->as_array()) {
        for (std::size_t j = 0; j < array->size(); ++j) {
          const toml::node& element = *array->get(j);
          const std::string element_path = rights_path + "[" + std::to_string(j) + "]";
          const auto* right = element.as_string();
          if (right == nullptr) {
            context.diagnostics.add(
                element.source(), element_path,
                "expected string, found " + std::string(detail::type_name(element.type())));
          } else if (right->get().empty() || has_space_or_control(right->get())) {
            context.diagnostics.add(element.source(), element_path,
                                    "a right is a non-empty name without spaces");
          } else {
            profile.rights.push_back(right->get());
          }
        }
      } else {
        reader.report_type("rights", *node, "array of strings");
      }
    }
    reader.finish();
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

void read_tenants(const toml::table& tenants, Context& context, Config& config) {
  for (auto&& [key, node] : tenants) {
    const std::string id(key.str());
    const std::string path = join_path("tenants", id);
    if (!is_valid_tenant_id(id)) {
      context.diagnostics.add(key.source(), path, "tenant id must match [a-z0-9][a-z0-9-]{0,62}");
    }
    const auto* table = node.as_table();
    if (table == nullptr) {
      context.diagnostics.add(
          node.source(), path,
          "expected table, found " + std::string(detail::type_name(node.type())));
      continue;
    }
    TableReader reader(*table, path, context.diagnostics);
    TenantConfig tenant;
    tenant.where = reader.location();
    tenant.settings.id = core::TenantId(id);
    tenant.settings.display_name = id;
    if (auto display_name = reader.string("display_name")) {
      if (display_name->empty()) {
        reader.report_value("display_name", "display_name is empty");
      }
      tenant.settings.display_name = std::move(*display_name);
    }
    if (auto specials = reader.string("user_name_specials")) {
      if (!is_valid_specials(*specials)) {
        reader.report_value("user_name_specials",
                            "only ASCII punctuation is allowed (letters and digits are always "
                            "allowed; spaces never)");
      }
      tenant.settings.user_name_specials = std::move(*specials);
    }
    if (auto threshold = reader.integer("lockout_threshold", 0, 1000)) {
      tenant.settings.lockout_threshold = static_cast<int>(*threshold);
    }
    if (const auto* policy = reader.table("password_policy")) {
      tenant.settings.password_policy =
          read_password_policy(*policy, reader.path_of("password_policy"), context);
    }
    tenant.settings.profiles = read_profiles(reader, context);
    tenant.credentials = read_credentials(reader, context);
    tenant.jwt_issuers = read_jwt_issuers(reader, context);
    reader.finish();
    config.tenants.push_back(std::move(tenant));
  }
}

void read_server(const toml::table& table, Context& context, ServerSettings& server) {
  TableReader reader(table, "server", context.diagnostics);
  server.where = reader.location();
  if (auto listen = reader.string("listen")) {
    if (auto address = parse_listen_address(*listen)) {
      server.listen = std::move(*address);
    } else {
      reader.report_value("listen",
                          "expected HOST:PORT or [IPV6]:PORT with a port from 0 to 65535");
    }
    server.listen_where = context.diagnostics.location(reader.get("listen")->source());
  }

  std::optional<std::string> certificate = reader.string("tls_certificate");
  if (certificate) {
    if (certificate->empty()) {
      reader.report_value("tls_certificate", "file path is empty");
    } else {
      *certificate = resolve_path(context.config_dir, *certificate);
    }
  }
  std::optional<SecretRef> private_key = read_secret_ref(reader, "tls_private_key", context);
  const bool has_certificate = reader.get("tls_certificate") != nullptr;
  const bool has_private_key = reader.get("tls_private_key") != nullptr;
  if (has_certificate && !has_private_key) {
    reader.report_value("tls_certificate", "tls_certificate needs tls_private_key as well");
  } else if (has_private_key && !has_certificate) {
    reader.report_value("tls_private_key", "tls_private_key needs tls_certificate as well");
  }
  if (certificate && private_key) {
    server.tls = TlsSettings{std::move(*certificate), std::move(*private_key),
                             context.diagnostics.location(reader.get("tls_certificate")->source())};
  }

  if (auto plain_http = reader.boolean("plain_http")) {
    server.plain_http = *plain_http;
    server.plain_http_where = context.diagnostics.location(reader.get("plain_http")->source());
  }
  if (auto threads = reader.integer("threads", 0, 1024)) {
    server.threads = static_cast<unsigned>(*threads);
  }
  if (auto bytes = reader.integer("max_body_bytes", 1, std::int64_t{1} << 30)) {
    server.max_body_bytes = static_cast<std::size_t>(*bytes);
  }
  if (auto seconds = reader.integer("request_timeout_seconds", 1, 3600)) {
    server.request_timeout = std::chrono::seconds(*seconds);
  }
  if (auto seconds = reader.integer("shutdown_grace_seconds", 0, 3600)) {
    server.shutdown_grace = std::chrono::seconds(*seconds);
  }
  if (auto base = reader.string("public_base_url")) {
    const bool scheme = base->rfind("https://", 0) == 0 || base->rfind("http://", 0) == 0;
    const auto host_start = base->find("://") + 3;
    if (!scheme || base->size() <= host_start || base->back() == '/' ||
        base->find_first_of("?# ") != std::string::npos) {
      reader.report_value("public_base_url",
                          "expected an absolute http(s) URL without a trailing slash, query or "
                          "fragment, e.g. \"https://idbridge.example.com\"");
    } else {
      server.public_base_url = *base;
    }
  }
  reader.finish();
}

void read_logging(const toml::table& table, Context& context, LoggingSettings& logging) {
  TableReader reader(table, "logging", context.diagnostics);
  if (auto level = reader.string("level")) {
    constexpr std::pair<std::string_view, LogLevel> levels[] = {{"debug", LogLevel::debug},
                                                                {"info", LogLevel::info},
                                                                {"warning", LogLevel::warning},
                                                                {"error", LogLevel::error}};
    const auto* match = std::find_if(std::begin(levels), std::end(levels),
                                     [&](const auto& entry) { return entry.first == *level; });
    if (match == std::end(levels)) {
      reader.report_value(
          "level", "unknown level \"" + *level + "\"; expected debug, info, warning or error");
    } else {
      logging.level = match->second;
    }
  }
  reader.finish();
}

void read_store(const toml::table& table, Context& context, StoreSettings& store) {
  TableReader reader(table, "store", context.diagnostics);
  if (auto backend = reader.string("backend")) {
    if (*backend == "sqlite") {
      store.backend = StoreBackend::sqlite;
    } else if (*backend == "postgresql") {
      reader.report_value("backend", "backend \"postgresql\" is not available yet; use \"sqlite\"");
    } else {
      reader.report_value("backend", "unknown backend \"" + *backend + "\"; expected \"sqlite\"");
    }
  }
  if (auto path = reader.string("path")) {
    if (path->empty()) {
      reader.report_value("path", "file path is empty");
    } else {
      store.sqlite_path_as_written = std::move(*path);
    }
  }
  reader.finish();
}

void read_provider(const toml::table& table, Context& context, Config& config) {
  TableReader reader(table, "provider", context.diagnostics);
  if (auto name = reader.string("name")) {
    config.provider.name = std::move(*name);
  }
  config.provider_credentials = read_credentials(reader, context);
  config.provider_jwt_issuers = read_jwt_issuers(reader, context);
  reader.finish();
}

// --- [directories.NAME] ----------------------------------------------------------------------

// [a-z0-9][a-z0-9_-]{0,62}, like tenant ids (plus '_'): the name is typed on the command line.
bool is_valid_directory_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.front() == '_') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// A non-empty, balanced "(...)" filter. The server is the judge of the rest; this catches the
// usual slips (a missing parenthesis, a bare `objectClass=user`) at load time.
bool looks_like_filter(std::string_view filter) {
  if (filter.size() < 3 || filter.front() != '(' || filter.back() != ')') {
    return false;
  }
  int depth = 0;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '\\') {
      ++i;  // RFC 4515 escape: the next characters are hex digits, never parentheses
    } else if (filter[i] == '(') {
      ++depth;
    } else if (filter[i] == ')') {
      if (--depth < 0) {
        return false;
      }
    }
  }
  return depth == 0;
}

// `attributes` as target -> template. A dotted target written bare (`emails.primary = "{mail}"`)
// is a nested table in TOML, so nested tables are flattened back to dotted paths.
void read_attribute_mappings(const toml::table& table, const std::string& prefix,
                             const std::string& path, Context& context,
                             std::vector<core::sync::AttributeMapping>& out) {
  const auto& targets = core::sync::mapping_targets();
  for (auto&& [key, node] : table) {
    const std::string target =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    const std::string key_path = join_path(path, key.str());
    if (const auto* nested = node.as_table()) {
      read_attribute_mappings(*nested, target, key_path, context, out);
      continue;
    }
    if (std::find(targets.begin(), targets.end(), target) == targets.end()) {
      std::string known;
      for (const auto& name : targets) {
        known += (known.empty() ? "" : ", ") + name;
      }
      context.diagnostics.add(
          key.source(), key_path,
          "unknown mapping target \"" + target + "\"; expected one of " + known);
      continue;
    }
    const auto* value = node.as_string();
    if (value == nullptr) {
      context.diagnostics.add(node.source(), key_path,
                              "expected string template such as \"{uid}\", found " +
                                  std::string(detail::type_name(node.type())));
      continue;
    }
    if (value->get().find('{') == std::string::npos) {
      // A constant would give every user the same value: for userName a collision on every
      // entry, for the others almost certainly a forgotten pair of braces.
      context.diagnostics.add(node.source(), key_path,
                              "template names no attribute; write \"{attribute}\"");
      continue;
    }
    out.push_back({target, value->get()});
  }
}

std::vector<std::string> read_string_array(TableReader& reader, std::string_view key,
                                           Context& context) {
  std::vector<std::string> values;
  const toml::node* node = reader.get(key);
  if (node == nullptr) {
    return values;
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    reader.report_type(key, *node, "array of strings");
    return values;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_path = reader.path_of(key) + "[" + std::to_string(i) + "]";
    const auto* text = element.as_string();
    if (text == nullptr) {
      context.diagnostics.add(
          element.source(), element_path,
          "expected string, found " + std::string(detail::type_name(element.type())));
    } else if (text->get().empty()) {
      context.diagnostics.add(element.source(), element_path, "empty value");
    } else {
      values.push_back(text->get());
    }
  }
  return values;
}

void read_directory_users(TableReader& parent, Context& context, DirectoryConfig& directory) {
  const auto* table = parent.table("users");
  if (table == nullptr) {
    if (parent.get("users") == nullptr) {
      parent.report_missing("users");
    }
    return;
  }
  TableReader reader(*table, parent.path_of("users"), context.diagnostics);
  if (reader.get("base_dns") == nullptr) {
    reader.report_missing("base_dns");
  } else {
    directory.user_base_dns = read_string_array(reader, "base_dns", context);
    if (directory.user_base_dns.empty()) {
      reader.report_value("base_dns", "base_dns needs at least one DN");
    }
  }
  if (auto filter = reader.string("filter")) {
    if (!looks_like_filter(*filter)) {
      reader.report_value("filter",
                          "not an LDAP filter: expected \"(...)\" with balanced "
                          "parentheses, e.g. \"(objectClass=inetOrgPerson)\"");
    }
    directory.user_filter = std::move(*filter);
  }
  if (auto anchor = reader.string("anchor_attribute")) {
    if (anchor->empty() || has_space_or_control(*anchor)) {
      reader.report_value("anchor_attribute", "an attribute name without spaces");
    }
    directory.anchor_attribute = std::move(*anchor);
  }
  if (const auto* attributes = reader.table("attributes")) {
    read_attribute_mappings(*attributes, "", reader.path_of("attributes"), context,
                            directory.rules.attributes);
    const bool has_user_name =
        std::any_of(directory.rules.attributes.begin(), directory.rules.attributes.end(),
                    [](const auto& mapping) { return mapping.target == "userName"; });
    if (!has_user_name && attributes->get("userName") == nullptr) {
      reader.report_value("attributes", "attributes must map userName, e.g. userName = \"{uid}\"");
    }
  } else if (reader.get("attributes") == nullptr) {
    reader.report_missing("attributes");
  }
  if (auto role = read_role(reader, "default_role")) {
    directory.rules.default_role = *role;
  }
  reader.finish();
}

// Reads `group` of a rule: a DN (contains '=') or a group's cn.
std::optional<std::string> read_rule_group(TableReader& reader) {
  auto group = required_string(reader, "group");
  if (group && group->empty()) {
    reader.report_value("group", "group is empty; give a DN or a cn");
    return std::nullopt;
  }
  return group;
}

void read_directory_rules(TableReader& parent, Context& context, const TenantConfig* tenant,
                          DirectoryConfig& directory) {
  const auto rule_reader = [&](std::string_view key, std::size_t i, const toml::table& table) {
    return std::make_unique<TableReader>(table, parent.path_of(key) + "[" + std::to_string(i) + "]",
                                         context.diagnostics);
  };
  const auto role_tables = parent.array_of_tables("roles");
  for (std::size_t i = 0; i < role_tables.size(); ++i) {
    if (role_tables[i] == nullptr) {
      continue;
    }
    auto reader = rule_reader("roles", i, *role_tables[i]);
    core::sync::RoleRule rule;
    auto group = read_rule_group(*reader);
    const auto role = read_role(*reader, "role");
    if (reader->get("role") == nullptr) {
      reader->report_missing("role");
    }
    const auto precedence = reader->integer("precedence", -1000000, 1000000);
    if (reader->get("precedence") == nullptr) {
      // Without it two rules would tie silently in file order; the planner must never guess.
      reader->report_missing("precedence");
    }
    reader->finish();
    if (group && role && precedence) {
      directory.rules.roles.push_back({std::move(*group), *role, static_cast<int>(*precedence)});
    }
  }
  const auto profile_tables = parent.array_of_tables("profiles");
  for (std::size_t i = 0; i < profile_tables.size(); ++i) {
    if (profile_tables[i] == nullptr) {
      continue;
    }
    auto reader = rule_reader("profiles", i, *profile_tables[i]);
    auto group = read_rule_group(*reader);
    auto profile = required_string(*reader, "profile");
    if (profile && profile->empty()) {
      reader->report_value("profile", "profile is empty");
      profile.reset();
    } else if (profile && tenant != nullptr && !profile->starts_with("default:")) {
      const auto& defined = tenant->settings.profiles;
      if (std::none_of(defined.begin(), defined.end(),
                       [&](const auto& p) { return p.name == *profile; })) {
        reader->report_value("profile", "profile \"" + *profile + "\" is not defined in tenants." +
                                            tenant->settings.id.str() + ".profiles");
      }
    }
    reader->finish();
    if (group && profile) {
      directory.rules.profiles.push_back({std::move(*group), std::move(*profile)});
    }
  }
  const auto group_tables = parent.array_of_tables("groups");
  for (std::size_t i = 0; i < group_tables.size(); ++i) {
    if (group_tables[i] == nullptr) {
      continue;
    }
    auto reader = rule_reader("groups", i, *group_tables[i]);
    auto group = read_rule_group(*reader);
    auto tenant_group = required_string(*reader, "tenant_group");
    if (tenant_group && tenant_group->empty()) {
      reader->report_value("tenant_group", "tenant_group is empty");
      tenant_group.reset();
    }
    core::GroupKind kind = core::GroupKind::access;
    if (auto text = reader->string("kind")) {
      if (auto parsed = core::parse_group_kind(*text)) {
        kind = *parsed;
      } else {
        reader->report_value("kind", "unknown group kind \"" + *text +
                                         "\"; expected access, team, contactType or distribution");
      }
    }
    reader->finish();
    if (group && tenant_group) {
      directory.rules.groups.push_back({std::move(*group), std::move(*tenant_group), kind});
    }
  }
}

void read_directory_disabled(TableReader& parent, Context& context, DirectoryConfig& directory) {
  const auto* table = parent.table("disabled");
  if (table == nullptr) {
    return;
  }
  using Kind = core::sync::DisabledRule::Kind;
  TableReader reader(*table, parent.path_of("disabled"), context.diagnostics);
  auto& rule = directory.rules.disabled;
  if (auto kind = required_string(reader, "kind")) {
    constexpr std::pair<std::string_view, Kind> kinds[] = {
        {"none", Kind::none},
        {"ad_account_disabled", Kind::ad_account_disabled},
        {"attribute_equals", Kind::attribute_equals},
        {"attribute_present", Kind::attribute_present}};
    const auto* match = std::find_if(std::begin(kinds), std::end(kinds),
                                     [&](const auto& entry) { return entry.first == *kind; });
    if (match == std::end(kinds)) {
      reader.report_value("kind", "unknown kind \"" + *kind +
                                      "\"; expected none, ad_account_disabled, attribute_equals "
                                      "or attribute_present");
    } else {
      rule.kind = match->second;
    }
  }
  const bool wants_attribute =
      rule.kind == Kind::attribute_equals || rule.kind == Kind::attribute_present;
  if (auto attribute = reader.string("attribute")) {
    if (!wants_attribute) {
      reader.report_value("attribute",
                          "attribute applies to attribute_equals and "
                          "attribute_present only");
    } else if (attribute->empty() || has_space_or_control(*attribute)) {
      reader.report_value("attribute", "an attribute name without spaces");
    }
    rule.attribute = std::move(*attribute);
  } else if (wants_attribute && reader.get("attribute") == nullptr) {
    reader.report_missing("attribute");
  }
  if (auto value = reader.string("value")) {
    if (rule.kind != Kind::attribute_equals) {
      reader.report_value("value", "value applies to attribute_equals only");
    }
    rule.value = std::move(*value);
  } else if (rule.kind == Kind::attribute_equals && reader.get("value") == nullptr) {
    reader.report_missing("value");
  }
  if (rule.kind == Kind::ad_account_disabled && directory.kind != DirectoryKind::active_directory) {
    reader.report_value("kind",
                        "ad_account_disabled needs kind = \"active_directory\" on the "
                        "directory (userAccountControl is AD's)");
  }
  reader.finish();
}

// A percentage from 0 to 100, integer or float, as a fraction.
std::optional<double> read_percent(TableReader& reader, std::string_view key) {
  const toml::node* node = reader.get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  std::optional<double> value;
  if (const auto* integer = node->as_integer()) {
    value = static_cast<double>(integer->get());
  } else if (const auto* floating = node->as_floating_point()) {
    value = floating->get();
  } else {
    reader.report_type(key, *node, "number");
    return std::nullopt;
  }
  if (!(*value >= 0.0 && *value <= 100.0)) {
    reader.report_value(key, "a percentage from 0 to 100");
    return std::nullopt;
  }
  return *value / 100.0;
}

void read_directory_safety(TableReader& parent, Context& context, DirectoryConfig& directory) {
  const auto* table = parent.table("safety");
  if (table == nullptr) {
    return;
  }
  TableReader reader(*table, parent.path_of("safety"), context.diagnostics);
  auto& policy = directory.policy;
  constexpr std::int64_t most = 100'000'000;
  if (auto count = reader.integer("max_disables", 0, most)) {
    policy.disables.max_count = static_cast<std::size_t>(*count);
  }
  if (auto fraction = read_percent(reader, "max_disable_percent")) {
    policy.disables.max_fraction = *fraction;
  }
  if (auto count = reader.integer("max_deletes", 0, most)) {
    policy.deletes.max_count = static_cast<std::size_t>(*count);
  }
  if (auto fraction = read_percent(reader, "max_delete_percent")) {
    policy.deletes.max_fraction = *fraction;
  }
  if (auto days = reader.integer("retention_days", 0, 3650)) {
    policy.retention = std::chrono::hours(24 * *days);
  }
  reader.finish();
}

// The directory attribute a mapping reads when its template is exactly "{attr}", else "".
std::string single_attribute(const std::string& value_template) {
  if (value_template.size() < 3 || value_template.front() != '{' || value_template.back() != '}') {
    return {};
  }
  std::string inner = value_template.substr(1, value_template.size() - 2);
  if (inner.empty() || inner.find_first_of("{} ") != std::string::npos) {
    return {};
  }
  return inner;
}

// Reads [directories.NAME.writeback] and [directories.NAME.authority] after the mapping rules:
// the bindings follow the attribute mappings, the group bindings the group rules.
void read_directory_writeback(TableReader& parent, Context& context, DirectoryConfig& directory) {
  using core::writeback::Authority;
  auto& policy = directory.writeback;
  policy.directory = directory.name;
  policy.tenant = directory.tenant;
  for (const auto& mapping : directory.rules.attributes) {
    policy.attributes.push_back(
        {mapping.target, single_attribute(mapping.value), Authority::directory, false});
  }
  if (directory.rules.disabled.kind != core::sync::DisabledRule::Kind::none) {
    policy.attributes.push_back({"active", "", Authority::directory, false});
  }
  policy.role_from_directory = !directory.rules.roles.empty();
  for (const auto& rule : directory.rules.groups) {
    policy.rule_managed_groups.push_back(rule.tenant_group);
    if (rule.group.find('=') != std::string::npos) {
      policy.group_bindings.push_back({rule.tenant_group, rule.group});
    }
  }

  std::vector<std::string> accepted;
  if (const auto* table = parent.table("writeback")) {
    TableReader reader(*table, parent.path_of("writeback"), context.diagnostics);
    if (reader.get("operations") != nullptr) {
      for (const auto& operation : read_string_array(reader, "operations", context)) {
        auto& ops = policy.operations;
        bool* flag = operation == "create"     ? &ops.create
                     : operation == "modify"   ? &ops.modify
                     : operation == "rename"   ? &ops.rename
                     : operation == "disable"  ? &ops.disable
                     : operation == "remove"   ? &ops.remove
                     : operation == "groups"   ? &ops.groups
                     : operation == "password" ? &ops.password
                                               : nullptr;
        if (flag == nullptr) {
          reader.report_value("operations",
                              "unknown operation \"" + operation +
                                  "\"; expected create, modify, rename, disable, remove, groups "
                                  "or password");
        } else {
          *flag = true;
        }
      }
    }
    if (auto dn = reader.string("user_dn")) {
      if (dn->find('=') == std::string::npos || dn->find('{') == std::string::npos) {
        reader.report_value("user_dn",
                            "expected a DN template such as "
                            "\"uid={userName},ou=people,dc=example,dc=com\"");
      }
      policy.user_dn_template = std::move(*dn);
    }
    if (reader.get("object_classes") != nullptr) {
      policy.object_classes = read_string_array(reader, "object_classes", context);
    }
    if (const auto* extra = reader.table("create_attributes")) {
      TableReader attributes(*extra, reader.path_of("create_attributes"), context.diagnostics);
      for (auto&& [key, node] : *extra) {
        if (auto value = attributes.string(key.str())) {
          policy.create_attributes.emplace_back(std::string(key.str()), std::move(*value));
        }
      }
      attributes.finish();
    }
    if (auto method = reader.string("disable")) {
      using Kind = core::writeback::DisableMethod::Kind;
      if (*method == "user_account_control") {
        policy.disable.kind = Kind::user_account_control;
        if (directory.kind != DirectoryKind::active_directory) {
          reader.report_value("disable", "user_account_control is Active Directory's");
        }
      } else if (*method == "ppolicy_lock") {
        policy.disable.kind = Kind::ppolicy_lock;
      } else if (*method == "attribute") {
        policy.disable.kind = Kind::attribute;
      } else {
        reader.report_value("disable", "unknown disable method \"" + *method +
                                           "\"; expected user_account_control, ppolicy_lock "
                                           "or attribute");
      }
    }
    if (auto attribute = reader.string("disable_attribute")) {
      policy.disable.attribute = std::move(*attribute);
    }
    if (auto value = reader.string("disabled_value")) {
      policy.disable.disabled_value = std::move(*value);
    }
    if (auto value = reader.string("enabled_value")) {
      policy.disable.enabled_value = std::move(*value);
    }
    if (auto parent_dn = reader.string("move_deleted_to")) {
      if (parent_dn->find('=') == std::string::npos) {
        reader.report_value("move_deleted_to", "expected a DN such as \"ou=deleted,dc=example\"");
      }
      policy.move_deleted_to = std::move(*parent_dn);
    }
    if (auto attempts = reader.integer("max_attempts", 1, 1000)) {
      policy.max_attempts = static_cast<int>(*attempts);
    }
    if (auto seconds = reader.integer("poll_interval_seconds", 1, 3600)) {
      directory.writeback_poll_interval = std::chrono::seconds(*seconds);
    }
    if (reader.get("accept_scim_writes") != nullptr) {
      accepted = read_string_array(reader, "accept_scim_writes", context);
    }
    const auto& ops = policy.operations;
    if (ops.create && policy.user_dn_template.empty()) {
      reader.report_value("operations", "create needs user_dn (the new entry's DN template)");
    }
    if (ops.create && policy.object_classes.empty()) {
      reader.report_value("operations", "create needs object_classes");
    }
    if (ops.password && directory.kind == DirectoryKind::active_directory &&
        !directory.uri.starts_with("ldaps://") && !directory.start_tls) {
      reader.report_value("operations",
                          "password write-back to Active Directory needs TLS (ldaps:// or "
                          "start_tls = true): AD refuses unicodePwd over a cleartext connection");
    }
    if (ops.disable && policy.disable.kind == core::writeback::DisableMethod::Kind::none) {
      reader.report_value("operations", "disable needs a disable method (disable = ...)");
    }
    if (policy.disable.kind == core::writeback::DisableMethod::Kind::attribute &&
        (policy.disable.attribute.empty() || policy.disable.disabled_value.empty())) {
      reader.report_value("disable",
                          "disable = \"attribute\" needs disable_attribute and disabled_value");
    }
    reader.finish();
  }

  if (const auto* table = parent.table("authority")) {
    TableReader reader(*table, parent.path_of("authority"), context.diagnostics);
    for (auto&& [key, node] : *table) {
      const std::string target(key.str());
      auto owner_text = reader.string(target);
      if (!owner_text) {
        continue;
      }
      auto owner = core::writeback::parse_authority(*owner_text);
      auto* binding = policy.binding(target);
      if (!owner) {
        reader.report_value(
            target, "unknown owner \"" + *owner_text + "\"; expected directory, scim or tenant");
      } else if (binding == nullptr) {
        reader.report_value(target, "\"" + target +
                                        "\" is not mapped from this directory (only mapped "
                                        "attributes and \"active\" have an owner here)");
      } else if (*owner == Authority::scim && binding->attribute.empty() && target != "active") {
        reader.report_value(target, "\"" + target +
                                        "\" is mapped from a template of several attributes; "
                                        "only a single-attribute mapping (\"{attr}\") can be "
                                        "written back, so SCIM cannot own it");
      } else {
        binding->owner = *owner;
      }
    }
    reader.finish();
  }
  for (const auto& target : accepted) {
    auto* binding = policy.binding(target);
    if (binding == nullptr || (binding->attribute.empty() && target != "active")) {
      context.diagnostics.add(parent.where(), parent.path_of("writeback.accept_scim_writes"),
                              "\"" + target +
                                  "\" cannot accept SCIM writes: it is not mapped from a single "
                                  "directory attribute");
    } else {
      binding->accept_scim_writes = true;
    }
  }
  for (const auto& binding : policy.attributes) {
    if (binding.owner != Authority::directory) {
      directory.rules.set_on_create_only.push_back(binding.target);
    }
    // A directory edit of what SCIM owns is undone by writing the tenant's value back. Not for
    // `active`: re-enabling an account a directory admin disabled is not a correction to make
    // silently (and it is not a binding with an attribute here).
    if (binding.owner == Authority::scim && policy.operations.modify &&
        !binding.attribute.empty()) {
      directory.rules.corrected_in_directory.push_back(binding.target);
    }
  }
  // Deactivation is written back when the directory takes it: Okta and Entra deprovision with
  // active=false, which must not be refused when write-back can carry it.
  if (policy.operations.disable) {
    if (auto* active = policy.binding("active")) {
      active->accept_scim_writes = true;
    } else {
      policy.attributes.push_back({"active", "", Authority::scim, false});
    }
  }
}

void read_directories(const toml::table& directories, Context& context, Config& config) {
  for (auto&& [key, node] : directories) {
    const std::string name(key.str());
    const std::string path = join_path("directories", name);
    if (!is_valid_directory_name(name)) {
      context.diagnostics.add(key.source(), path,
                              "directory name must match [a-z0-9][a-z0-9_-]{0,62}");
    }
    const auto* table = node.as_table();
    if (table == nullptr) {
      context.diagnostics.add(
          node.source(), path,
          "expected table, found " + std::string(detail::type_name(node.type())));
      continue;
    }
    TableReader reader(*table, path, context.diagnostics);
    DirectoryConfig directory;
    directory.name = name;
    directory.where = reader.location();

    const TenantConfig* tenant = nullptr;
    if (auto id = required_string(reader, "tenant")) {
      const auto found = std::find_if(config.tenants.begin(), config.tenants.end(),
                                      [&](const auto& t) { return t.settings.id.str() == *id; });
      if (found == config.tenants.end()) {
        reader.report_value("tenant", "tenant \"" + *id + "\" is not configured in [tenants]");
      } else {
        tenant = &*found;
      }
      directory.tenant = core::TenantId(*id);
    }
    if (auto kind = required_string(reader, "kind")) {
      if (*kind == "openldap") {
        directory.kind = DirectoryKind::openldap;
      } else if (*kind == "active_directory") {
        directory.kind = DirectoryKind::active_directory;
      } else {
        reader.report_value("kind", "unknown kind \"" + *kind +
                                        "\"; expected \"openldap\" or \"active_directory\"");
      }
    }
    const bool ad = directory.kind == DirectoryKind::active_directory;
    directory.user_filter =
        ad ? "(&(objectCategory=person)(objectClass=user))" : "(objectClass=inetOrgPerson)";
    directory.anchor_attribute = ad ? "objectGUID" : "entryUUID";

    if (auto uri = required_string(reader, "uri")) {
      const bool ldaps = uri->starts_with("ldaps://");
      if (!ldaps && !uri->starts_with("ldap://")) {
        reader.report_value("uri", "expected ldap://HOST:PORT or ldaps://HOST:PORT");
      } else if (uri->find_first_of(" ,") != std::string::npos) {
        reader.report_value("uri", "exactly one server: no spaces or commas");
      }
      directory.uri = std::move(*uri);
    }
    if (auto start_tls = reader.boolean("start_tls")) {
      directory.start_tls = *start_tls;
      if (*start_tls && directory.uri.starts_with("ldaps://")) {
        reader.report_value("start_tls", "start_tls is for ldap:// URIs; ldaps:// is TLS already");
      }
    }
    if (auto verify = reader.boolean("verify_certificate")) {
      directory.verify_certificate = *verify;
      directory.verify_certificate_where =
          context.diagnostics.location(reader.get("verify_certificate")->source());
    }
    if (auto ca_file = reader.string("ca_file")) {
      if (ca_file->empty()) {
        reader.report_value("ca_file", "file path is empty");
      } else {
        directory.ca_file = resolve_path(context.config_dir, *ca_file);
      }
    }
    if (auto bind_dn = reader.string("bind_dn")) {
      if (bind_dn->empty() || bind_dn->find('=') == std::string::npos) {
        reader.report_value("bind_dn", "expected a DN such as \"cn=idbridge,dc=example,dc=com\"");
      }
      directory.bind_dn = std::move(*bind_dn);
    }
    directory.bind_password = read_secret_ref(reader, "bind_password", context);
    if (!directory.bind_dn.empty() && reader.get("bind_password") == nullptr) {
      reader.report_missing("bind_password");
    } else if (directory.bind_dn.empty() && reader.get("bind_password") != nullptr &&
               reader.get("bind_dn") == nullptr) {
      reader.report_value("bind_password", "bind_password needs bind_dn as well");
    }
    if (auto page_size = reader.integer("page_size", 1, 100000)) {
      directory.page_size = static_cast<int>(*page_size);
    }
    if (auto seconds = reader.integer("timeout_seconds", 1, 3600)) {
      directory.timeout = std::chrono::seconds(*seconds);
    }
    constexpr std::int64_t year = 366 * 24 * 3600;
    if (auto seconds = reader.integer("full_sync_interval_seconds", 0, year)) {
      directory.full_sync_interval = std::chrono::seconds(*seconds);
    }
    if (auto seconds = reader.integer("incremental_sync_interval_seconds", 0, year)) {
      directory.incremental_sync_interval = std::chrono::seconds(*seconds);
    }
    directory.group_filter = ad ? "(objectClass=group)" : "(objectClass=groupOfNames)";
    if (reader.get("group_base_dns") != nullptr) {
      directory.group_base_dns = read_string_array(reader, "group_base_dns", context);
    }
    if (auto filter = reader.string("group_filter")) {
      if (!looks_like_filter(*filter)) {
        reader.report_value("group_filter",
                            "not an LDAP filter: expected \"(...)\" with balanced "
                            "parentheses, e.g. \"(objectClass=groupOfNames)\"");
      }
      directory.group_filter = std::move(*filter);
    }
    read_directory_users(reader, context, directory);
    const bool entry_uuid_anchor = directory.anchor_attribute == "entryUUID";
    directory.change_detection = ad                  ? ChangeDetection::usn_changed
                                 : entry_uuid_anchor ? ChangeDetection::content_sync
                                                     : ChangeDetection::modify_timestamp;
    if (auto detection = reader.string("change_detection")) {
      const std::vector<std::pair<std::string_view, ChangeDetection>> known{
          {"full", ChangeDetection::full},
          {"content_sync", ChangeDetection::content_sync},
          {"modify_timestamp", ChangeDetection::modify_timestamp},
          {"usn_changed", ChangeDetection::usn_changed}};
      const auto found = std::find_if(known.begin(), known.end(),
                                      [&](const auto& entry) { return entry.first == *detection; });
      if (found == known.end()) {
        reader.report_value("change_detection", "unknown change_detection \"" + *detection +
                                                    "\"; expected \"full\", \"content_sync\", "
                                                    "\"modify_timestamp\" or \"usn_changed\"");
      } else if (found->second == ChangeDetection::usn_changed && !ad) {
        reader.report_value("change_detection",
                            "usn_changed needs kind = \"active_directory\" (uSNChanged and "
                            "highestCommittedUSN are AD's)");
      } else if ((found->second == ChangeDetection::content_sync ||
                  found->second == ChangeDetection::modify_timestamp) &&
                 ad) {
        reader.report_value(
            "change_detection",
            std::string(found->first) + " is for OpenLDAP; Active Directory uses \"usn_changed\"");
      } else if (found->second == ChangeDetection::content_sync && !entry_uuid_anchor) {
        reader.report_value("change_detection",
                            "content_sync names deleted entries by entryUUID: it needs "
                            "users.anchor_attribute = \"entryUUID\"");
      } else {
        directory.change_detection = found->second;
      }
    }
    if (auto persist = reader.boolean("persist")) {
      if (*persist && directory.change_detection != ChangeDetection::content_sync) {
        reader.report_value("persist",
                            "persist = true needs change_detection = \"content_sync\" (an RFC 4533 "
                            "refreshAndPersist search); this directory uses \"" +
                                std::string(to_string(directory.change_detection)) + "\"");
      } else {
        directory.persist = *persist;
      }
    }
    read_directory_rules(reader, context, tenant, directory);
    read_directory_disabled(reader, context, directory);
    read_directory_safety(reader, context, directory);
    read_directory_writeback(reader, context, directory);
    reader.finish();
    config.directories.push_back(std::move(directory));
  }
}

Config read_config(const toml::table& root, Context& context, const std::string& source_name) {
  Config config;
  config.source_file = source_name;
  TableReader reader(root, "", context.diagnostics);
  if (auto state_dir = reader.string("state_dir")) {
    if (!std::filesystem::path(*state_dir).is_absolute()) {
      reader.report_value("state_dir", "state_dir must be an absolute path");
    } else {
      config.state_dir = std::filesystem::path(*state_dir).lexically_normal().string();
    }
  }
  if (const auto* server = reader.table("server")) {
    read_server(*server, context, config.server);
  }
  if (const auto* logging = reader.table("logging")) {
    read_logging(*logging, context, config.logging);
  }
  if (const auto* store = reader.table("store")) {
    read_store(*store, context, config.store);
  }
  config.store.sqlite_path = resolve_path(config.state_dir, config.store.sqlite_path_as_written);
  if (const auto* provider = reader.table("provider")) {
    read_provider(*provider, context, config);
  }
  if (const auto* tenants = reader.table("tenants")) {
    read_tenants(*tenants, context, config);
  }
  // After the tenants: a directory names its tenant and the tenant's profiles.
  if (const auto* directories = reader.table("directories")) {
    read_directories(*directories, context, config);
  }
  reader.finish();
  return config;
}

}  // namespace

std::string_view to_string(DirectoryKind kind) {
  return kind == DirectoryKind::active_directory ? "active_directory" : "openldap";
}

std::string_view to_string(ChangeDetection detection) {
  switch (detection) {
    case ChangeDetection::full: return "full";
    case ChangeDetection::content_sync: return "content_sync";
    case ChangeDetection::modify_timestamp: return "modify_timestamp";
    case ChangeDetection::usn_changed: return "usn_changed";
  }
  return "full";
}

const DirectoryConfig* Config::find_directory(std::string_view name) const {
  const auto found = std::find_if(directories.begin(), directories.end(),
                                  [&](const auto& directory) { return directory.name == name; });
  return found == directories.end() ? nullptr : &*found;
}

LoadResult parse_config(std::string_view toml_text, const std::string& source_name) {
  Diagnostics diagnostics(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& error) {
    // toml++ stops at the first syntax error, so this is the only error for the file.
    diagnostics.add(error.source(), "", std::string(error.description()));
    return LoadResult{std::nullopt, diagnostics.take()};
  }
  Context context{config_directory(source_name), diagnostics, {}, {}};
  Config config = read_config(root, context, source_name);
  if (!diagnostics.empty()) {
    return LoadResult{std::nullopt, diagnostics.take()};
  }
  return LoadResult{std::move(config), {}};
}

LoadResult load_config_file(const std::string& path) {
  const auto unreadable = [&](std::string reason) {
    return LoadResult{
        std::nullopt,
        {ConfigError{path, 0, 0, "", "cannot read config file: " + std::move(reason)}}};
  };
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return unreadable("is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return unreadable(std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return unreadable(std::strerror(errno));
  }
  return parse_config(text.str(), path);
}

}  // namespace idbridge::config
