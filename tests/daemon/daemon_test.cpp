// End-to-end tests of the idbridged binary over 127.0.0.1: health and readiness over plain HTTP
// and TLS, HTTP-layer errors, graceful shutdown, the CLI, and what the logs may contain.
#include "idbridge/testing/http_client.hpp"
#include "idbridge/testing/process.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "idbridge/testing/test_pki.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

namespace idbridge::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = IDBRIDGED_PATH;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

struct ConfigOptions {
  std::string listen = "127.0.0.1:0";
  bool plain_http = true;
  std::optional<TestPki> tls;
  std::string log_level = "info";
  std::string extra_server;  // more lines for [server]
};

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() {
    std::random_device random;
    token_ = "test-token-" + std::to_string(random()) + "-" + std::to_string(random());
    token_file_ = dir_.write("okta.token", token_ + "\n");
    std::filesystem::permissions(
        token_file_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }

  std::string config_toml(const ConfigOptions& options) const {
    std::string toml = "state_dir = \"" + dir_.file("state") + "\"\n\n[server]\n";
    toml += "listen = \"" + options.listen + "\"\n";
    if (options.plain_http) {
      toml += "plain_http = true\n";
    }
    if (options.tls) {
      toml += "tls_certificate = \"" + options.tls->server_certificate + "\"\n";
      toml += "tls_private_key = { file = \"" + options.tls->server_key + "\" }\n";
    }
    toml += "threads = 2\nrequest_timeout_seconds = 10\nshutdown_grace_seconds = 10\n";
    toml += options.extra_server;
    toml += "\n[logging]\nlevel = \"" + options.log_level + "\"\n";
    toml += "\n[tenants.acme]\ndisplay_name = \"Acme\"\n\n[[tenants.acme.credentials]]\n";
    toml += "name = \"okta\"\ntoken = { file = \"" + token_file_ + "\" }\n";
    toml += "role_ceiling = \"administrator\"\n";
    toml += "\n[tenants.beta]\n";
    return toml;
  }

  // Starts the daemon and waits until it listens.
  std::unique_ptr<DaemonProcess> start(const ConfigOptions& options = {},
                                       const std::vector<std::string>& env = {},
                                       const std::vector<std::string>& args = {}) {
    auto daemon = std::make_unique<DaemonProcess>(kBinary, dir_, config_toml(options), args, env);
    port_ = daemon->wait_listening();
    return daemon;
  }

  static void stop_and_expect_clean_exit(DaemonProcess& daemon) {
    daemon.send_signal(SIGTERM);
    const auto status = daemon.wait_exit(15s);
    ASSERT_TRUE(status.has_value()) << "did not exit after SIGTERM\n" << daemon.stderr_text();
    EXPECT_TRUE(status->ok()) << "code " << status->code << " signal " << status->signal << "\n"
                              << daemon.stderr_text();
  }

  TempDir dir_;
  std::string token_;
  std::string token_file_;
  std::uint16_t port_ = 0;
};

// --- health and readiness --------------------------------------------------------------------

void expect_healthy_and_ready(std::uint16_t port, const std::optional<TlsClientOptions>& tls) {
  HttpConnection connection("127.0.0.1", port, tls);
  const auto health = connection.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.header("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(health.body), nlohmann::json({{"status", "ok"}}));
  EXPECT_TRUE(health.keep_alive);

  // Same connection: keep-alive works.
  const auto ready = connection.get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  const auto body = nlohmann::json::parse(ready.body);
  EXPECT_EQ(body.at("status"), "ready");
  EXPECT_EQ(body.at("tenants"),
            nlohmann::json({{"configured", 2}, {"missing", 0}, {"unhealthy", 0}}));
  EXPECT_EQ(ready.body.find("acme"), std::string::npos) << "no tenant ids on an open probe";
}

#ifdef IDBRIDGE_JEMALLOC
// The build links jemalloc into idbridged (CMake IDBRIDGE_JEMALLOC): the allocator serving the
// process must be jemalloc's, not glibc's (a link order or --as-needed could drop it silently).
TEST(DaemonAllocator, TheBinaryRunsOnJemalloc) {
  const auto result = run_command({kBinary, "--version"}, std::chrono::seconds(10),
                                  {"MALLOC_CONF=stats_print:true"});
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_NE(result.err.find("jemalloc statistics"), std::string::npos) << result.err.substr(0, 400);
  // The binary's own options (main.cpp): without this one every write transaction mapped its
  // 16 MiB journal chunk afresh and SCIM writes halved.
  EXPECT_NE(result.err.find("opt.oversize_threshold: 0\n"), std::string::npos)
      << result.err.substr(0, 2000);
  EXPECT_NE(result.err.find("opt.dirty_decay_ms: -1 "), std::string::npos)
      << result.err.substr(0, 2000);
}
#endif

TEST_F(DaemonTest, HealthAndReadinessOverPlainHttp) {
  auto daemon = start();
  expect_healthy_and_ready(port_, std::nullopt);
  stop_and_expect_clean_exit(*daemon);
}

TEST_F(DaemonTest, HealthAndReadinessOverTls) {
  const auto pki = make_test_pki(dir_);
  ConfigOptions options;
  options.plain_http = false;
  options.tls = pki;
  auto daemon = start(options);
  expect_healthy_and_ready(port_, TlsClientOptions{pki.ca_certificate, "localhost"});
  // Host name verification passes for the IP address in the certificate too.
  EXPECT_EQ(http_get(port_, "/healthz", TlsClientOptions{pki.ca_certificate, "127.0.0.1"}).status,
            200);

  // A client that does not trust the test CA fails the handshake.
  TempDir other;
  const auto other_pki = make_test_pki(other);
  EXPECT_THROW(HttpConnection("127.0.0.1", port_, TlsClientOptions{other_pki.ca_certificate}),
               std::system_error);
  // Plain HTTP to the TLS port gets no HTTP answer.
  EXPECT_ANY_THROW(http_get(port_, "/healthz"));
  // The server still serves afterwards.
  EXPECT_EQ(http_get(port_, "/healthz", TlsClientOptions{pki.ca_certificate}).status, 200);
  EXPECT_THAT(daemon->stderr_text(), HasSubstr("\"tls\":true"));
  stop_and_expect_clean_exit(*daemon);
}

// --- HTTP-layer errors -------------------------------------------------------------------------

TEST_F(DaemonTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto daemon = start();
  HttpConnection connection("127.0.0.1", port_);
  const auto missing = connection.get("/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body).at("status"), "404");

  const auto wrong = connection.request("POST", "/healthz", "{}");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("Allow"), "GET");
  EXPECT_EQ(nlohmann::json::parse(wrong.body).at("status"), "405");

  const auto odd = connection.request("BREW", "/readyz");
  EXPECT_EQ(odd.status, 405);
  EXPECT_EQ(odd.header("Allow"), "GET");
  // Errors keep the connection alive.
  EXPECT_EQ(connection.get("/healthz").status, 200);
  stop_and_expect_clean_exit(*daemon);
}

TEST_F(DaemonTest, OversizedBodyIs413AndClosesTheConnection) {
  ConfigOptions options;
  options.extra_server = "max_body_bytes = 1024\n";
  auto daemon = start(options);
  HttpConnection small("127.0.0.1", port_);
  EXPECT_EQ(small.request("POST", "/healthz", std::string(1024, 'x')).status, 405);

  HttpConnection big("127.0.0.1", port_);
  const auto response = big.request("POST", "/healthz", std::string(64 * 1024, 'x'));
  EXPECT_EQ(response.status, 413);
  EXPECT_FALSE(response.keep_alive);
  EXPECT_EQ(nlohmann::json::parse(response.body).at("status"), "413");
  EXPECT_TRUE(big.closed_by_peer(5s));
  stop_and_expect_clean_exit(*daemon);
}

TEST_F(DaemonTest, ExpectContinueGetsInterimResponseBeforeTheBody) {
  auto daemon = start();
  HttpConnection connection("127.0.0.1", port_);
  connection.send_raw(
      "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(connection.read_response().status, 100);  // before the body is sent
  connection.send_raw("{}");
  EXPECT_EQ(connection.read_response().status, 405);
  stop_and_expect_clean_exit(*daemon);
}

TEST_F(DaemonTest, OversizedHeaderIs431) {
  auto daemon = start();
  HttpConnection connection("127.0.0.1", port_);
  const auto response =
      connection.request("GET", "/healthz", {}, {{"X-Filler", std::string(16 * 1024, 'h')}});
  EXPECT_EQ(response.status, 431);
  stop_and_expect_clean_exit(*daemon);
}

TEST_F(DaemonTest, HandlerFailureIs500WithoutInternals) {
  auto daemon = start({}, {"IDBRIDGE_TEST_ROUTES=1"});
  const auto response = http_get(port_, "/debug/fail");
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, Not(HasSubstr("secret.db")));
  EXPECT_EQ(nlohmann::json::parse(response.body).at("status"), "500");
  EXPECT_TRUE(daemon->process().wait_for_stderr("handler failed", 5s));
  stop_and_expect_clean_exit(*daemon);
}

TEST_F(DaemonTest, DebugRoutesAreOffByDefault) {
  auto daemon = start();
  EXPECT_EQ(http_get(port_, "/debug/slow?ms=0").status, 404);
  stop_and_expect_clean_exit(*daemon);
}

// --- shutdown ------------------------------------------------------------------------------------

TEST_F(DaemonTest, SigtermExitsZeroAndLogsShutdown) {
  auto daemon = start();
  stop_and_expect_clean_exit(*daemon);
  const auto text = daemon->stderr_text();
  EXPECT_THAT(text, HasSubstr("\"msg\":\"shutting down\""));
  EXPECT_THAT(text, HasSubstr("\"signal\":15"));
  EXPECT_THAT(text, HasSubstr("\"msg\":\"stopped\""));
}

TEST_F(DaemonTest, SigintAlsoStopsCleanly) {
  auto daemon = start();
  daemon->send_signal(SIGINT);
  const auto status = daemon->wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->ok()) << daemon->stderr_text();
}

TEST_F(DaemonTest, SigtermLetsInFlightRequestFinishAndClosesIdleConnections) {
  auto daemon = start({}, {"IDBRIDGE_TEST_ROUTES=1"});
  HttpConnection idle("127.0.0.1", port_);
  ASSERT_EQ(idle.get("/healthz").status, 200);  // now an idle keep-alive connection

  HttpConnection slow("127.0.0.1", port_);
  slow.send_raw("GET /debug/slow?ms=2000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(daemon->process().wait_for_stderr("slow request started", 10s));
  const auto signalled = std::chrono::steady_clock::now();
  daemon->send_signal(SIGTERM);

  // The idle connection is closed at once, and nothing new is accepted.
  EXPECT_TRUE(idle.closed_by_peer(5s));
  EXPECT_ANY_THROW(HttpConnection("127.0.0.1", port_, std::nullopt, 1s));

  // The in-flight request still gets its full response, with Connection: close.
  const auto response = slow.read_response();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body).at("slept_ms"), 2000);
  EXPECT_FALSE(response.keep_alive);

  const auto status = daemon->wait_exit(15s);
  ASSERT_TRUE(status.has_value()) << daemon->stderr_text();
  EXPECT_TRUE(status->ok()) << daemon->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 8s);
  EXPECT_THAT(daemon->stderr_text(), HasSubstr("\"open_connections\":2"));
}

TEST_F(DaemonTest, GracePeriodBoundsShutdown) {
  auto config = config_toml({});
  // A one-second grace: a 20-second request is cut off, and the process still exits 0.
  const auto at = config.find("shutdown_grace_seconds = 10");
  config.replace(at, std::string("shutdown_grace_seconds = 10").size(),
                 "shutdown_grace_seconds = 1");
  DaemonProcess daemon(kBinary, dir_, config, {}, {"IDBRIDGE_TEST_ROUTES=1"});
  port_ = daemon.wait_listening();
  HttpConnection slow("127.0.0.1", port_);
  slow.send_raw("GET /debug/slow?ms=4000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(daemon.process().wait_for_stderr("slow request started", 10s));
  daemon.send_signal(SIGTERM);
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value()) << daemon.stderr_text();
  EXPECT_TRUE(status->ok()) << daemon.stderr_text();
  EXPECT_THAT(daemon.stderr_text(), HasSubstr("grace period over"));
}

// --- logs ----------------------------------------------------------------------------------------

TEST_F(DaemonTest, LogsAreJsonLinesAndNeverContainTheToken) {
  ConfigOptions options;
  options.log_level = "debug";
  auto daemon = start(options);
  HttpConnection connection("127.0.0.1", port_);
  const Headers auth{{"Authorization", "Bearer " + token_}};
  connection.request("GET", "/healthz", {}, auth);
  connection.request("GET", "/readyz?token=" + token_, {}, auth);
  connection.request("POST", "/nope", "{\"secret\":\"" + token_ + "\"}", auth);
  stop_and_expect_clean_exit(*daemon);

  const auto text = daemon->stderr_text();
  EXPECT_THAT(text, Not(HasSubstr(token_)));
  const auto lines = lines_of(text);
  ASSERT_GE(lines.size(), 4U);
  bool saw_listening = false;
  for (const auto& line : lines) {
    nlohmann::json object;
    ASSERT_NO_THROW(object = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(object.is_object()) << line;
    EXPECT_TRUE(object.contains("ts")) << line;
    EXPECT_TRUE(object.contains("level")) << line;
    EXPECT_TRUE(object.contains("msg")) << line;
    if (object.at("msg") == "listening") {
      saw_listening = true;
      EXPECT_EQ(object.at("address"), "127.0.0.1");
      EXPECT_EQ(object.at("port"), port_);
    }
  }
  EXPECT_TRUE(saw_listening);
  EXPECT_THAT(text, HasSubstr("\"msg\":\"request\""));  // debug level logs requests...
  EXPECT_THAT(text, Not(HasSubstr("/readyz?")));        // ...by path, never with the query
}

// --- start-up refusals -------------------------------------------------------------------------

TEST_F(DaemonTest, PlainHttpOnNonLoopbackAddressIsRefusedAtStart) {
  ConfigOptions options;
  options.listen = "0.0.0.0:0";
  DaemonProcess daemon(kBinary, dir_, config_toml(options));
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(daemon.stderr_text(), HasSubstr("plain_http"));
  EXPECT_THAT(daemon.stderr_text(), Not(HasSubstr("listening")));
}

TEST_F(DaemonTest, ListenOverrideToNonLoopbackIsRefusedToo) {
  DaemonProcess daemon(kBinary, dir_, config_toml({}), {"--listen", "0.0.0.0:0"});
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(daemon.stderr_text(), HasSubstr("plain_http"));
  EXPECT_THAT(daemon.stderr_text(), Not(HasSubstr("listening")));
}

TEST_F(DaemonTest, UnreadableTokenFileIsRefusedAtStart) {
  std::filesystem::remove(token_file_);
  DaemonProcess daemon(kBinary, dir_, config_toml({}));
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(daemon.stderr_text(), HasSubstr("token"));
  EXPECT_THAT(daemon.stderr_text(), Not(HasSubstr("listening")));
}

TEST_F(DaemonTest, KeyThatDoesNotMatchTheCertificateIsRefusedAtStart) {
  auto pki = make_test_pki(dir_);
  TempDir other;
  pki.server_key = make_test_pki(other).server_key;
  ConfigOptions options;
  options.plain_http = false;
  options.tls = pki;
  DaemonProcess daemon(kBinary, dir_, config_toml(options));
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(daemon.stderr_text(), HasSubstr("cannot load the TLS certificate and key"));
  EXPECT_THAT(daemon.stderr_text(), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(DaemonTest, PortInUseIsReportedAndExits1) {
  auto first = start();
  DaemonProcess second(
      kBinary, dir_, config_toml({}),
      {"--listen", "127.0.0.1:" + std::to_string(port_), "--state-dir", dir_.file("second")});
  const auto status = second.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(second.stderr_text(), HasSubstr("cannot listen"));
  stop_and_expect_clean_exit(*first);
}

TEST_F(DaemonTest, StateDirOverrideHoldsTheDatabase) {
  const auto state = dir_.file("elsewhere");
  auto daemon = start({}, {}, {"--state-dir", state});
  EXPECT_TRUE(std::filesystem::exists(state + "/idbridge.db"));
  stop_and_expect_clean_exit(*daemon);
}

// --- CLI -----------------------------------------------------------------------------------------

TEST_F(DaemonTest, CheckConfigAcceptsAValidFile) {
  const auto path = dir_.write("good.toml", config_toml({}));
  const auto result = run_command({kBinary, "--check-config", path});
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_EQ(result.out, path + ": OK\n");
  EXPECT_EQ(result.err, "");
}

TEST_F(DaemonTest, CheckConfigPrintsEveryProblemWithItsLine) {
  const auto path = dir_.write("bad.toml",
                               "[server]\n"                      // 1
                               "listen = \"127.0.0.1:0\"\n"      // 2
                               "plain_http = true\n"             // 3
                               "colour = \"blue\"\n"             // 4: unknown key
                               "threads = \"four\"\n"            // 5: wrong type
                               "\n"                              // 6
                               "[tenants.acme]\n"                // 7
                               "[[tenants.acme.credentials]]\n"  // 8
                               "name = \"okta\"\n"               // 9
                               "token = \"s3cr3t-inline\"\n");   // 10: inline secret
  const auto result = run_command({kBinary, "--check-config", path});
  EXPECT_EQ(result.status.code, 1);
  EXPECT_EQ(result.out, "");
  const auto lines = lines_of(result.err);
  ASSERT_EQ(lines.size(), 3U) << result.err;
  EXPECT_THAT(lines[0], HasSubstr(path + ":4:"));
  EXPECT_THAT(lines[0], HasSubstr("colour"));
  EXPECT_THAT(lines[1], HasSubstr(path + ":5:"));
  EXPECT_THAT(lines[1], HasSubstr("threads"));
  EXPECT_THAT(lines[2], HasSubstr(path + ":10:"));
  EXPECT_THAT(lines[2], HasSubstr("token"));
  EXPECT_THAT(result.err, Not(HasSubstr("s3cr3t-inline")));
}

TEST_F(DaemonTest, CheckConfigRunsTheEffectiveChecks) {
  ConfigOptions options;
  options.listen = "192.0.2.1:8080";
  const auto path = dir_.write("public.toml", config_toml(options));
  const auto result = run_command({kBinary, "--check-config", path});
  EXPECT_EQ(result.status.code, 1);
  EXPECT_THAT(result.err, HasSubstr("plain_http"));
  EXPECT_THAT(result.err, HasSubstr(path + ":"));
}

TEST_F(DaemonTest, CheckConfigOnMissingFileFails) {
  const auto result = run_command({kBinary, "--check-config", dir_.file("absent.toml")});
  EXPECT_EQ(result.status.code, 1);
  EXPECT_THAT(result.err, HasSubstr("absent.toml"));
}

TEST_F(DaemonTest, ServeWithConfigErrorsPrintsThemAndExits1) {
  DaemonProcess daemon(kBinary, dir_, "[server]\nlisten = 5\n");
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(daemon.stderr_text(), HasSubstr(daemon.config_path() + ":2:"));
}

TEST_F(DaemonTest, UsageErrorsExit2AndHelpAndVersionExit0) {
  const auto unknown = run_command({kBinary, "--config", "x.toml", "--frobnicate"});
  EXPECT_EQ(unknown.status.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("--frobnicate"));
  EXPECT_THAT(unknown.err, HasSubstr("usage:"));

  EXPECT_EQ(run_command({kBinary}).status.code, 2);

  const auto help = run_command({kBinary, "--help"});
  EXPECT_EQ(help.status.code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage:"));

  const auto version = run_command({kBinary, "--version"});
  EXPECT_EQ(version.status.code, 0);
  EXPECT_THAT(version.out, HasSubstr("idbridged "));
}

TEST_F(DaemonTest, InitDemoWritesAWorkingConfigAndAPrivateToken) {
  const auto state = dir_.file("demo");
  const auto first = run_command({kBinary, "init-demo", "--state-dir", state});
  ASSERT_EQ(first.status.code, 0) << first.err;
  const auto config_path = state + "/idbridged.toml";
  EXPECT_EQ(first.out, config_path + "\n");
  const auto token_path = state + "/demo.token";
  struct stat info {};
  ASSERT_EQ(stat(token_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  const auto token = read_file(token_path);
  EXPECT_GE(token.size(), 40U);
  EXPECT_THAT(read_file(config_path), HasSubstr("127.0.0.1:8080"));
  EXPECT_THAT(read_file(config_path), Not(HasSubstr(token.substr(0, 20))));

  // Idempotent: a second run keeps the token.
  const auto second = run_command({kBinary, "init-demo", "--state-dir", state});
  EXPECT_EQ(second.status.code, 0);
  EXPECT_EQ(read_file(token_path), token);

  const auto check = run_command({kBinary, "--check-config", config_path});
  EXPECT_EQ(check.status.code, 0) << check.err;

  ChildProcess process({kBinary, "--config", config_path, "--listen", "127.0.0.1:0"}, {});
  const auto port = wait_listening(process);
  const auto ready = http_get(port, "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ready.body).at("tenants").at("configured"), 1);
  process.send_signal(SIGTERM);
  const auto status = process.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->ok());
  EXPECT_THAT(process.stderr_text(), Not(HasSubstr(token.substr(0, token.size() - 1))));
}

}  // namespace
}  // namespace idbridge::testing

namespace idbridge::testing {
namespace {

// DOMAIN.md "Bulk": CSV import with a per-row report and an export that round-trips externalId,
// through the real binary on a real state directory.
TEST(UsersCsvCommand, ImportReportsEveryRowAndExportRoundTrips) {
  TempDir dir;
  const auto state = dir.file("state");
  const auto init = run_command({kBinary, "init-demo", "--state-dir", state});
  ASSERT_EQ(init.status.code, 0) << init.err;
  const auto config_path = state + "/idbridged.toml";
  const auto csv = dir.write("users.csv",
                             "userName,externalId,givenName,familyName,email\n"
                             "ann,\"EXT,1\",Ann,Lee,ann@example.com\n"
                             "bad name,E2,Bad,Row,bad@example.com\n");
  const auto imported = run_command(
      {kBinary, "import-users", "--config", config_path, "--tenant", "demo", "--file", csv});
  EXPECT_EQ(imported.status.code, 1) << "a refused row makes the command fail";
  EXPECT_THAT(imported.out, HasSubstr(csv + ":2: ann: created"));
  EXPECT_THAT(imported.out, HasSubstr(csv + ":3: bad name: refused: user_name_characters"));
  EXPECT_THAT(imported.out, HasSubstr("created 1, updated 0, unchanged 0, refused 1"));

  const auto exported =
      run_command({kBinary, "export-users", "--config", config_path, "--tenant", "demo"});
  ASSERT_EQ(exported.status.code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr("ann,\"EXT,1\",Ann,Lee"));
  EXPECT_THAT(exported.out, Not(HasSubstr("bad name")));

  const auto again_path = dir.write("again.csv", exported.out);
  const auto again = run_command(
      {kBinary, "import-users", "--config", config_path, "--tenant", "demo", "--file", again_path});
  EXPECT_EQ(again.status.code, 0) << again.out;
  EXPECT_THAT(again.out, HasSubstr("unchanged 1"));

  const auto unknown_tenant =
      run_command({kBinary, "export-users", "--config", config_path, "--tenant", "nope"});
  EXPECT_EQ(unknown_tenant.status.code, 1);
  EXPECT_THAT(unknown_tenant.err, HasSubstr("tenant nope"));
}

}  // namespace
}  // namespace idbridge::testing
