// ConnectionSettings validation and warnings (pure): every problem reported at once, insecure
// choices visible, the password never in any text.
#include "idbridge/ldap/client.hpp"

#include <gtest/gtest.h>

#include <string>

namespace idbridge::ldap {
namespace {

constexpr const char* secret = "s3cret-Pa55word";

bool any_contains(const std::vector<std::string>& texts, std::string_view needle) {
  for (const auto& text : texts) {
    if (text.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

ConnectionSettings simple_bind(std::string uri) {
  ConnectionSettings settings;
  settings.uri = std::move(uri);
  settings.bind = BindMethod::simple;
  settings.bind_dn = "cn=sync,dc=example,dc=com";
  settings.password = Password(secret);
  return settings;
}

TEST(Settings, DefaultsVerifyCertificates) {
  const ConnectionSettings settings;
  EXPECT_EQ(settings.certificate_check, CertificateCheck::verify);
  EXPECT_EQ(settings.start_tls, StartTls::off);
  EXPECT_EQ(settings.bind, BindMethod::anonymous);
}

TEST(Settings, AnonymousLdapIsValidWithoutWarnings) {
  ConnectionSettings settings;
  settings.uri = "ldap://directory.example.com";
  EXPECT_TRUE(validate(settings).empty());
  EXPECT_TRUE(warnings(settings).empty());
}

TEST(Settings, ReportsEveryProblemAtOnce) {
  ConnectionSettings settings;
  settings.uri = "http://directory";
  settings.bind = BindMethod::simple;
  settings.ca_file = "/nonexistent/ca.pem";
  settings.operation_timeout = std::chrono::milliseconds(0);
  const auto problems = validate(settings);
  EXPECT_EQ(problems.size(), 5u);
  EXPECT_TRUE(any_contains(problems, "ldap:// or ldaps://"));
  EXPECT_TRUE(any_contains(problems, "bind_dn"));
  EXPECT_TRUE(any_contains(problems, "non-empty password"));
  EXPECT_TRUE(any_contains(problems, "/nonexistent/ca.pem"));
  EXPECT_TRUE(any_contains(problems, "timeout"));
}

TEST(Settings, StartTlsOnLdapsIsAProblem) {
  auto settings = simple_bind("ldaps://directory:636");
  settings.start_tls = StartTls::on;
  EXPECT_TRUE(any_contains(validate(settings), "start_tls"));
}

TEST(Settings, SaslExternalNeedsTlsAndACertificate) {
  ConnectionSettings settings;
  settings.uri = "ldap://directory";
  settings.bind = BindMethod::sasl_external;
  const auto problems = validate(settings);
  EXPECT_TRUE(any_contains(problems, "needs TLS"));
  EXPECT_TRUE(any_contains(problems, "client_certificate"));
}

TEST(Settings, MoreThanOneServerIsAProblem) {
  ConnectionSettings settings;
  settings.uri = "ldap://a ldap://b";
  EXPECT_TRUE(any_contains(validate(settings), "exactly one server"));
}

TEST(Settings, SkippingVerificationIsAVisibleWarning) {
  auto settings = simple_bind("ldaps://directory:636");
  settings.certificate_check = CertificateCheck::insecure_skip;
  EXPECT_TRUE(validate(settings).empty());
  const auto found = warnings(settings);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("verification is OFF"), std::string::npos);
}

TEST(Settings, CleartextSimpleBindWarnsWithoutThePassword) {
  const auto settings = simple_bind("ldap://directory");
  const auto found = warnings(settings);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("cleartext"), std::string::npos);
  EXPECT_FALSE(any_contains(found, secret));
  EXPECT_FALSE(any_contains(validate(settings), secret));
}

TEST(Settings, StartTlsSimpleBindHasNoWarning) {
  auto settings = simple_bind("ldap://directory");
  settings.start_tls = StartTls::on;
  EXPECT_TRUE(warnings(settings).empty());
}

TEST(Backoff, NonTransientErrorsAreNotRetried) {
  EXPECT_TRUE(is_transient(ErrorCode::unreachable));
  EXPECT_TRUE(is_transient(ErrorCode::timeout));
  EXPECT_TRUE(is_transient(ErrorCode::unavailable));
  EXPECT_FALSE(is_transient(ErrorCode::invalid_credentials));
  EXPECT_FALSE(is_transient(ErrorCode::tls_failure));
  EXPECT_FALSE(is_transient(ErrorCode::invalid_settings));
}

TEST(Backoff, InvalidSettingsFailOnceWithoutSleeping) {
  ConnectionSettings settings;
  settings.uri = "http://nope";
  int sleeps = 0;
  auto result = connect_with_backoff(settings, 5, [&](std::chrono::milliseconds) { ++sleeps; });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::invalid_settings);
  EXPECT_EQ(sleeps, 0);
}

}  // namespace
}  // namespace idbridge::ldap
