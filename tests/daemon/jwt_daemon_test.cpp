// End-to-end test of JWT bearer tokens through the idbridged binary: a JWKS written from a key
// generated here, tokens signed here, SCIM requests over 127.0.0.1.
#include "idbridge/testing/http_client.hpp"
#include "idbridge/testing/process.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>

namespace idbridge::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = IDBRIDGED_PATH;
const std::string kIssuer = "https://sts.windows.net/00000000-1111-2222-3333-444444444444/";
const std::string kAudience = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

std::string base64url(std::string_view data) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : data) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buffer >> static_cast<unsigned>(bits)) & 63U];
    }
  }
  if (bits > 0) {
    out += alphabet[(buffer << static_cast<unsigned>(6 - bits)) & 63U];
  }
  return out;
}

std::string bignum_param(EVP_PKEY* pkey, const char* name) {
  BIGNUM* number = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pkey, name, &number), 1);
  std::string out(static_cast<std::size_t>(BN_num_bytes(number)), '\0');
  BN_bn2bin(number, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(number);
  return out;
}

std::string sign_rs256(EVP_PKEY* pkey, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey), 1);
  std::size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size, data, input.size()), 1);
  std::string signature(size, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                           data, input.size()),
            1);
  signature.resize(size);
  return signature;
}

class JwtDaemonTest : public ::testing::Test {
 protected:
  JwtDaemonTest()
      : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}), EVP_PKEY_free) {
    const json jwks = {{"keys",
                        {{{"kty", "RSA"},
                          {"use", "sig"},
                          {"kid", "k1"},
                          {"n", base64url(bignum_param(key_.get(), OSSL_PKEY_PARAM_RSA_N))},
                          {"e", base64url(bignum_param(key_.get(), OSSL_PKEY_PARAM_RSA_E))}}}}};
    dir_.write("entra.jwks.json", jwks.dump());
  }

  // A relative jwks_file: it resolves against the config file's directory.
  std::string config_toml() const {
    return "state_dir = \"" + dir_.file("state") +
           "\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nplain_http = true\nthreads = 2\n"
           "\n[logging]\nlevel = \"info\"\n"
           "\n[tenants.acme]\n\n[[tenants.acme.jwt_issuers]]\nname = \"acme-entra\"\n"
           "issuer = \"" +
           kIssuer + "\"\naudience = \"" + kAudience +
           "\"\njwks_file = \"entra.jwks.json\"\nalgorithms = [\"RS256\"]\n"
           "role_ceiling = \"administrator\"\n"
           "\n[tenants.beta]\n";
  }

  std::string token(std::chrono::seconds expires_in) const {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "k1"}};
    const json claims = {{"iss", kIssuer},
                         {"aud", kAudience},
                         {"iat", now - 7200},
                         {"nbf", now - 7200},
                         {"exp", now + expires_in.count()}};
    const std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
    return input + "." + base64url(sign_rs256(key_.get(), input));
  }

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  TempDir dir_;
};

TEST_F(JwtDaemonTest, ValidJwtReadsUsersAndExpiredOneGets401) {
  ASSERT_NE(key_, nullptr);
  DaemonProcess daemon(kBinary, dir_, config_toml());
  const std::uint16_t port = daemon.wait_listening();
  HttpConnection connection("127.0.0.1", port);

  const std::string valid = token(1h);
  const auto ok = connection.request("GET", "/scim/v2/tenants/acme/Users", {},
                                     {{"Authorization", "Bearer " + valid}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  const auto list = json::parse(ok.body);
  EXPECT_EQ(list.at("schemas"), json({"urn:ietf:params:scim:api:messages:2.0:ListResponse"}));
  EXPECT_EQ(list.at("totalResults"), 0);

  // The issuer entry belongs to acme: its tokens do not reach beta.
  const auto other = connection.request("GET", "/scim/v2/tenants/beta/Users", {},
                                        {{"Authorization", "Bearer " + valid}});
  EXPECT_EQ(other.status, 403) << other.body;

  const std::string expired = token(-1h);
  const auto rejected = connection.request("GET", "/scim/v2/tenants/acme/Users", {},
                                           {{"Authorization", "Bearer " + expired}});
  EXPECT_EQ(rejected.status, 401);
  EXPECT_EQ(rejected.header("Content-Type"), "application/scim+json");
  EXPECT_THAT(rejected.header("WWW-Authenticate").value_or(""), HasSubstr("Bearer"));
  const auto error = json::parse(rejected.body);
  EXPECT_EQ(error.at("schemas"), json({"urn:ietf:params:scim:api:messages:2.0:Error"}));
  EXPECT_EQ(error.at("status"), "401");
  EXPECT_THAT(error.at("detail").get<std::string>(), HasSubstr("token expired"));
  EXPECT_THAT(rejected.body, Not(HasSubstr(expired.substr(0, 30))));

  daemon.send_signal(SIGTERM);
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value()) << daemon.stderr_text();
  EXPECT_TRUE(status->ok()) << daemon.stderr_text();
  const std::string log = daemon.stderr_text();
  EXPECT_THAT(log, HasSubstr("jwt expired"));
  // Neither token, nor any of their parts, reaches the log.
  for (const std::string& jwt : {valid, expired}) {
    for (std::size_t start = 0, end = 0; start < jwt.size(); start = end + 1) {
      end = std::min(jwt.find('.', start), jwt.size());
      EXPECT_THAT(log, Not(HasSubstr(jwt.substr(start, end - start))));
    }
  }
}

TEST_F(JwtDaemonTest, UnreadableJwksIsAConfigErrorAtTheJwksFileKey) {
  std::filesystem::remove(dir_.file("entra.jwks.json"));
  DaemonProcess daemon(kBinary, dir_, config_toml());
  const auto status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 1);
  EXPECT_THAT(daemon.stderr_text(),
              HasSubstr("idbridged.toml:17:13: tenants.acme.jwt_issuers[0].jwks_file: cannot read "
                        "JWKS file"));
  EXPECT_THAT(daemon.stderr_text(), Not(HasSubstr("listening")));
}

TEST_F(JwtDaemonTest, CheckConfigReadsTheJwksFile) {
  const std::string path = dir_.write("idbridged.toml", config_toml());
  const auto good = run_command({kBinary, "--check-config", path});
  EXPECT_EQ(good.status.code, 0) << good.err;

  dir_.write("entra.jwks.json",
             R"({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]})");
  const auto bad = run_command({kBinary, "--check-config", path});
  EXPECT_EQ(bad.status.code, 1);
  EXPECT_THAT(bad.err, HasSubstr(":17:13: tenants.acme.jwt_issuers[0].jwks_file: JWKS file "));
  EXPECT_THAT(bad.err, HasSubstr("keys[0]: not a valid RSA public key of at least 2048 bits"));
}

}  // namespace
}  // namespace idbridge::testing
