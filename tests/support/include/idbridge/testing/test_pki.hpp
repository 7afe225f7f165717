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
};

// Throws std::runtime_error (with openssl's output) when generation fails.
TestPki make_test_pki(const TempDir& dir);

}  // namespace idbridge::testing
