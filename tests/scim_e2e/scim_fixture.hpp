// Shared fixture of the SCIM end-to-end tests: starts the real idbridged binary with one or more
// tenant credentials (tokens in files of a TempDir) and talks SCIM to it over 127.0.0.1.
#pragma once

#include "idbridge/testing/http_client.hpp"
#include "idbridge/testing/process.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idbridge::testing {

inline const std::string kScimDaemonBinary = IDBRIDGED_PATH;

// One [[tenants.<tenant>.credentials]] entry; its token is generated and written to a file.
struct ScimCredentialSpec {
  std::string name = "okta";
  std::string tenant = "acme";
  std::string role_ceiling = "administrator";
  bool read_only = false;
};

struct ScimDaemonOptions {
  std::vector<ScimCredentialSpec> credentials{ScimCredentialSpec{}};
  std::vector<std::string> tenants{"acme"};
  // [[provider.credentials]] entries (may act on every tenant); their `tenant` is ignored.
  std::vector<ScimCredentialSpec> provider_credentials;
  // Lines added to [server] (e.g. "max_body_bytes = 4096\n").
  std::string extra_server;
  // TOML appended after each tenant's table, keyed by tenant id (e.g. a password_policy table).
  std::map<std::string, std::string> tenant_toml;
};

// A SCIM response with its body parsed (discarded JSON when the body is not JSON).
struct ScimResponse {
  int status = 0;
  nlohmann::json body;
  std::string raw;
  HttpResponse http;
  std::optional<std::string> header(std::string_view name) const { return http.header(name); }
};

// The running daemon. Stops it with SIGTERM on destruction and expects a clean exit.
class ScimDaemon {
 public:
  explicit ScimDaemon(ScimDaemonOptions options = {}) : options_(std::move(options)) {
    std::random_device random;
    std::string toml = "state_dir = \"" + dir_.file("state") + "\"\n\n[server]\n";
    toml += "listen = \"127.0.0.1:0\"\nplain_http = true\nthreads = 2\n";
    toml += "request_timeout_seconds = 10\nshutdown_grace_seconds = 5\n";
    toml += options_.extra_server;
    toml += "\n[logging]\nlevel = \"info\"\n";
    if (!options_.provider_credentials.empty()) {
      toml += "\n[provider]\nname = \"provider\"\n";
      for (const auto& credential : options_.provider_credentials) {
        toml += credential_toml("provider", credential, random);
      }
    }
    for (const auto& tenant : options_.tenants) {
      toml += "\n[tenants." + tenant + "]\ndisplay_name = \"" + tenant + "\"\n";
      if (const auto it = options_.tenant_toml.find(tenant); it != options_.tenant_toml.end()) {
        toml += it->second + "\n";
      }
      for (const auto& credential : options_.credentials) {
        if (credential.tenant == tenant) {
          toml += credential_toml("tenants." + tenant, credential, random);
        }
      }
    }
    toml_ = toml;
    process_ = std::make_unique<DaemonProcess>(kScimDaemonBinary, dir_, toml_);
    port_ = process_->wait_listening();
  }

  ~ScimDaemon() {
    if (!running_) {
      return;
    }
    process_->send_signal(SIGTERM);
    const auto status = process_->wait_exit(std::chrono::seconds(15));
    EXPECT_TRUE(status && status->ok()) << "idbridged did not exit cleanly\n"
                                        << process_->stderr_text();
  }
  ScimDaemon(const ScimDaemon&) = delete;
  ScimDaemon& operator=(const ScimDaemon&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& token(const std::string& credential) const { return tokens_.at(credential); }
  std::string stderr_text() const { return process_->stderr_text(); }

  // SIGKILL, no chance to flush or shut down: what survives is what was durable.
  void kill_hard() {
    process_->send_signal(SIGKILL);
    const auto status = process_->wait_exit(std::chrono::seconds(15));
    ASSERT_TRUE(status.has_value()) << "idbridged survived SIGKILL";
    EXPECT_EQ(status->signal, SIGKILL);
    running_ = false;
  }

  // Starts the daemon again on the same config and state directory (a new port).
  void restart() {
    process_ = std::make_unique<DaemonProcess>(kScimDaemonBinary, dir_, toml_);
    port_ = process_->wait_listening();
    running_ = true;
  }

 private:
  std::string credential_toml(const std::string& table, const ScimCredentialSpec& credential,
                              std::random_device& random) {
    const std::string token =
        "tok-" + credential.name + "-" + std::to_string(random()) + "-" + std::to_string(random());
    tokens_[credential.name] = token;
    const std::string file = dir_.write(credential.name + ".token", token + "\n");
    return "\n[[" + table + ".credentials]]\nname = \"" + credential.name +
           "\"\ntoken = { file = \"" + file + "\" }\nrole_ceiling = \"" + credential.role_ceiling +
           "\"\nread_only = " + (credential.read_only ? "true" : "false") + "\n";
  }

  ScimDaemonOptions options_;
  TempDir dir_;
  std::map<std::string, std::string> tokens_;
  std::string toml_;
  std::unique_ptr<DaemonProcess> process_;
  std::uint16_t port_ = 0;
  bool running_ = true;
};

// A SCIM client of one tenant with one Authorization header value. Every request uses a fresh
// connection, so a request the server answers by closing (413) does not affect the next one.
class ScimClient {
 public:
  ScimClient(std::uint16_t port, std::string tenant, std::string authorization)
      : port_(port),
        base_("/scim/v2/tenants/" + std::move(tenant)),
        authorization_(std::move(authorization)) {}

  static ScimClient bearer(const ScimDaemon& daemon, const std::string& credential,
                           const std::string& tenant = "acme") {
    return ScimClient(daemon.port(), tenant, "Bearer " + daemon.token(credential));
  }

  const std::string& base() const { return base_; }

  // `target` is below the tenant base ("/Users?count=1"); `body` is sent as is.
  ScimResponse raw(std::string_view method, const std::string& target, std::string body = {},
                   Headers headers = {}) const {
    bool has_content_type = false;
    for (const auto& [name, value] : headers) {
      has_content_type = has_content_type || name == "Content-Type";
    }
    if (!body.empty() && !has_content_type) {
      headers.emplace_back("Content-Type", "application/scim+json; charset=utf-8");
    }
    if (!authorization_.empty()) {
      headers.emplace_back("Authorization", authorization_);
    }
    headers.emplace_back("Accept", "application/scim+json");
    HttpConnection connection("127.0.0.1", port_);
    ScimResponse response;
    response.http = connection.request(method, base_ + target, std::move(body), headers);
    response.status = response.http.status;
    response.raw = response.http.body;
    response.body = nlohmann::json::parse(response.raw, nullptr, false);
    return response;
  }

  ScimResponse get(const std::string& target, Headers headers = {}) const {
    return raw("GET", target, {}, std::move(headers));
  }
  ScimResponse post(const std::string& target, const nlohmann::json& body,
                    Headers headers = {}) const {
    return raw("POST", target, body.dump(), std::move(headers));
  }
  ScimResponse put(const std::string& target, const nlohmann::json& body,
                   Headers headers = {}) const {
    return raw("PUT", target, body.dump(), std::move(headers));
  }
  ScimResponse patch(const std::string& target, const nlohmann::json& body,
                     Headers headers = {}) const {
    return raw("PATCH", target, body.dump(), std::move(headers));
  }
  ScimResponse del(const std::string& target, Headers headers = {}) const {
    return raw("DELETE", target, {}, std::move(headers));
  }

 private:
  std::uint16_t port_;
  std::string base_;
  std::string authorization_;
};

// A PatchOp body (RFC 7644 §3.5.2) around `operations`.
inline nlohmann::json patch_op(nlohmann::json operations) {
  return {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
          {"Operations", std::move(operations)}};
}

// Whether `response` is a SCIM Error (RFC 7644 §3.12) with `status` as a string and, when
// given, `scim_type`.
inline ::testing::AssertionResult is_scim_error(const ScimResponse& response, int status,
                                                std::string_view scim_type = {}) {
  const auto fail = [&](std::string why) {
    return ::testing::AssertionFailure()
           << why << "; got " << response.status << " " << response.raw;
  };
  if (response.status != status) {
    return fail("expected status " + std::to_string(status));
  }
  const auto& body = response.body;
  if (!body.is_object() || !body.contains("schemas") ||
      body["schemas"] != nlohmann::json::array({"urn:ietf:params:scim:api:messages:2.0:Error"})) {
    return fail("not a SCIM Error body");
  }
  if (body.value("status", nlohmann::json()) != std::to_string(status)) {
    return fail("body status is not \"" + std::to_string(status) + "\"");
  }
  if (!body.contains("detail") || !body["detail"].is_string() ||
      body["detail"].get<std::string>().empty()) {
    return fail("no detail");
  }
  if (!scim_type.empty() && body.value("scimType", std::string()) != scim_type) {
    return fail("expected scimType " + std::string(scim_type));
  }
  if (scim_type.empty() && body.contains("scimType") && status != 400 && status != 409) {
    return fail("unexpected scimType");
  }
  if (response.header("Content-Type") != "application/scim+json") {
    return fail("Content-Type is not application/scim+json");
  }
  return ::testing::AssertionSuccess();
}

}  // namespace idbridge::testing
