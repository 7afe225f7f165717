// make_test_pki: EC P-256 CA and leaf (fast to generate), valid for one day.
#include "idbridge/testing/test_pki.hpp"

#include "idbridge/testing/process.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace idbridge::testing {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run_command(argv, std::chrono::seconds(30));
  if (!result.status.ok()) {
    std::string command;
    for (const auto& arg : argv) {
      command += arg + ' ';
    }
    throw std::runtime_error("failed: " + command + "\n" + result.err);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TestPki make_test_pki(const TempDir& dir) {
  const auto ca_key = dir.file("ca.key");
  const auto ca_cert = dir.file("ca.pem");
  const auto key = dir.file("server.key");
  const auto csr = dir.file("server.csr");
  const auto leaf = dir.file("server-leaf.pem");
  const auto extensions = dir.write("server.ext",
                                    "basicConstraints=critical,CA:FALSE\n"
                                    "keyUsage=critical,digitalSignature\n"
                                    "extendedKeyUsage=serverAuth\n"
                                    "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", ca_key, "-out", ca_cert, "-days", "1", "-subj", "/CN=idbridge test CA",
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           key, "-out", csr, "-subj", "/CN=localhost"});
  openssl({"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-out",
           leaf, "-days", "1", "-extfile", extensions});
  std::filesystem::permissions(
      key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto chain = dir.write("server.pem", read_file(leaf) + read_file(ca_cert));
  return {ca_cert, chain, key, ca_key};
}

TestClientCertificate make_client_certificate(const TempDir& dir, const TestPki& pki,
                                              const std::string& common_name,
                                              const std::string& file_stem) {
  const auto key = dir.file(file_stem + ".key");
  const auto csr = dir.file(file_stem + ".csr");
  const auto certificate = dir.file(file_stem + ".pem");
  const auto extensions = dir.write(file_stem + ".ext",
                                    "basicConstraints=critical,CA:FALSE\n"
                                    "keyUsage=critical,digitalSignature\n"
                                    "extendedKeyUsage=clientAuth\n");
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           key, "-out", csr, "-subj", "/CN=" + common_name});
  openssl({"x509", "-req", "-in", csr, "-CA", pki.ca_certificate, "-CAkey", pki.ca_key,
           "-CAcreateserial", "-out", certificate, "-days", "1", "-extfile", extensions});
  std::filesystem::permissions(
      key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return {certificate, key};
}

}  // namespace idbridge::testing
