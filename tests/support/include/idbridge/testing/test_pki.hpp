// A throw-away certificate authority and a server certificate for localhost and 127.0.0.1,
// generated with the openssl CLI into a test's TempDir.
#pragma once

#include <string>

namespace idbridge::testing {

class TempDir;

struct TestPki {
  std::string ca_certificate;      // PEM file: what clients trust
  std::string server_certificate;  // PEM file: the server's chain (leaf, then the CA)
  std::string server_key;          // PEM file, mode 0600
  std::string ca_key;              // PEM file: signs further certificates (client certificates)
};

struct TestClientCertificate {
  std::string certificate;  // PEM file: the client's leaf, signed by the test CA
  std::string key;          // PEM file, mode 0600
};

// Throws std::runtime_error (with openssl's output) when generation fails.
TestPki make_test_pki(const TempDir& dir);

// A TLS client certificate (extendedKeyUsage clientAuth) with subject `/CN=<common_name>`, signed
// by `pki`'s CA, written as `<file_stem>.pem` and `<file_stem>.key` in `dir`. Throws like
// make_test_pki.
TestClientCertificate make_client_certificate(const TempDir& dir, const TestPki& pki,
                                              const std::string& common_name,
                                              const std::string& file_stem = "client");

}  // namespace idbridge::testing
