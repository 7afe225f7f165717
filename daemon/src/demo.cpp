// init-demo: the demo configuration, its bearer token and the optional demo directory section.
#include "demo.hpp"

#include "idbridge/config/config.hpp"
#include "idbridge/crypto/crypto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <system_error>

namespace idbridge::daemon {
namespace {

namespace fs = std::filesystem;

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[16];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Writes all of `content` to `fd`, syncs and closes it.
bool write_and_close(int fd, const std::string& content) {
  bool ok = true;
  std::size_t written = 0;
  while (ok && written < content.size()) {
    const auto n = ::write(fd, content.data() + written, content.size() - written);
    ok = n > 0;
    written += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  return ok;
}

// Creates `path` with mode 0600 and writes `content`; fails if it exists.
bool write_private_file(const fs::path& path, const std::string& content, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot create " + path.string() + ": " + std::generic_category().message(errno);
    return false;
  }
  const bool ok = ::fchmod(fd, 0600) == 0 && write_and_close(fd, content);
  if (!ok) {
    error = "cannot write " + path.string();
  }
  return ok;
}

bool append_to_file(const fs::path& path, const std::string& content, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 || !write_and_close(fd, content)) {
    error = "cannot append to " + path.string();
    return false;
  }
  return true;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Prints the loader's errors for `text` (as it would be written to `path`); true when none.
bool loads(const std::string& text, const fs::path& path, std::ostream& err) {
  const auto loaded = config::parse_config(text, path.string());
  for (const auto& error : loaded.errors) {
    err << error.to_string() << '\n';
  }
  return loaded.errors.empty() && loaded.config;
}

}  // namespace

DemoOptions demo_options(const CommandLine& command_line) {
  DemoOptions options;
  options.state_dir = command_line.state_dir.value_or("");
  if (command_line.demo_ldap_uri && command_line.demo_ldap_password_file) {
    options.directory = DemoDirectory{
        *command_line.demo_ldap_uri,
        fs::absolute(*command_line.demo_ldap_password_file).lexically_normal().string()};
  }
  return options;
}

std::string demo_config_text(const std::string& state_dir, const std::string& token_file) {
  return "# Demo configuration written by `idbridged init-demo`: plain HTTP, loopback only.\n"
         "state_dir = " +
         toml_string(state_dir) +
         "\n"
         "\n"
         "[server]\n"
         "listen = \"127.0.0.1:8080\"\n"
         "plain_http = true\n"
         "\n"
         "[logging]\n"
         "level = \"info\"\n"
         "\n"
         "[provider]\n"
         "name = \"demo\"\n"
         "\n"
         "[tenants.demo]\n"
         "display_name = \"Demo\"\n"
         "\n"
         "[[tenants.demo.credentials]]\n"
         "name = \"demo-provisioning\"\n"
         "token = { file = " +
         toml_string(token_file) +
         " }\n"
         "role_ceiling = \"administrator\"\n";
}

std::string demo_directory_text(const DemoDirectory& directory) {
  const std::string groups = kDemoGroupsDn;
  return std::string() +
         "\n"
         "# The demo directory: the private slapd scripts/dev run starts, seeded with\n"
         "# config/examples/demo-directory.ldif. `idbridged sync --config THIS --directory demo`\n"
         "# reads it and applies the changes to tenant demo; the daemon does so on the intervals\n"
         "# below. Plain LDAP is acceptable here only because it never leaves the loopback\n"
         "# interface; see docs/ldap.md.\n"
         "[directories.demo]\n"
         "tenant = \"demo\"\n"
         "kind = \"openldap\"\n"
         "uri = " +
         toml_string(directory.uri) +
         "\n"
         "bind_dn = " +
         toml_string(kDemoBindDn) +
         "\n"
         "bind_password = { file = " +
         toml_string(directory.password_file) +
         " }\n"
         "page_size = 100\n"
         "timeout_seconds = 10\n"
         "# Short intervals, so that a change in the demo directory shows within half a minute.\n"
         "full_sync_interval_seconds = 300\n"
         "incremental_sync_interval_seconds = 30\n"
         "# platform is nested in engineering: its members are in Engineering too.\n"
         "group_base_dns = [" +
         toml_string(groups) +
         "]\n"
         "\n"
         "[directories.demo.users]\n"
         "base_dns = [" +
         toml_string(kDemoPeopleDn) +
         "]\n"
         "filter = \"(objectClass=inetOrgPerson)\"\n"
         "default_role = \"standardUser\"\n"
         "\n"
         "[directories.demo.users.attributes]\n"
         "userName = \"{uid}\"\n"
         "displayName = \"{cn}\"\n"
         "name.givenName = \"{givenName}\"\n"
         "name.familyName = \"{sn}\"\n"
         "emails.primary = \"{mail}\"\n"
         "title = \"{title}\"\n"
         "enterprise.employeeNumber = \"{employeeNumber}\"\n"
         "enterprise.department = \"{departmentNumber}\"\n"
         "\n"
         "# A tenant with users needs exactly one Account Owner: the one member of owners.\n"
         "[[directories.demo.roles]]\n"
         "group = " +
         toml_string("cn=owners," + groups) +
         "\n"
         "role = \"accountOwner\"\n"
         "precedence = 20\n"
         "\n"
         "[[directories.demo.roles]]\n"
         "group = " +
         toml_string("cn=admins," + groups) +
         "\n"
         "role = \"administrator\"\n"
         "precedence = 10\n"
         "\n"
         "[[directories.demo.groups]]\n"
         "group = \"sales\"\n"
         "tenant_group = \"Sales\"\n"
         "kind = \"team\"\n"
         "\n"
         "[[directories.demo.groups]]\n"
         "group = \"support\"\n"
         "tenant_group = \"Support\"\n"
         "kind = \"team\"\n"
         "\n"
         "[[directories.demo.groups]]\n"
         "group = \"engineering\"\n"
         "tenant_group = \"Engineering\"\n"
         "kind = \"team\"\n"
         "\n"
         "[[directories.demo.groups]]\n"
         "group = \"platform\"\n"
         "tenant_group = \"Platform\"\n"
         "kind = \"team\"\n"
         "\n"
         "# The defaults, written out: a run that would disable or delete more users is held\n"
         "# until approved with `idbridged sync --apply PLANFILE`.\n"
         "[directories.demo.safety]\n"
         "max_disables = 50\n"
         "max_disable_percent = 10\n"
         "max_deletes = 50\n"
         "max_delete_percent = 10\n"
         "retention_days = 30\n";
}

int init_demo(const DemoOptions& options, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  const fs::path dir = fs::absolute(options.state_dir, ec).lexically_normal();
  fs::create_directories(dir, ec);
  if (ec) {
    err << "idbridged: cannot create " << dir.string() << ": " << ec.message() << '\n';
    return kExitFailure;
  }
  const fs::path config_path = dir / "idbridged.toml";
  const fs::path token_path = dir / "demo.token";
  const bool config_exists = fs::exists(config_path);
  const std::string directory_text =
      options.directory ? demo_directory_text(*options.directory) : std::string();

  // Everything is checked before anything is written.
  std::string config_text;
  bool append_directory = false;
  if (config_exists) {
    config_text = read_text(config_path);
    const auto loaded = config::parse_config(config_text, config_path.string());
    if (!loaded.errors.empty() || !loaded.config) {
      for (const auto& error : loaded.errors) {
        err << error.to_string() << '\n';
      }
      return kExitFailure;
    }
    append_directory = options.directory && loaded.config->find_directory("demo") == nullptr;
    if (append_directory && !loads(config_text + directory_text, config_path, err)) {
      return kExitFailure;
    }
  } else {
    config_text = demo_config_text(dir.string(), token_path.string()) + directory_text;
    if (!loads(config_text, config_path, err)) {
      return kExitFailure;
    }
  }

  std::string error;
  if (!fs::exists(token_path) &&
      !write_private_file(token_path, crypto::random_token() + "\n", error)) {
    err << "idbridged: " << error << '\n';
    return kExitFailure;
  }
  const bool written = config_exists
                           ? !append_directory || append_to_file(config_path, directory_text, error)
                           : write_private_file(config_path, config_text, error);
  if (!written) {
    err << "idbridged: " << error << '\n';
    return kExitFailure;
  }
  out << config_path.string() << '\n';
  return kExitOk;
}

}  // namespace idbridge::daemon
