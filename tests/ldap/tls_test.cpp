// TLS against a private slapd with a test CA: LDAPS and StartTLS verify the server certificate,
// an untrusted CA fails (never falling back to cleartext) unless verification is explicitly
// off, which shows as a warning; SASL EXTERNAL with a client certificate.
#include "idbridge/ldap/client.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "idbridge/testing/test_pki.hpp"

#include <gtest/gtest.h>

#include <string>

namespace idbridge::ldap {
namespace {

using testing::Slapd;
using testing::SlapdOptions;
using testing::TempDir;

class Tls : public ::testing::Test {
 protected:
  Tls() : pki_(testing::make_test_pki(dir_)), slapd_(dir_, options(pki_)) {}

  static SlapdOptions options(const testing::TestPki& pki) {
    SlapdOptions options;
    options.tls = pki;
    options.tls_verify_client = "try";
    return options;
  }

  ConnectionSettings root(std::string uri, std::string ca_file) const {
    ConnectionSettings settings;
    settings.uri = std::move(uri);
    settings.ca_file = std::move(ca_file);
    settings.bind = BindMethod::simple;
    settings.bind_dn = slapd_.options().root_dn;
    settings.password = Password(slapd_.options().root_password);
    settings.network_timeout = std::chrono::seconds(5);
    settings.operation_timeout = std::chrono::seconds(10);
    return settings;
  }

  // A CA that did not sign slapd's certificate.
  std::string untrusted_ca() { return testing::make_test_pki(other_dir_).ca_certificate; }

  TempDir dir_;
  TempDir other_dir_;
  testing::TestPki pki_;
  Slapd slapd_;
};

TEST_F(Tls, LdapsVerifiesTheServerAgainstTheCa) {
  auto connection = Connection::open(root(slapd_.ldaps_uri(), pki_.ca_certificate));
  ASSERT_TRUE(connection) << connection.error().message;
  EXPECT_TRUE(connection->warnings().empty());
  EXPECT_EQ(connection->who_am_i().value(), "dn:" + slapd_.options().root_dn);
}

TEST_F(Tls, StartTlsVerifiesTheServerAgainstTheCa) {
  auto settings = root(slapd_.uri(), pki_.ca_certificate);
  settings.start_tls = StartTls::on;
  auto connection = Connection::open(settings);
  ASSERT_TRUE(connection) << connection.error().message;
  EXPECT_TRUE(connection->warnings().empty());
  EXPECT_EQ(connection->who_am_i().value(), "dn:" + slapd_.options().root_dn);
}

TEST_F(Tls, LdapsWithAnUntrustedCaIsATlsFailure) {
  auto connection = Connection::open(root(slapd_.ldaps_uri(), untrusted_ca()));
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::tls_failure) << connection.error().message;
  EXPECT_EQ(connection.error().message.find(slapd_.options().root_password), std::string::npos);
}

TEST_F(Tls, StartTlsWithAnUntrustedCaFailsWithoutFallingBack) {
  auto settings = root(slapd_.uri(), untrusted_ca());
  settings.start_tls = StartTls::on;
  auto connection = Connection::open(settings);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::tls_failure) << connection.error().message;
}

TEST_F(Tls, SystemTrustDoesNotContainTheTestCa) {
  auto connection = Connection::open(root(slapd_.ldaps_uri(), ""));
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::tls_failure) << connection.error().message;
}

TEST_F(Tls, SkippingVerificationConnectsAndSaysSo) {
  for (const auto start_tls : {StartTls::off, StartTls::on}) {
    auto settings =
        root(start_tls == StartTls::on ? slapd_.uri() : slapd_.ldaps_uri(), untrusted_ca());
    settings.start_tls = start_tls;
    settings.certificate_check = CertificateCheck::insecure_skip;
    auto connection = Connection::open(settings);
    ASSERT_TRUE(connection) << connection.error().message;
    ASSERT_EQ(connection->warnings().size(), 1u);
    EXPECT_NE(connection->warnings()[0].find("verification is OFF"), std::string::npos);
  }
}

TEST_F(Tls, SaslExternalUsesTheClientCertificate) {
  const auto client = testing::make_client_certificate(dir_, pki_, "idbridge-sync");
  for (const auto start_tls : {StartTls::off, StartTls::on}) {
    ConnectionSettings settings;
    settings.uri = start_tls == StartTls::on ? slapd_.uri() : slapd_.ldaps_uri();
    settings.start_tls = start_tls;
    settings.ca_file = pki_.ca_certificate;
    settings.bind = BindMethod::sasl_external;
    settings.client_certificate = client.certificate;
    settings.client_key = client.key;
    auto connection = Connection::open(settings);
    ASSERT_TRUE(connection) << connection.error().message;
    EXPECT_EQ(connection->who_am_i().value(), "dn:cn=idbridge-sync");
  }
}

TEST_F(Tls, SaslExternalWithoutAClientCertificateIsRefusedBeforeConnecting) {
  // Without a certificate the server would map the bind to nothing (or to anonymous): refused
  // by settings validation, nothing is sent.
  ConnectionSettings settings;
  settings.uri = slapd_.ldaps_uri();
  settings.ca_file = pki_.ca_certificate;
  settings.bind = BindMethod::sasl_external;
  auto connection = Connection::open(settings);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::invalid_settings);
}

}  // namespace
}  // namespace idbridge::ldap
