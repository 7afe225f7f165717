// Tests of the config module: the schema and its error reports, secret references, listen
// addresses, overrides, effective validation and the shipped example.
#include "idbridge/config/config.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace idbridge::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string all_errors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& error : errors) {
    out += error.to_string() + "\n";
  }
  return out;
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) {
      old_ = old;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

constexpr const char* full_config = R"(state_dir = "/srv/idbridge"

[server]
listen = "[::1]:9443"
tls_certificate = "tls/cert.pem"
tls_private_key = { credential = "tls-key" }
threads = 4
max_body_bytes = 65536
request_timeout_seconds = 10
shutdown_grace_seconds = 5
public_base_url = "https://idbridge.example.com"

[logging]
level = "debug"

[store]
backend = "sqlite"
path = "db/bridge.db"

[provider]
name = "Provider One"

[[provider.credentials]]
name = "provider-admin"
token = { env = "IDBRIDGE_PROVIDER_TOKEN" }
role_ceiling = "accountOwner"

[tenants.acme]
display_name = "Acme"
user_name_specials = "._-"
lockout_threshold = 3

[tenants.acme.password_policy]
min_length = 10
max_length = 64
require_lower = false
require_upper = false
require_digit = false
require_special = true
forbid_user_name = false

[[tenants.acme.profiles]]
name = "helpdesk"
rights = ["manageUsers", "manageE911"]

[[tenants.acme.credentials]]
name = "acme-okta"
token = { file = "/etc/idbridge/acme.token" }
role_ceiling = "administrator"
read_only = true

[tenants.globex-2]
)";

TEST(ParseConfig, ReadsEveryKey) {
  const LoadResult result = parse_config(full_config, "/etc/idbridge/idbridge.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  const Config& config = *result.config;
  EXPECT_EQ(config.source_file, "/etc/idbridge/idbridge.toml");
  EXPECT_EQ(config.state_dir, "/srv/idbridge");

  EXPECT_EQ(config.server.listen.host, "::1");
  EXPECT_EQ(config.server.listen.port, 9443);
  ASSERT_TRUE(config.server.tls);
  EXPECT_EQ(config.server.tls->certificate_file, "/etc/idbridge/tls/cert.pem");
  EXPECT_EQ(config.server.tls->private_key.kind, SecretRef::Kind::systemd_credential);
  EXPECT_EQ(config.server.tls->private_key.name, "tls-key");
  EXPECT_EQ(config.server.tls->private_key.key_path, "server.tls_private_key");
  EXPECT_EQ(config.server.tls->private_key.where.line, 6);
  EXPECT_FALSE(config.server.plain_http);
  EXPECT_EQ(config.server.threads, 4u);
  EXPECT_EQ(config.server.max_body_bytes, 65536u);
  EXPECT_EQ(config.server.request_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config.server.shutdown_grace, std::chrono::seconds(5));
  EXPECT_EQ(config.server.public_base_url, "https://idbridge.example.com");

  EXPECT_EQ(config.logging.level, LogLevel::debug);
  EXPECT_EQ(config.store.backend, StoreBackend::sqlite);
  EXPECT_EQ(config.store.sqlite_path, "/srv/idbridge/db/bridge.db");

  EXPECT_EQ(config.provider.name, "Provider One");
  ASSERT_EQ(config.provider_credentials.size(), 1u);
  EXPECT_EQ(config.provider_credentials[0].name, "provider-admin");
  EXPECT_EQ(config.provider_credentials[0].token.kind, SecretRef::Kind::env);
  EXPECT_EQ(config.provider_credentials[0].token.name, "IDBRIDGE_PROVIDER_TOKEN");
  EXPECT_EQ(config.provider_credentials[0].role_ceiling, core::Role::account_owner);
  EXPECT_FALSE(config.provider_credentials[0].read_only);

  ASSERT_EQ(config.tenants.size(), 2u);
  const TenantConfig& acme = config.tenants[0];
  EXPECT_EQ(acme.settings.id.str(), "acme");
  EXPECT_EQ(acme.settings.display_name, "Acme");
  EXPECT_EQ(acme.settings.user_name_specials, "._-");
  EXPECT_EQ(acme.settings.lockout_threshold, 3);
  const core::PasswordPolicy expected_policy{10, 64, false, false, false, true, false};
  EXPECT_EQ(acme.settings.password_policy, expected_policy);
  ASSERT_EQ(acme.settings.profiles.size(), 1u);
  EXPECT_EQ(acme.settings.profiles[0],
            (core::ProfileDefinition{"helpdesk", {"manageUsers", "manageE911"}}));
  ASSERT_EQ(acme.credentials.size(), 1u);
  EXPECT_EQ(acme.credentials[0].name, "acme-okta");
  EXPECT_EQ(acme.credentials[0].token.kind, SecretRef::Kind::file);
  EXPECT_EQ(acme.credentials[0].token.name, "/etc/idbridge/acme.token");
  EXPECT_EQ(acme.credentials[0].token.key_path, "tenants.acme.credentials[0].token");
  EXPECT_EQ(acme.credentials[0].role_ceiling, core::Role::administrator);
  EXPECT_TRUE(acme.credentials[0].read_only);

  const TenantConfig& globex = config.tenants[1];
  EXPECT_EQ(globex.settings.id.str(), "globex-2");
  EXPECT_EQ(globex.settings.display_name, "globex-2");
  EXPECT_EQ(globex.settings.password_policy, core::PasswordPolicy{});
  EXPECT_EQ(globex.settings.user_name_specials, core::TenantSettings{}.user_name_specials);
  EXPECT_TRUE(globex.credentials.empty());
}

TEST(ParseConfig, EmptyFileGivesDefaults) {
  const LoadResult result = parse_config("", "/etc/idbridge/idbridge.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  EXPECT_EQ(result.config->state_dir, "/var/lib/idbridge");
  EXPECT_EQ(result.config->store.sqlite_path, "/var/lib/idbridge/idbridge.db");
  EXPECT_EQ(result.config->server.listen.host, "127.0.0.1");
  EXPECT_EQ(result.config->server.listen.port, 8443);
  EXPECT_EQ(result.config->logging.level, LogLevel::info);
  EXPECT_FALSE(result.config->server.tls);
}

TEST(ParseConfig, RelativeSecretFileResolvesAgainstConfigDirectory) {
  const LoadResult result = parse_config(R"(
[[provider.credentials]]
name = "p"
token = { file = "secrets/../p.token" }
)",
                                         "/etc/idbridge/conf.d/main.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  EXPECT_EQ(result.config->provider_credentials[0].token.name, "/etc/idbridge/conf.d/p.token");
}

TEST(ParseConfig, UnknownKeyWrongTypeAndInlineSecretAreThreeLocatedErrors) {
  const std::string text = R"(state_dir = "/var/lib/idbridge"
[server]
listn = "127.0.0.1:8080"
threads = "four"

[[tenants.acme.credentials]]
name = "acme-okta"
token = "s3cr3t-t0ken-value"
)";
  const LoadResult result = parse_config(text, "/etc/idbridge/idbridge.toml");
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 3u) << all_errors(result.errors);

  EXPECT_EQ(result.errors[0].line, 3);
  EXPECT_EQ(result.errors[0].column, 1);
  EXPECT_EQ(result.errors[0].key_path, "server.listn");
  EXPECT_THAT(result.errors[0].message, HasSubstr("unknown key"));
  EXPECT_THAT(result.errors[0].message, HasSubstr("did you mean \"listen\""));

  EXPECT_EQ(result.errors[1].line, 4);
  EXPECT_EQ(result.errors[1].key_path, "server.threads");
  EXPECT_EQ(result.errors[1].message, "expected integer, found string");

  EXPECT_EQ(result.errors[2].line, 8);
  EXPECT_EQ(result.errors[2].key_path, "tenants.acme.credentials[0].token");
  EXPECT_EQ(result.errors[2].message,
            "inline secret not allowed; use { file = ... }, { env = ... } or { credential = ... }");

  for (const auto& error : result.errors) {
    EXPECT_EQ(error.file, "/etc/idbridge/idbridge.toml");
  }
  EXPECT_EQ(result.errors[1].to_string(),
            "/etc/idbridge/idbridge.toml:4:11: server.threads: expected integer, found string");
}

struct ErrorCase {
  const char* name;
  const char* toml;
  int line;
  const char* key_path;
  const char* message_part;
};

void PrintTo(const ErrorCase& c, std::ostream* out) {
  *out << c.name;
}

class ConfigErrorClass : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorClass, IsReportedAlone) {
  const ErrorCase& c = GetParam();
  const LoadResult result = parse_config(c.toml, "/etc/idbridge/test.toml");
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result.errors);
  const ConfigError& error = result.errors[0];
  EXPECT_EQ(error.file, "/etc/idbridge/test.toml");
  EXPECT_EQ(error.line, c.line) << error.to_string();
  EXPECT_GT(error.column, 0) << error.to_string();
  EXPECT_EQ(error.key_path, c.key_path) << error.to_string();
  EXPECT_THAT(error.message, HasSubstr(c.message_part));
}

// Each entry holds exactly one problem.
const ErrorCase error_cases[] = {
    {"syntax", "a = 1\nb = \n", 2, "", "parsing"},
    {"duplicate_key", "state_dir = \"/a\"\nstate_dir = \"/b\"\n", 2, "", "redefine"},
    {"unknown_root_key", "\nbogus = 1\n", 2, "bogus", "unknown key"},
    {"unknown_nested_key", "[tenants.acme.password_policy]\nmin_len = 3\n", 2,
     "tenants.acme.password_policy.min_len", "did you mean \"min_length\""},
    {"quoted_unknown_key", "[server]\n\"a.b\" = 1\n", 2, "server.\"a.b\"", "unknown key"},
    {"wrong_type_table", "server = 5\n", 1, "server", "expected table, found integer"},
    {"wrong_type_bool", "[server]\nplain_http = \"yes\"\n", 2, "server.plain_http",
     "expected boolean, found string"},
    {"wrong_type_array", "[provider]\ncredentials = 1\n", 2, "provider.credentials",
     "expected array of tables, found integer"},
    {"array_element_not_table", "[tenants.a]\nprofiles = [1]\n", 2, "tenants.a.profiles[0]",
     "expected table, found integer"},
    {"relative_state_dir", "state_dir = \"var/lib\"\n", 1, "state_dir", "absolute"},
    {"bad_listen", "[server]\nlisten = \"127.0.0.1\"\n", 2, "server.listen", "HOST:PORT"},
    {"bad_port", "[server]\nlisten = \"127.0.0.1:65536\"\n", 2, "server.listen", "HOST:PORT"},
    {"threads_range", "[server]\nthreads = -1\n", 2, "server.threads", "between 0 and 1024"},
    {"body_zero", "[server]\nmax_body_bytes = 0\n", 2, "server.max_body_bytes", "between 1"},
    {"timeout_zero", "[server]\nrequest_timeout_seconds = 0\n", 2, "server.request_timeout_seconds",
     "between 1 and 3600"},
    {"grace_range", "[server]\nshutdown_grace_seconds = 7200\n", 2, "server.shutdown_grace_seconds",
     "between 0 and 3600"},
    {"base_url_trailing_slash", "[server]\npublic_base_url = \"https://h.example/\"\n", 2,
     "server.public_base_url", "without a trailing slash"},
    {"base_url_no_scheme", "[server]\npublic_base_url = \"h.example\"\n", 2,
     "server.public_base_url", "absolute http(s) URL"},
    {"cert_without_key", "[server]\ntls_certificate = \"c.pem\"\n", 2, "server.tls_certificate",
     "needs tls_private_key"},
    {"key_without_cert", "[server]\ntls_private_key = { file = \"k.pem\" }\n", 2,
     "server.tls_private_key", "needs tls_certificate"},
    {"inline_tls_key", "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = \"KEY\"\n", 3,
     "server.tls_private_key", "inline secret not allowed"},
    {"secret_wrong_type", "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = 7\n", 3,
     "server.tls_private_key", "expected table such as { file = ... }, found integer"},
    {"secret_no_form", "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = {}\n", 3,
     "server.tls_private_key", "needs one of"},
    {"secret_two_forms",
     "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = { file = \"k\", env = \"K\" }\n", 3,
     "server.tls_private_key", "only one of"},
    {"secret_unknown_form",
     "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = { file = \"k\", value = \"x\" }\n",
     3, "server.tls_private_key.value", "unknown key"},
    {"secret_bad_env",
     "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = { env = \"1BAD\" }\n", 3,
     "server.tls_private_key.env", "environment variable name"},
    {"secret_bad_credential",
     "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = { credential = \"../k\" }\n", 3,
     "server.tls_private_key.credential", "credential name"},
    {"secret_empty_file",
     "[server]\ntls_certificate = \"c.pem\"\ntls_private_key = { file = \"\" }\n", 3,
     "server.tls_private_key.file", "empty"},
    {"log_level", "[logging]\nlevel = \"verbose\"\n", 2, "logging.level", "unknown level"},
    {"store_backend", "[store]\nbackend = \"mysql\"\n", 2, "store.backend", "unknown backend"},
    {"store_postgres", "[store]\nbackend = \"postgresql\"\n", 2, "store.backend",
     "not available yet"},
    {"store_empty_path", "[store]\npath = \"\"\n", 2, "store.path", "empty"},
    {"tenant_id", "[tenants.Acme]\n", 1, "tenants.Acme", "tenant id must match"},
    {"tenant_id_leading_dash", "[tenants.-acme]\n", 1, "tenants.-acme", "tenant id must match"},
    {"tenant_not_table", "[tenants]\nacme = 1\n", 2, "tenants.acme", "expected table"},
    {"specials", "[tenants.a]\nuser_name_specials = \"a b\"\n", 2, "tenants.a.user_name_specials",
     "ASCII punctuation"},
    {"lockout_range", "[tenants.a]\nlockout_threshold = -2\n", 2, "tenants.a.lockout_threshold",
     "between 0 and 1000"},
    {"min_length_zero", "[tenants.a.password_policy]\nmin_length = 0\n", 2,
     "tenants.a.password_policy.min_length", "between 1 and 4096"},
    {"min_above_max", "[tenants.a.password_policy]\nmin_length = 20\nmax_length = 10\n", 2,
     "tenants.a.password_policy.min_length", "greater than max_length"},
    {"min_above_default_max", "[tenants.a.password_policy]\nmin_length = 300\n", 2,
     "tenants.a.password_policy.min_length", "greater than max_length (256)"},
    {"profile_without_name", "[[tenants.a.profiles]]\nrights = []\n", 1,
     "tenants.a.profiles[0].name", "required key is missing"},
    {"profile_duplicate",
     "[[tenants.a.profiles]]\nname = \"p\"\n[[tenants.a.profiles]]\nname = \"p\"\n", 4,
     "tenants.a.profiles[1].name", "already defined at /etc/idbridge/test.toml:2"},
    {"profile_bad_default", "[[tenants.a.profiles]]\nname = \"default:boss\"\n", 2,
     "tenants.a.profiles[0].name", "must name a role"},
    {"right_not_string", "[[tenants.a.profiles]]\nname = \"p\"\nrights = [\"ok\", 3]\n", 3,
     "tenants.a.profiles[0].rights[1]", "expected string, found integer"},
    {"right_with_space", "[[tenants.a.profiles]]\nname = \"p\"\nrights = [\"manage users\"]\n", 3,
     "tenants.a.profiles[0].rights[0]", "without spaces"},
    {"credential_without_token", "[[provider.credentials]]\nname = \"p\"\n", 1,
     "provider.credentials[0].token", "required key is missing"},
    {"credential_without_name", "[[provider.credentials]]\ntoken = { env = \"T\" }\n", 1,
     "provider.credentials[0].name", "required key is missing"},
    {"credential_bad_name", "[[provider.credentials]]\nname = \"a b\"\ntoken = { env = \"T\" }\n",
     2, "provider.credentials[0].name", "credential name must be"},
    {"credential_duplicate_across_file",
     "[[provider.credentials]]\nname = \"dup\"\ntoken = { env = \"A\" }\n"
     "[[tenants.a.credentials]]\nname = \"dup\"\ntoken = { env = \"B\" }\n",
     5, "tenants.a.credentials[0].name", "already used at /etc/idbridge/test.toml:2:8"},
    {"role_ceiling",
     "[[tenants.a.credentials]]\nname = \"c\"\ntoken = { env = \"T\" }\n"
     "role_ceiling = \"Administrator\"\n",
     4, "tenants.a.credentials[0].role_ceiling", "unknown role \"Administrator\""},
    {"read_only_type",
     "[[tenants.a.credentials]]\nname = \"c\"\ntoken = { env = \"T\" }\n"
     "read_only = 1\n",
     4, "tenants.a.credentials[0].read_only", "expected boolean"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigErrorClass, ::testing::ValuesIn(error_cases),
                         [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(ParseConfig, CollectsEveryProblemInFileOrder) {
  const LoadResult result = parse_config(R"(
[tenants.b]
unknown = 1
[server]
threads = 99999
[tenants.a]
lockout_threshold = "x"
[logging]
level = "loud"
)",
                                         "x.toml");
  ASSERT_EQ(result.errors.size(), 4u) << all_errors(result.errors);
  EXPECT_EQ(result.errors[0].line, 3);
  EXPECT_EQ(result.errors[1].line, 5);
  EXPECT_EQ(result.errors[2].line, 7);
  EXPECT_EQ(result.errors[3].line, 9);
}

TEST(ParseConfig, ErrorsNeverContainSecretValues) {
  constexpr const char* secret = "SUPER-secret-value-123";
  const std::vector<std::string> texts = {
      std::string("[[provider.credentials]]\nname = \"p\"\ntoken = \"") + secret + "\"\n",
      std::string("[server]\ntls_certificate = \"c\"\ntls_private_key = \"") + secret + "\"\n",
      std::string("[server]\ntls_certificate = \"c\"\ntls_private_key = [\"") + secret + "\"]\n",
      std::string("[[tenants.a.credentials]]\nname = \"c\"\ntoken = { env = \"") + secret +
          "\" }\n",
      std::string("[[tenants.a.credentials]]\nname = \"c\"\ntoken = { credential = \"") + secret +
          "/x\" }\n",
      std::string("[[tenants.a.credentials]]\nname = \"c\"\ntoken = { file = \"a\", env = \"") +
          secret + "\" }\n",
  };
  for (const auto& text : texts) {
    const LoadResult result = parse_config(text, "s.toml");
    EXPECT_FALSE(result.errors.empty()) << text;
    for (const auto& error : result.errors) {
      EXPECT_THAT(error.to_string(), Not(HasSubstr("SUPER"))) << text;
    }
  }
}

TEST(LoadConfigFile, MissingFileIsOneError) {
  testing::TempDir dir;
  const LoadResult result = load_config_file(dir.file("absent.toml"));
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].to_string(), HasSubstr("absent.toml: cannot read config file"));
}

TEST(LoadConfigFile, SyntaxErrorIsOneErrorWithItsLine) {
  testing::TempDir dir;
  const std::string path =
      dir.write("bad.toml", "[server]\nlisten = \"127.0.0.1:1\"\nthreads = [\n");
  const LoadResult result = load_config_file(path);
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].file, path);
  EXPECT_GE(result.errors[0].line, 3);
}

TEST(LoadConfigFile, ResolvesRelativePathsAgainstItsDirectory) {
  testing::TempDir dir;
  const std::string path = dir.write("etc/idbridge.toml", R"(
[server]
tls_certificate = "cert.pem"
tls_private_key = { file = "key.pem" }
)");
  const LoadResult result = load_config_file(path);
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  EXPECT_EQ(result.config->server.tls->certificate_file, (dir.path() / "etc/cert.pem").string());
  EXPECT_EQ(result.config->server.tls->private_key.name, (dir.path() / "etc/key.pem").string());
}

TEST(Example, MinimalParsesAndValidates) {
  const LoadResult result = load_config_file(IDBRIDGE_CONFIG_EXAMPLE);
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  EXPECT_TRUE(validate_effective(*result.config).empty())
      << all_errors(validate_effective(*result.config));
  ASSERT_EQ(result.config->tenants.size(), 1u);
  ASSERT_EQ(result.config->tenants[0].credentials.size(), 1u);
  const SecretRef& token = result.config->tenants[0].credentials[0].token;
  EXPECT_EQ(token.kind, SecretRef::Kind::file);
  EXPECT_THAT(token.name, ::testing::EndsWith("/config/examples/okta.token"));
}

// Secrets.

TEST(ResolveSecret, FileStripsTrailingNewlines) {
  testing::TempDir dir;
  const SecretRef ref{SecretRef::Kind::file, dir.write("t", "tok en\r\n\n"), {}, ""};
  const SecretValue secret = resolve_secret(ref);
  ASSERT_TRUE(secret.value) << secret.error;
  EXPECT_EQ(*secret.value, "tok en");
}

TEST(ResolveSecret, Env) {
  const ScopedEnv env("IDBRIDGE_TEST_TOKEN", "from-env");
  const SecretValue secret = resolve_secret({SecretRef::Kind::env, "IDBRIDGE_TEST_TOKEN", {}, ""});
  ASSERT_TRUE(secret.value) << secret.error;
  EXPECT_EQ(*secret.value, "from-env");
}

TEST(ResolveSecret, SystemdCredential) {
  testing::TempDir dir;
  dir.write("okta", "from-credential\n");
  const ScopedEnv env("CREDENTIALS_DIRECTORY", dir.path().c_str());
  const SecretValue secret = resolve_secret({SecretRef::Kind::systemd_credential, "okta", {}, ""});
  ASSERT_TRUE(secret.value) << secret.error;
  EXPECT_EQ(*secret.value, "from-credential");
}

struct SecretFailure {
  const char* name;
  SecretRef::Kind kind;
  const char* ref_name;  // relative file names are placed in the test's directory
  const char* message_part;
};

void PrintTo(const SecretFailure& c, std::ostream* out) {
  *out << c.name;
}

class ResolveSecretFailure : public ::testing::TestWithParam<SecretFailure> {};

TEST_P(ResolveSecretFailure, NamesTheReferenceNotTheValue) {
  const SecretFailure& c = GetParam();
  testing::TempDir dir;
  dir.write("empty", "\n");
  dir.write("creds/blank", "");
  const ScopedEnv empty_env("IDBRIDGE_TEST_EMPTY", "");
  const ScopedEnv unset_env("IDBRIDGE_TEST_UNSET", nullptr);
  const ScopedEnv credentials("CREDENTIALS_DIRECTORY",
                              std::string(c.name) == "credential_without_directory"
                                  ? nullptr
                                  : (dir.path() / "creds").c_str());
  std::string name = c.ref_name;
  if (c.kind == SecretRef::Kind::file) {
    name = dir.file(name);
  }
  const SecretValue secret = resolve_secret({c.kind, name, {}, ""});
  EXPECT_FALSE(secret.value);
  EXPECT_THAT(secret.error, HasSubstr(c.ref_name));
  EXPECT_THAT(secret.error, HasSubstr(c.message_part));
}

const SecretFailure secret_failures[] = {
    {"missing_file", SecretRef::Kind::file, "absent", "No such file"},
    {"empty_file", SecretRef::Kind::file, "empty", "is empty"},
    {"directory", SecretRef::Kind::file, "creds", "is a directory"},
    {"unset_env", SecretRef::Kind::env, "IDBRIDGE_TEST_UNSET", "is not set"},
    {"empty_env", SecretRef::Kind::env, "IDBRIDGE_TEST_EMPTY", "is empty"},
    {"missing_credential", SecretRef::Kind::systemd_credential, "absent", "No such file"},
    {"empty_credential", SecretRef::Kind::systemd_credential, "blank", "is empty"},
    {"credential_without_directory", SecretRef::Kind::systemd_credential, "okta",
     "CREDENTIALS_DIRECTORY"},
};

INSTANTIATE_TEST_SUITE_P(All, ResolveSecretFailure, ::testing::ValuesIn(secret_failures),
                         [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(CheckSecrets, ReportsUnreadableReferencesAtTheirLocation) {
  testing::TempDir dir;
  dir.write("good.token", "value-of-good-token\n");
  const ScopedEnv unset_env("IDBRIDGE_TEST_UNSET", nullptr);
  const std::string path = dir.write("idbridge.toml", R"(
[[provider.credentials]]
name = "good"
token = { file = "good.token" }

[[tenants.a.credentials]]
name = "bad"
token = { env = "IDBRIDGE_TEST_UNSET" }
)");
  const LoadResult result = load_config_file(path);
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  const auto errors = check_secrets(*result.config);
  ASSERT_EQ(errors.size(), 1u) << all_errors(errors);
  EXPECT_EQ(errors[0].to_string(), path +
                                       ":8:9: tenants.a.credentials[0].token: environment variable "
                                       "IDBRIDGE_TEST_UNSET is not set");
  EXPECT_THAT(all_errors(errors), Not(HasSubstr("value-of-good-token")));
}

// Listen addresses.

struct ListenCase {
  const char* text;
  bool valid;
  const char* host;
  std::uint16_t port;
  bool loopback;
};

void PrintTo(const ListenCase& c, std::ostream* out) {
  *out << '"' << c.text << '"';
}

class ListenAddressParse : public ::testing::TestWithParam<ListenCase> {};

TEST_P(ListenAddressParse, Parses) {
  const ListenCase& c = GetParam();
  const auto address = parse_listen_address(c.text);
  ASSERT_EQ(address.has_value(), c.valid) << c.text;
  if (address) {
    EXPECT_EQ(address->host, c.host);
    EXPECT_EQ(address->port, c.port);
    EXPECT_EQ(address->is_loopback(), c.loopback) << c.text;
  }
}

const ListenCase listen_cases[] = {
    {"127.0.0.1:8443", true, "127.0.0.1", 8443, true},
    {"127.1.2.3:80", true, "127.1.2.3", 80, true},
    {"127.0.0.1:0", true, "127.0.0.1", 0, true},
    {"0.0.0.0:8443", true, "0.0.0.0", 8443, false},
    {"10.0.0.1:65535", true, "10.0.0.1", 65535, false},
    {"localhost:8080", true, "localhost", 8080, true},
    {"LocalHost:8080", true, "LocalHost", 8080, true},
    {"bridge.example.com:443", true, "bridge.example.com", 443, false},
    {"[::1]:8443", true, "::1", 8443, true},
    {"[::]:8443", true, "::", 8443, false},
    {"[::ffff:127.0.0.1]:1", true, "::ffff:127.0.0.1", 1, true},
    {"[2001:db8::1]:443", true, "2001:db8::1", 443, false},
    {"::1:8443", false, "", 0, false},
    {"127.0.0.1", false, "", 0, false},
    {"127.0.0.1:", false, "", 0, false},
    {":8443", false, "", 0, false},
    {"127.0.0.1:65536", false, "", 0, false},
    {"127.0.0.1:-1", false, "", 0, false},
    {"127.0.0.1:+80", false, "", 0, false},
    {"127.0.0.1:80x", false, "", 0, false},
    {"[::1]8443", false, "", 0, false},
    {"[::1:8443", false, "", 0, false},
    {"[nothost]:8443", false, "", 0, false},
    {"bad host:80", false, "", 0, false},
    {"", false, "", 0, false},
};

INSTANTIATE_TEST_SUITE_P(All, ListenAddressParse, ::testing::ValuesIn(listen_cases));

// Effective validation and overrides.

Config parsed(const char* text) {
  LoadResult result = parse_config(text, "/etc/idbridge/idbridge.toml");
  EXPECT_TRUE(result.config) << all_errors(result.errors);
  return result.config ? std::move(*result.config) : Config{};
}

TEST(ValidateEffective, PlainHttpOnLoopbackIsFine) {
  EXPECT_TRUE(
      validate_effective(parsed("[server]\nlisten = \"[::1]:0\"\nplain_http = true\n")).empty());
}

TEST(ValidateEffective, PlainHttpOnRoutableAddressIsAnError) {
  const auto errors =
      validate_effective(parsed("[server]\nlisten = \"0.0.0.0:8080\"\nplain_http = true\n"));
  ASSERT_EQ(errors.size(), 1u) << all_errors(errors);
  EXPECT_EQ(errors[0].to_string(),
            "/etc/idbridge/idbridge.toml:3:14: server.plain_http: plain_http is allowed only on "
            "a loopback address; listen is 0.0.0.0:8080");
}

TEST(ValidateEffective, TlsIsRequiredWithoutPlainHttp) {
  const auto errors = validate_effective(parsed("[server]\nlisten = \"127.0.0.1:8443\"\n"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_EQ(errors[0].key_path, "server");
  EXPECT_THAT(errors[0].message, HasSubstr("TLS is required"));

  const auto defaults = validate_effective(parsed(""));
  ASSERT_EQ(defaults.size(), 1u);
  EXPECT_EQ(defaults[0].to_string(),
            "/etc/idbridge/idbridge.toml: server: TLS is required: set tls_certificate and "
            "tls_private_key (or plain_http = true on a loopback address, for development)");
}

TEST(ValidateEffective, TlsWithPlainHttpIsAContradiction) {
  const auto errors = validate_effective(parsed(R"([server]
listen = "127.0.0.1:8080"
plain_http = true
tls_certificate = "c.pem"
tls_private_key = { file = "k.pem" }
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_EQ(errors[0].key_path, "server.tls_certificate");
}

TEST(ValidateEffective, TlsOnRoutableAddressIsFine) {
  EXPECT_TRUE(validate_effective(parsed(R"([server]
listen = "0.0.0.0:8443"
tls_certificate = "c.pem"
tls_private_key = { env = "KEY" }
)"))
                  .empty());
}

TEST(ApplyOverrides, ListenFromCommandLineIsCheckedAndBlamed) {
  Config config = parsed("[server]\nlisten = \"127.0.0.1:8080\"\nplain_http = true\n");
  ASSERT_TRUE(apply_overrides(config, Overrides{"0.0.0.0:9000", std::nullopt}).empty());
  EXPECT_EQ(config.server.listen.port, 9000);
  const auto errors = validate_effective(config);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].to_string(), HasSubstr("listen is 0.0.0.0:9000"));

  const auto bad = apply_overrides(config, Overrides{"nope", std::nullopt});
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].to_string(),
            "command line: --listen: expected HOST:PORT or [IPV6]:PORT with a port from 0 to "
            "65535");
}

TEST(ApplyOverrides, StateDirMovesRelativeStorePath) {
  Config config = parsed("[store]\npath = \"db/x.db\"\n");
  ASSERT_TRUE(apply_overrides(config, Overrides{std::nullopt, "/tmp/state"}).empty());
  EXPECT_EQ(config.state_dir, "/tmp/state");
  EXPECT_EQ(config.store.sqlite_path, "/tmp/state/db/x.db");

  Config absolute = parsed("[store]\npath = \"/data/x.db\"\n");
  ASSERT_TRUE(apply_overrides(absolute, Overrides{std::nullopt, "/tmp/state"}).empty());
  EXPECT_EQ(absolute.store.sqlite_path, "/data/x.db");

  EXPECT_EQ(apply_overrides(absolute, Overrides{std::nullopt, "relative"}).size(), 1u);
}

TEST(ConfigError, Formats) {
  EXPECT_EQ((ConfigError{"f.toml", 3, 7, "a.b", "bad"}).to_string(), "f.toml:3:7: a.b: bad");
  EXPECT_EQ((ConfigError{"f.toml", 0, 0, "", "bad"}).to_string(), "f.toml: bad");
}

// JWT issuers.

TEST(ParseConfig, ReadsJwtIssuers) {
  const LoadResult result = parse_config(R"([[provider.jwt_issuers]]
name = "provider-automation"
issuer = "https://idp.example.com"
audience = "idbridge"
jwks_file = "/etc/idbridge/idp.jwks.json"
algorithms = ["ES256"]
role_ceiling = "accountOwner"
read_only = true
clock_skew_seconds = 0

[tenants.acme]

[[tenants.acme.jwt_issuers]]
name = "acme-entra"
issuer = "https://sts.windows.net/00000000-1111-2222-3333-444444444444/"
audience = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
jwks_file = "keys/entra.json"
)",
                                         "/etc/idbridge/conf.d/x.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  const Config& config = *result.config;
  ASSERT_EQ(config.provider_jwt_issuers.size(), 1u);
  const JwtIssuerConfig& provider = config.provider_jwt_issuers[0];
  EXPECT_EQ(provider.name, "provider-automation");
  EXPECT_EQ(provider.issuer, "https://idp.example.com");
  EXPECT_EQ(provider.audience, "idbridge");
  EXPECT_EQ(provider.jwks_file, "/etc/idbridge/idp.jwks.json");
  EXPECT_EQ(provider.algorithms, std::vector<std::string>{"ES256"});
  EXPECT_EQ(provider.role_ceiling, core::Role::account_owner);
  EXPECT_TRUE(provider.read_only);
  EXPECT_EQ(provider.clock_skew, std::chrono::seconds(0));
  EXPECT_EQ(provider.jwks_where.line, 5);
  EXPECT_EQ(provider.jwks_key_path, "provider.jwt_issuers[0].jwks_file");

  ASSERT_EQ(config.tenants.size(), 1u);
  ASSERT_EQ(config.tenants[0].jwt_issuers.size(), 1u);
  const JwtIssuerConfig& entra = config.tenants[0].jwt_issuers[0];
  EXPECT_EQ(entra.name, "acme-entra");
  EXPECT_EQ(entra.jwks_file, "/etc/idbridge/conf.d/keys/entra.json");  // relative to the file
  EXPECT_EQ(entra.algorithms, (std::vector<std::string>{"RS256", "ES256"}));
  EXPECT_EQ(entra.role_ceiling, core::Role::standard_user);
  EXPECT_FALSE(entra.read_only);
  EXPECT_EQ(entra.clock_skew, std::chrono::seconds(60));
  EXPECT_EQ(entra.jwks_key_path, "tenants.acme.jwt_issuers[0].jwks_file");
}

// Each entry holds exactly one problem; the issuer tables are otherwise complete.
#define JWT_ISSUER(extra)                                             \
  "[[tenants.a.jwt_issuers]]\nname = \"j\"\nissuer = \"https://i\"\n" \
  "audience = \"aud\"\njwks_file = \"k.json\"\n" extra
const ErrorCase jwt_error_cases[] = {
    {"unknown_key", JWT_ISSUER("algorithm = [\"RS256\"]\n"), 6,
     "tenants.a.jwt_issuers[0].algorithm", "did you mean \"algorithms\"?"},
    {"missing_issuer",
     "[[provider.jwt_issuers]]\nname = \"j\"\naudience = \"a\"\njwks_file = \"k\"\n", 1,
     "provider.jwt_issuers[0].issuer", "required key is missing"},
    {"missing_audience",
     "[[provider.jwt_issuers]]\nname = \"j\"\nissuer = \"i\"\njwks_file = \"k\"\n", 1,
     "provider.jwt_issuers[0].audience", "required key is missing"},
    {"missing_jwks_file",
     "[[provider.jwt_issuers]]\nname = \"j\"\nissuer = \"i\"\naudience = \"a\"\n", 1,
     "provider.jwt_issuers[0].jwks_file", "required key is missing"},
    {"missing_name",
     "[[provider.jwt_issuers]]\nissuer = \"i\"\naudience = \"a\"\njwks_file = \"k\"\n", 1,
     "provider.jwt_issuers[0].name", "required key is missing"},
    {"audience_wrong_type",
     "[[provider.jwt_issuers]]\nname = \"j\"\nissuer = \"i\"\naudience = 1\njwks_file = \"k\"\n", 4,
     "provider.jwt_issuers[0].audience", "expected string, found integer"},
    {"issuer_empty",
     "[[provider.jwt_issuers]]\nname = \"j\"\nissuer = \"\"\naudience = \"a\"\njwks_file = \"k\"\n",
     3, "provider.jwt_issuers[0].issuer", "non-empty"},
    {"jwks_file_empty",
     "[[provider.jwt_issuers]]\nname = \"j\"\nissuer = \"i\"\naudience = \"a\"\njwks_file = \"\"\n",
     5, "provider.jwt_issuers[0].jwks_file", "file path is empty"},
    {"algorithms_not_array", JWT_ISSUER("algorithms = \"RS256\"\n"), 6,
     "tenants.a.jwt_issuers[0].algorithms", "expected array of strings, found string"},
    {"algorithms_empty", JWT_ISSUER("algorithms = []\n"), 6, "tenants.a.jwt_issuers[0].algorithms",
     "algorithms is empty"},
    {"algorithm_hs256", JWT_ISSUER("algorithms = [\"RS256\", \"HS256\"]\n"), 6,
     "tenants.a.jwt_issuers[0].algorithms[1]", "unsupported algorithm \"HS256\""},
    {"algorithm_none", JWT_ISSUER("algorithms = [\"none\"]\n"), 6,
     "tenants.a.jwt_issuers[0].algorithms[0]", "unsupported algorithm"},
    {"algorithm_twice", JWT_ISSUER("algorithms = [\"ES256\", \"ES256\"]\n"), 6,
     "tenants.a.jwt_issuers[0].algorithms[1]", "listed twice"},
    {"algorithm_not_string", JWT_ISSUER("algorithms = [256]\n"), 6,
     "tenants.a.jwt_issuers[0].algorithms[0]", "expected string, found integer"},
    {"clock_skew_too_large", JWT_ISSUER("clock_skew_seconds = 601\n"), 6,
     "tenants.a.jwt_issuers[0].clock_skew_seconds", "between 0 and 600"},
    {"clock_skew_negative", JWT_ISSUER("clock_skew_seconds = -1\n"), 6,
     "tenants.a.jwt_issuers[0].clock_skew_seconds", "between 0 and 600"},
    {"role_ceiling_unknown", JWT_ISSUER("role_ceiling = \"root\"\n"), 6,
     "tenants.a.jwt_issuers[0].role_ceiling", "unknown role"},
    {"read_only_wrong_type", JWT_ISSUER("read_only = 1\n"), 6, "tenants.a.jwt_issuers[0].read_only",
     "expected boolean"},
    {"not_array_of_tables", "[provider]\njwt_issuers = 1\n", 2, "provider.jwt_issuers",
     "expected array of tables"},
    {"name_used_by_a_credential",
     "[[provider.credentials]]\nname = \"j\"\ntoken = { env = \"T\" }\n" JWT_ISSUER(""), 5,
     "tenants.a.jwt_issuers[0].name", "already used at /etc/idbridge/test.toml:2:8"},
    {"same_issuer_and_audience_twice",
     "[[provider.jwt_issuers]]\nname = \"p\"\nissuer = \"https://i\"\naudience = \"aud\"\n"
     "jwks_file = \"p.json\"\n" JWT_ISSUER(""),
     8, "tenants.a.jwt_issuers[0].issuer", "same as at /etc/idbridge/test.toml:3:10"},
};
#undef JWT_ISSUER

INSTANTIATE_TEST_SUITE_P(JwtIssuers, ConfigErrorClass, ::testing::ValuesIn(jwt_error_cases),
                         [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(ParseConfig, SameIssuerWithAnotherAudienceIsFine) {
  const LoadResult result = parse_config(R"([[provider.jwt_issuers]]
name = "a"
issuer = "https://i"
audience = "one"
jwks_file = "k.json"

[[provider.jwt_issuers]]
name = "b"
issuer = "https://i"
audience = "two"
jwks_file = "k.json"
)",
                                         "/etc/idbridge/x.toml");
  EXPECT_TRUE(result.config) << all_errors(result.errors);
}

}  // namespace
}  // namespace idbridge::config

// --- [directories.NAME] ------------------------------------------------------------------------

namespace idbridge::config {
namespace {

constexpr const char* directory_config = R"toml([tenants.acme]
[[tenants.acme.profiles]]
name = "helpdesk"
rights = ["users.read"]

[directories.corp]
tenant = "acme"
kind = "openldap"
uri = "ldap://ldap.example.com:389"
start_tls = true
ca_file = "ca.pem"
bind_dn = "cn=idbridge,dc=example,dc=com"
bind_password = { file = "ldap.password" }
page_size = 250
timeout_seconds = 15
change_detection = "modify_timestamp"
group_base_dns = ["ou=groups,dc=example,dc=com"]
group_filter = "(objectClass=groupOfUniqueNames)"

[directories.corp.users]
base_dns = ["ou=people,dc=example,dc=com", "ou=staff,dc=example,dc=com"]
anchor_attribute = "entryUUID"
attributes = { userName = "{uid}", displayName = "{givenName} {sn}", emails.primary = "{mail}" }

[[directories.corp.roles]]
group = "cn=admins,ou=groups,dc=example,dc=com"
role = "administrator"
precedence = 10

[[directories.corp.profiles]]
group = "helpdesk"
profile = "helpdesk"

[[directories.corp.groups]]
group = "sales"
tenant_group = "Sales"
kind = "team"

[directories.corp.disabled]
kind = "attribute_equals"
attribute = "employeeStatus"
value = "terminated"

[directories.corp.safety]
max_disables = 5
max_disable_percent = 2.5
max_deletes = 3
max_delete_percent = 1
retention_days = 7
)toml";

TEST(ParseDirectories, ReadsEveryKey) {
  const LoadResult result = parse_config(directory_config, "/etc/idbridge/idbridge.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  ASSERT_EQ(result.config->directories.size(), 1u);
  const DirectoryConfig& d = result.config->directories[0];
  EXPECT_EQ(result.config->find_directory("corp"), &d);
  EXPECT_EQ(result.config->find_directory("other"), nullptr);
  EXPECT_EQ(d.name, "corp");
  EXPECT_EQ(d.tenant.str(), "acme");
  EXPECT_EQ(d.kind, DirectoryKind::openldap);
  EXPECT_EQ(d.uri, "ldap://ldap.example.com:389");
  EXPECT_TRUE(d.start_tls);
  EXPECT_TRUE(d.verify_certificate);
  EXPECT_EQ(d.ca_file, "/etc/idbridge/ca.pem");
  EXPECT_EQ(d.bind_dn, "cn=idbridge,dc=example,dc=com");
  ASSERT_TRUE(d.bind_password);
  EXPECT_EQ(d.bind_password->kind, SecretRef::Kind::file);
  EXPECT_EQ(d.bind_password->name, "/etc/idbridge/ldap.password");
  EXPECT_EQ(d.page_size, 250);
  EXPECT_EQ(d.timeout, std::chrono::seconds(15));
  EXPECT_EQ(d.change_detection, ChangeDetection::modify_timestamp);
  EXPECT_EQ(d.group_base_dns, std::vector<std::string>{"ou=groups,dc=example,dc=com"});
  EXPECT_EQ(d.group_filter, "(objectClass=groupOfUniqueNames)");
  EXPECT_EQ(d.user_base_dns, (std::vector<std::string>{"ou=people,dc=example,dc=com",
                                                       "ou=staff,dc=example,dc=com"}));
  EXPECT_EQ(d.user_filter, "(objectClass=inetOrgPerson)");
  EXPECT_EQ(d.anchor_attribute, "entryUUID");
  ASSERT_EQ(d.rules.attributes.size(), 3u);
  std::map<std::string, std::string> mapped;
  for (const auto& mapping : d.rules.attributes) {
    mapped[mapping.target] = mapping.value;
  }
  EXPECT_EQ(mapped["userName"], "{uid}");
  EXPECT_EQ(mapped["displayName"], "{givenName} {sn}");
  EXPECT_EQ(mapped["emails.primary"], "{mail}");
  ASSERT_EQ(d.rules.roles.size(), 1u);
  EXPECT_EQ(d.rules.roles[0].group, "cn=admins,ou=groups,dc=example,dc=com");
  EXPECT_EQ(d.rules.roles[0].role, core::Role::administrator);
  EXPECT_EQ(d.rules.roles[0].precedence, 10);
  ASSERT_EQ(d.rules.profiles.size(), 1u);
  EXPECT_EQ(d.rules.profiles[0].profile, "helpdesk");
  ASSERT_EQ(d.rules.groups.size(), 1u);
  EXPECT_EQ(d.rules.groups[0].tenant_group, "Sales");
  EXPECT_EQ(d.rules.groups[0].kind, core::GroupKind::team);
  EXPECT_EQ(d.rules.disabled.kind, core::sync::DisabledRule::Kind::attribute_equals);
  EXPECT_EQ(d.rules.disabled.attribute, "employeeStatus");
  EXPECT_EQ(d.rules.disabled.value, "terminated");
  EXPECT_EQ(d.policy.disables.max_count, 5u);
  EXPECT_DOUBLE_EQ(d.policy.disables.max_fraction, 0.025);
  EXPECT_EQ(d.policy.deletes.max_count, 3u);
  EXPECT_DOUBLE_EQ(d.policy.deletes.max_fraction, 0.01);
  EXPECT_EQ(d.policy.retention, std::chrono::hours(24 * 7));
}

TEST(ParseDirectories, DefaultsFollowTheKind) {
  const LoadResult result = parse_config(R"([tenants.acme]
[directories.ad]
tenant = "acme"
kind = "active_directory"
uri = "ldaps://dc1.example.com"
verify_certificate = false
[directories.ad.users]
base_dns = ["DC=example,DC=com"]
attributes = { userName = "{sAMAccountName}" }
[directories.ad.disabled]
kind = "ad_account_disabled"
)",
                                         "/etc/idbridge/idbridge.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  const DirectoryConfig& d = result.config->directories.at(0);
  EXPECT_EQ(d.kind, DirectoryKind::active_directory);
  EXPECT_EQ(d.user_filter, "(&(objectCategory=person)(objectClass=user))");
  EXPECT_EQ(d.anchor_attribute, "objectGUID");
  EXPECT_EQ(d.change_detection, ChangeDetection::usn_changed);
  EXPECT_FALSE(d.persist);
  EXPECT_TRUE(d.group_base_dns.empty());
  EXPECT_EQ(d.group_filter, "(objectClass=group)");
  EXPECT_FALSE(d.verify_certificate);
  EXPECT_EQ(d.verify_certificate_where.line, 6);
  EXPECT_FALSE(d.bind_password);
  EXPECT_EQ(d.page_size, 500);
  EXPECT_EQ(d.timeout, std::chrono::seconds(30));
  EXPECT_EQ(d.rules.disabled.kind, core::sync::DisabledRule::Kind::ad_account_disabled);
  const core::sync::Policy defaults;
  EXPECT_EQ(d.policy.disables.max_count, defaults.disables.max_count);
  EXPECT_EQ(d.policy.retention, defaults.retention);
}

#define DIRECTORY(extra, users)                                                                \
  "[tenants.acme]\n"                                                                           \
  "[directories.corp]\ntenant = \"acme\"\nkind = \"openldap\"\nuri = \"ldap://h:389\"\n" extra \
  "[directories.corp.users]\nbase_dns = [\"ou=people,dc=x\"]\n" users

const ErrorCase directory_error_cases[] = {
    {"unknown_tenant",
     "[tenants.acme]\n[directories.corp]\ntenant = \"nope\"\nkind = \"openldap\"\n"
     "uri = \"ldap://h\"\n[directories.corp.users]\nbase_dns = [\"dc=x\"]\n"
     "attributes = { userName = \"{uid}\" }\n",
     3, "directories.corp.tenant", "not configured"},
    {"unknown_kind",
     "[tenants.acme]\n[directories.corp]\ntenant = \"acme\"\nkind = \"novell\"\n"
     "uri = \"ldap://h\"\n[directories.corp.users]\nbase_dns = [\"dc=x\"]\n"
     "attributes = { userName = \"{uid}\" }\n",
     4, "directories.corp.kind", "expected \"openldap\" or \"active_directory\""},
    {"inline_bind_password",
     DIRECTORY("bind_dn = \"cn=a,dc=x\"\nbind_password = \"hunter2\"\n",
               "attributes = { userName = \"{uid}\" }\n"),
     7, "directories.corp.bind_password", "inline secret not allowed"},
    {"bind_dn_without_password",
     DIRECTORY("bind_dn = \"cn=a,dc=x\"\n", "attributes = { userName = \"{uid}\" }\n"), 2,
     "directories.corp.bind_password", "required key is missing"},
    {"unknown_change_detection",
     DIRECTORY("change_detection = \"dirsync\"\n", "attributes = { userName = \"{uid}\" }\n"), 6,
     "directories.corp.change_detection", "expected \"full\", \"content_sync\""},
    {"usn_changed_on_openldap",
     DIRECTORY("change_detection = \"usn_changed\"\n", "attributes = { userName = \"{uid}\" }\n"),
     6, "directories.corp.change_detection", "needs kind = \"active_directory\""},
    {"content_sync_without_entry_uuid",
     DIRECTORY("change_detection = \"content_sync\"\n",
               "anchor_attribute = \"uid\"\nattributes = { userName = \"{uid}\" }\n"),
     6, "directories.corp.change_detection", "needs users.anchor_attribute = \"entryUUID\""},
    {"persist_with_modify_timestamp",
     DIRECTORY("change_detection = \"modify_timestamp\"\npersist = true\n",
               "attributes = { userName = \"{uid}\" }\n"),
     7, "directories.corp.persist", "needs change_detection = \"content_sync\""},
    {"persist_not_boolean",
     DIRECTORY("persist = \"yes\"\n", "attributes = { userName = \"{uid}\" }\n"), 6,
     "directories.corp.persist", "expected boolean, found string"},
    {"group_filter_not_a_filter",
     DIRECTORY("group_filter = \"objectClass=group\"\n", "attributes = { userName = \"{uid}\" }\n"),
     6, "directories.corp.group_filter", "not an LDAP filter"},
    {"unknown_directory_key",
     DIRECTORY("pagesize = 10\n", "attributes = { userName = \"{uid}\" }\n"), 6,
     "directories.corp.pagesize", "did you mean \"page_size\""},
    {"verify_certificate_not_boolean",
     DIRECTORY("verify_certificate = \"no\"\n", "attributes = { userName = \"{uid}\" }\n"), 6,
     "directories.corp.verify_certificate", "expected boolean, found string"},
    {"bad_uri",
     "[tenants.acme]\n[directories.corp]\ntenant = \"acme\"\nkind = \"openldap\"\n"
     "uri = \"http://h\"\n[directories.corp.users]\nbase_dns = [\"dc=x\"]\n"
     "attributes = { userName = \"{uid}\" }\n",
     5, "directories.corp.uri", "expected ldap://HOST:PORT"},
    {"page_size_zero", DIRECTORY("page_size = 0\n", "attributes = { userName = \"{uid}\" }\n"), 6,
     "directories.corp.page_size", "between 1 and 100000"},
    {"unknown_target",
     DIRECTORY("", "attributes = { userName = \"{uid}\", shoeSize = \"{shoe}\" }\n"), 8,
     "directories.corp.users.attributes.shoeSize", "unknown mapping target \"shoeSize\""},
    {"unknown_dotted_target",
     DIRECTORY("", "attributes = { userName = \"{uid}\", emails.tertiary = \"{mail}\" }\n"), 8,
     "directories.corp.users.attributes.emails.tertiary", "unknown mapping target"},
    {"user_name_required", DIRECTORY("", "attributes = { displayName = \"{cn}\" }\n"), 8,
     "directories.corp.users.attributes", "must map userName"},
    {"template_without_attribute", DIRECTORY("", "attributes = { userName = \"admin\" }\n"), 8,
     "directories.corp.users.attributes.userName", "names no attribute"},
    {"bad_filter",
     DIRECTORY("", "filter = \"objectClass=person\"\nattributes = { userName = \"{uid}\" }\n"), 8,
     "directories.corp.users.filter", "not an LDAP filter"},
    {"role_unknown",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[[directories.corp.roles]]\ngroup = \"admins\"\nrole = \"boss\"\n"
               "precedence = 1\n"),
     11, "directories.corp.roles[0].role", "unknown role"},
    {"role_without_precedence",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[[directories.corp.roles]]\ngroup = \"admins\"\nrole = \"administrator\"\n"),
     9, "directories.corp.roles[0].precedence", "required key is missing"},
    {"profile_not_defined",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[[directories.corp.profiles]]\ngroup = \"g\"\nprofile = \"nope\"\n"),
     11, "directories.corp.profiles[0].profile", "not defined in tenants.acme.profiles"},
    {"group_kind_unknown",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[[directories.corp.groups]]\ngroup = \"g\"\ntenant_group = \"G\"\n"
               "kind = \"club\"\n"),
     12, "directories.corp.groups[0].kind", "unknown group kind"},
    {"disabled_equals_without_value",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[directories.corp.disabled]\nkind = \"attribute_equals\"\n"
               "attribute = \"status\"\n"),
     9, "directories.corp.disabled.value", "required key is missing"},
    {"ad_disabled_on_openldap",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[directories.corp.disabled]\nkind = \"ad_account_disabled\"\n"),
     10, "directories.corp.disabled.kind", "needs kind = \"active_directory\""},
    {"percent_out_of_range",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[directories.corp.safety]\nmax_delete_percent = 150\n"),
     10, "directories.corp.safety.max_delete_percent", "percentage from 0 to 100"},
    {"unknown_safety_key",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n"
               "[directories.corp.safety]\nmax_delete = 1\n"),
     10, "directories.corp.safety.max_delete", "did you mean \"max_deletes\""},
    {"unknown_users_key",
     DIRECTORY("", "attributes = { userName = \"{uid}\" }\n") "[directories.corp.users.extra]\n", 9,
     "directories.corp.users.extra", "unknown key"},
    {"writeback_unknown_operation",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\" }\n") "[directories.corp.writeback]"
                                                          "\noperations = [\"modify\", \"sync\"]\n",
     10, "directories.corp.writeback.operations", "expected create, modify"},
    {"writeback_create_needs_user_dn",
     DIRECTORY(
         "", "attributes = { userName = \"{uid}\" }\n") "[directories.corp.writeback]\noperations "
                                                        "= [\"create\"]\nobject_classes = "
                                                        "[\"person\"]\n",
     10, "directories.corp.writeback.operations", "create needs user_dn"},
    {"authority_scim_for_a_template",
     DIRECTORY("",
               "attributes = { userName = \"{uid}\", displayName = \"{givenName} {sn}\" "
               "}\n") "[directories.corp.authority]\ndisplayName = \"scim\"\n",
     10, "directories.corp.authority.displayName", "template of several attributes"},
    {"authority_of_an_unmapped_attribute",
     DIRECTORY("", "attributes = { userName = \"{uid}\" }\n") "[directories.corp.authority]"
                                                              "\ntitle = \"scim\"\n",
     10, "directories.corp.authority.title", "not mapped from this directory"},
    {"authority_unknown_owner",
     DIRECTORY("", "attributes = { userName = \"{uid}\" }\n") "[directories.corp.authority]"
                                                              "\nuserName = \"okta\"\n",
     10, "directories.corp.authority.userName", "expected directory, scim or tenant"},
};

TEST(ParseDirectories, ReadsWriteBackAndAuthority) {
  const LoadResult result = parse_config(
      DIRECTORY("", "attributes = { userName = \"{uid}\", title = \"{title}\", "
                    "\"name.familyName\" = \"{sn}\", displayName = \"{givenName} {sn}\" }\n")
      "[directories.corp.disabled]\nkind = \"attribute_equals\"\nattribute = \"employeeType\"\n"
      "value = \"disabled\"\n"
      "[[directories.corp.groups]]\ngroup = \"cn=staff,ou=groups,dc=x\"\ntenant_group = \"Staff\"\n"
      "[[directories.corp.groups]]\ngroup = \"sales\"\ntenant_group = \"Sales\"\n"
      "[directories.corp.writeback]\n"
      "operations = [\"create\", \"modify\", \"disable\", \"remove\", \"groups\"]\n"
      "user_dn = \"uid={userName},ou=people,dc=x\"\nobject_classes = [\"inetOrgPerson\"]\n"
      "accept_scim_writes = [\"name.familyName\"]\ndisable = \"attribute\"\n"
      "disable_attribute = \"employeeType\"\ndisabled_value = \"disabled\"\n"
      "move_deleted_to = \"ou=gone,dc=x\"\nmax_attempts = 3\npoll_interval_seconds = 30\n"
      "[directories.corp.writeback.create_attributes]\ncn = \"{displayName}\"\n"
      "[directories.corp.authority]\ntitle = \"scim\"\n",
      "/etc/idbridge/idbridge.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  const auto& d = result.config->directories.at(0);
  const auto& policy = d.writeback;
  EXPECT_EQ(policy.directory, "corp");
  EXPECT_EQ(policy.tenant.str(), "acme");
  EXPECT_TRUE(policy.operations.create && policy.operations.modify && policy.operations.disable &&
              policy.operations.remove && policy.operations.groups);
  EXPECT_FALSE(policy.operations.rename || policy.operations.password);
  EXPECT_EQ(policy.user_dn_template, "uid={userName},ou=people,dc=x");
  EXPECT_EQ(policy.object_classes, std::vector<std::string>{"inetOrgPerson"});
  EXPECT_EQ(policy.create_attributes.size(), 1U);
  EXPECT_EQ(policy.disable.kind, core::writeback::DisableMethod::Kind::attribute);
  EXPECT_EQ(policy.disable.attribute, "employeeType");
  EXPECT_EQ(policy.move_deleted_to, "ou=gone,dc=x");
  EXPECT_EQ(policy.max_attempts, 3);
  EXPECT_EQ(d.writeback_poll_interval, std::chrono::seconds(30));
  ASSERT_NE(policy.binding("title"), nullptr);
  EXPECT_EQ(policy.binding("title")->owner, core::writeback::Authority::scim);
  EXPECT_EQ(policy.binding("title")->attribute, "title");
  EXPECT_EQ(policy.binding("displayName")->attribute, "") << "a template is not writable";
  EXPECT_EQ(policy.binding("displayName")->owner, core::writeback::Authority::directory);
  EXPECT_TRUE(policy.binding("name.familyName")->accept_scim_writes);
  ASSERT_NE(policy.binding("active"), nullptr);
  EXPECT_TRUE(policy.binding("active")->accept_scim_writes) << "disable write-back takes active";
  EXPECT_EQ(policy.rule_managed_groups, (std::vector<std::string>{"Staff", "Sales"}));
  ASSERT_EQ(policy.group_bindings.size(), 1U) << "only a rule naming a DN can be written to";
  EXPECT_EQ(policy.group_bindings[0].directory_dn, "cn=staff,ou=groups,dc=x");
  EXPECT_EQ(d.rules.set_on_create_only, std::vector<std::string>{"title"});
  EXPECT_EQ(d.rules.corrected_in_directory, std::vector<std::string>{"title"})
      << "scim-owned and modify write-back on: directory edits are corrected";
}

TEST(ParseDirectories, PersistNeedsContentSync) {
  // content_sync is the default for OpenLDAP with entryUUID anchors.
  const LoadResult result =
      parse_config(DIRECTORY("persist = true\n", "attributes = { userName = \"{uid}\" }\n"),
                   "/etc/idbridge/idbridge.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  EXPECT_TRUE(result.config->directories.at(0).persist);
  EXPECT_EQ(result.config->directories.at(0).change_detection, ChangeDetection::content_sync);
}
#undef DIRECTORY

INSTANTIATE_TEST_SUITE_P(Directories, ConfigErrorClass, ::testing::ValuesIn(directory_error_cases),
                         [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(ParseDirectories, MissingUsersTableIsReported) {
  const LoadResult result = parse_config(
      "[tenants.acme]\n[directories.corp]\ntenant = \"acme\"\nkind = \"openldap\"\n"
      "uri = \"ldap://h\"\n",
      "/etc/idbridge/x.toml");
  ASSERT_FALSE(result.config);
  EXPECT_THAT(all_errors(result.errors), HasSubstr("directories.corp.users: required key"));
}

TEST(CheckSecrets, ReportsAnUnreadableBindPassword) {
  const LoadResult result = parse_config(
      "[tenants.acme]\n[directories.corp]\ntenant = \"acme\"\nkind = \"openldap\"\n"
      "uri = \"ldap://h\"\nbind_dn = \"cn=a,dc=x\"\n"
      "bind_password = { env = \"IDBRIDGE_TEST_NO_SUCH_VARIABLE\" }\n"
      "[directories.corp.users]\nbase_dns = [\"dc=x\"]\nattributes = { userName = \"{uid}\" }\n",
      "/etc/idbridge/x.toml");
  ASSERT_TRUE(result.config) << all_errors(result.errors);
  const auto errors = check_secrets(*result.config);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key_path, "directories.corp.bind_password");
  EXPECT_EQ(errors[0].line, 7);
}

}  // namespace
}  // namespace idbridge::config
