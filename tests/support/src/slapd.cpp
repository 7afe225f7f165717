// Slapd: slapd.conf generation, start with a readiness poll (ldapsearch on the root DSE), LDIF
// loading with ldapadd/ldapmodify, SIGTERM/SIGKILL and restart on the same data.
#include "idbridge/testing/slapd.hpp"

#include "idbridge/testing/temp_dir.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace idbridge::testing {
namespace {

constexpr const char* slapd_binary = "/usr/sbin/slapd";
// Debian installs the dynamic backends and overlays here; `moduleload` needs the path.
constexpr const char* module_path = "/usr/lib/ldap";

std::string join_lines(const std::vector<std::string>& lines, std::string_view prefix = {}) {
  std::string text;
  for (const auto& line : lines) {
    text += std::string(prefix) + line + "\n";
  }
  return text;
}

// "dc=example,dc=com" -> "example": the naming attribute value of the suffix entry.
std::string first_rdn_value(const std::string& dn) {
  const auto equals = dn.find('=');
  const auto comma = dn.find(',');
  if (equals == std::string::npos) {
    throw std::invalid_argument("suffix '" + dn + "' is not a DN");
  }
  return dn.substr(equals + 1, comma == std::string::npos ? std::string::npos : comma - equals - 1);
}

std::string config_text(const SlapdOptions& options, const std::string& directory) {
  std::string text =
      "# Written by idbridge::testing::Slapd for one test.\n"
      "include /etc/ldap/schema/core.schema\n"
      "include /etc/ldap/schema/cosine.schema\n"
      "include /etc/ldap/schema/inetorgperson.schema\n"
      "include /etc/ldap/schema/nis.schema\n";
  if (options.ad_schema) {
    text += "include " + ad_schema_path() + "\n";
  }
  if (!options.root_dse_ldif.empty()) {
    text += "rootDSE " + directory + "/rootdse.ldif\n";
  }
  text += "pidfile " + directory + "/slapd.pid\n";
  text += "argsfile " + directory + "/slapd.args\n";
  text += std::string("modulepath ") + module_path + "\n";
  text += "moduleload back_mdb\nmoduleload memberof\nmoduleload refint\nmoduleload syncprov\n";
  if (options.size_limit) {
    text += "sizelimit " + std::to_string(*options.size_limit) + "\n";
  }
  if (options.tls) {
    text += "TLSCACertificateFile " + options.tls->ca_certificate + "\n";
    text += "TLSCertificateFile " + options.tls->server_certificate + "\n";
    text += "TLSCertificateKeyFile " + options.tls->server_key + "\n";
    text += "TLSVerifyClient " + options.tls_verify_client + "\n";
  }
  text += "\ndatabase mdb\n";
  text += "suffix \"" + options.suffix + "\"\n";
  text += "rootdn \"" + options.root_dn + "\"\n";
  text += "rootpw " + options.root_password + "\n";
  text += "directory " + directory + "/db\n";
  text += "maxsize 268435456\n";
  // Tests kill slapd, they do not crash the machine: the page cache keeps what was written.
  text += "dbnosync\n";
  text += "index objectClass eq\nindex uid,cn eq\nindex entryUUID,entryCSN eq\n";
  text += join_lines(options.limits, "limits ");
  text += join_lines(options.database_lines);
  text += "overlay memberof\n";
  text += "memberof-group-oc " + options.memberof_group_class + "\n";
  text += "memberof-refint TRUE\n";
  text += "overlay refint\nrefint_attributes member\n";
  if (options.syncprov) {
    text += "overlay syncprov\nsyncprov-checkpoint 100 10\n";
  }
  if (options.syncprov && options.syncprov_sessionlog) {
    text += "syncprov-sessionlog " + std::to_string(*options.syncprov_sessionlog) + "\n";
  }
  return text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::string ad_schema_path() {
  // This file is tests/support/src/slapd.cpp; the schema ships in tests/support/ldap/.
  const auto path =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "ldap" / "ad.schema";
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error("AD emulation schema not found at " + path.string());
  }
  return path.string();
}

std::uint16_t free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error("socket() failed");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) {
    throw std::runtime_error("cannot find a free loopback port");
  }
  return ntohs(address.sin_port);
}

Slapd::Slapd(const TempDir& dir, SlapdOptions options)
    : options_(std::move(options)), directory_((dir.path() / "slapd").string()) {
  std::filesystem::create_directories(directory_ + "/db");
  config_path_ = dir.write("slapd/slapd.conf", config_text(options_, directory_));
  if (!options_.root_dse_ldif.empty()) {
    dir.write("slapd/rootdse.ldif", options_.root_dse_ldif);
  }
  // Another process can take a port between free_loopback_port() and slapd's bind: retry
  // with fresh ports when that is what went wrong.
  for (int attempt = 1;; ++attempt) {
    port_ = free_loopback_port();
    tls_port_ = options_.tls ? free_loopback_port() : 0;
    try {
      launch(std::chrono::seconds(20));
      break;
    } catch (const std::runtime_error& error) {
      const std::string text = error.what();
      if (attempt == 3 || text.find("Address already in use") == std::string::npos) {
        throw;
      }
    }
  }
  if (options_.create_suffix) {
    add_ldif("dn: " + options_.suffix + "\nobjectClass: dcObject\nobjectClass: organization\ndc: " +
             first_rdn_value(options_.suffix) + "\no: " + first_rdn_value(options_.suffix) + "\n");
  }
}

Slapd::~Slapd() = default;

std::string Slapd::uri() const {
  return "ldap://127.0.0.1:" + std::to_string(port_) + "/";
}

std::string Slapd::ldaps_uri() const {
  if (!options_.tls) {
    throw std::logic_error("Slapd was started without TLS");
  }
  return "ldaps://127.0.0.1:" + std::to_string(tls_port_) + "/";
}

pid_t Slapd::pid() const {
  return process_ ? process_->pid() : -1;
}

std::string Slapd::output() const {
  return process_ ? process_->stderr_text() : std::string();
}

void Slapd::launch(std::chrono::milliseconds timeout) {
  std::string listeners = uri();
  if (options_.tls) {
    listeners += " " + ldaps_uri();
  }
  // `-d none`: stay in the foreground (so the pid is ours to signal) and print only errors.
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{slapd_binary, "-d", "none", "-h", listeners, "-f", config_path_},
      std::vector<std::string>{});
  try {
    wait_ready(timeout);
  } catch (...) {
    process_.reset();
    throw;
  }
}

void Slapd::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto status = process_->wait_exit(std::chrono::milliseconds(0))) {
      throw std::runtime_error("slapd exited (code " + std::to_string(status->code) + ", signal " +
                               std::to_string(status->signal) + ") before answering:\n" +
                               process_->stderr_text() + "\nconfig " + config_path_ + ":\n" +
                               read_text(config_path_));
    }
    const auto probe =
        run_command({"/usr/bin/ldapsearch", "-x", "-LLL", "-H", uri(), "-o", "nettimeout=1", "-l",
                     "2", "-b", "", "-s", "base", "namingContexts"},
                    std::chrono::seconds(5));
    if (probe.status.ok()) {
      return;
    }
    last = probe.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("slapd did not answer on " + uri() + " in time; ldapsearch: " + last +
                           "\nslapd:\n" + process_->stderr_text());
}

void Slapd::ldap_tool(const std::string& tool, std::string_view ldif) const {
  static std::atomic<int> counter{0};
  const auto file = directory_ + "/input-" + std::to_string(++counter) + ".ldif";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << ldif;
  }
  const auto result = run_command(
      {tool, "-x", "-H", uri(), "-D", options_.root_dn, "-w", options_.root_password, "-f", file},
      std::chrono::minutes(5));
  std::filesystem::remove(file);
  if (!result.status.ok()) {
    throw std::runtime_error(tool + " failed (" + std::to_string(result.status.code) +
                             "): " + result.err + result.out.substr(0, 2000));
  }
}

void Slapd::add_ldif(std::string_view ldif) const {
  ldap_tool("/usr/bin/ldapadd", ldif);
}

void Slapd::modify_ldif(std::string_view ldif) const {
  ldap_tool("/usr/bin/ldapmodify", ldif);
}

void Slapd::set_root_dse(std::string ldif) {
  if (options_.root_dse_ldif.empty()) {
    throw std::logic_error("set_root_dse needs SlapdOptions::root_dse_ldif at construction");
  }
  options_.root_dse_ldif = std::move(ldif);
  {
    std::ofstream out(directory_ + "/rootdse.ldif", std::ios::binary | std::ios::trunc);
    out << options_.root_dse_ldif;
  }
  if (process_) {
    stop();
    start();
  }
}

void Slapd::start() {
  if (process_) {
    throw std::logic_error("slapd is already running");
  }
  launch(std::chrono::seconds(20));
}

void Slapd::stop() {
  if (!process_) {
    return;
  }
  process_->send_signal(SIGTERM);
  if (!process_->wait_exit(std::chrono::seconds(20))) {
    process_->send_signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(10));
  }
  process_.reset();
}

void Slapd::kill() {
  if (!process_) {
    return;
  }
  process_->send_signal(SIGKILL);
  process_->wait_exit(std::chrono::seconds(10));
  process_.reset();
}

}  // namespace idbridge::testing
