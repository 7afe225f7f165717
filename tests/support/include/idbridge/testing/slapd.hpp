// A private slapd for component tests: its own slapd.conf, mdb database and loopback port(s)
// inside a TempDir, never the system instance. It can load LDIF, be stopped (SIGTERM) or killed
// (SIGKILL) and started again on the same data and ports.
#pragma once

#include "idbridge/testing/process.hpp"
#include "idbridge/testing/test_pki.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::testing {

class TempDir;

struct SlapdOptions {
  std::string suffix = "dc=example,dc=com";
  std::string root_dn = "cn=admin,dc=example,dc=com";  // never subject to size limits
  std::string root_password = "admin-secret";
  // `sizelimit N` for every identity except the rootdn (slapd's default is 500).
  std::optional<int> size_limit;
  // Database `limits` lines without the keyword, e.g. "anonymous size.prtotal=1000".
  std::vector<std::string> limits;
  // With a PKI: an ldaps:// listener on a second port and StartTLS on the first.
  std::optional<TestPki> tls;
  std::string tls_verify_client = "never";  // "try"/"demand" for client certificates
  bool ad_schema = false;                   // include tests/support/ldap/ad.schema
  // Group class the memberof overlay maintains memberOf for ("group" with the AD schema).
  std::string memberof_group_class = "groupOfNames";
  // Extra lines at the end of the database section (access rules, indexes...).
  std::vector<std::string> database_lines;
  // Add the suffix entry (dcObject + organization) after the first start.
  bool create_suffix = true;
  // The syncprov overlay (RFC 4533 content sync); false: a server without it.
  bool syncprov = true;
  // `syncprov-sessionlog N`: syncprov remembers the last N deletes and modifies, so a content
  // sync from a recent cookie answers with a delete phase instead of a present phase.
  std::optional<int> syncprov_sessionlog;
  // LDIF (starting with "dn:") of extra root DSE attributes (slapd's `rootDSE` directive), e.g.
  // AD's highestCommittedUSN and dsServiceName with the AD schema. Empty: none.
  std::string root_dse_ldif;
};

class Slapd {
 public:
  // Writes slapd.conf under `dir`/slapd, starts slapd on free 127.0.0.1 ports and waits until
  // it answers. Throws std::runtime_error (with slapd's output) when it does not.
  explicit Slapd(const TempDir& dir, SlapdOptions options = {});
  ~Slapd();  // SIGKILL
  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;

  std::string uri() const;        // ldap://127.0.0.1:port/
  std::string ldaps_uri() const;  // ldaps://127.0.0.1:tls_port/ (only with options.tls)
  std::uint16_t port() const { return port_; }
  const SlapdOptions& options() const { return options_; }
  std::string config_path() const { return config_path_; }

  // ldapadd as the rootdn; throws std::runtime_error with ldapadd's output on failure.
  void add_ldif(std::string_view ldif) const;
  // ldapmodify as the rootdn (changetype records); throws like add_ldif.
  void modify_ldif(std::string_view ldif) const;

  // Replaces the root DSE LDIF (see SlapdOptions::root_dse_ldif; it must have been set at
  // construction) and restarts slapd if it runs, since slapd reads the file at start only.
  void set_root_dse(std::string ldif);

  // Starts it again (same config, data and ports) and waits until it answers.
  void start();
  // SIGTERM and wait for a clean exit.
  void stop();
  // SIGKILL: the server vanishes mid-operation, as in a crash.
  void kill();
  bool running() const { return process_ != nullptr; }
  pid_t pid() const;
  std::string output() const;  // slapd's stderr (errors only)

 private:
  void launch(std::chrono::milliseconds timeout);
  void wait_ready(std::chrono::milliseconds timeout);
  void ldap_tool(const std::string& tool, std::string_view ldif) const;

  SlapdOptions options_;
  std::string directory_;
  std::string config_path_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Path of the AD emulation schema shipped in tests/support/ldap/ad.schema.
std::string ad_schema_path();

// A free TCP port on 127.0.0.1 at the time of the call (bind to port 0, read it, close).
std::uint16_t free_loopback_port();

}  // namespace idbridge::testing
