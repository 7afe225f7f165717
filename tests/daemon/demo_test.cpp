// `idbridged init-demo` with the demo directory: the [directories.demo] section it writes syncs
// config/examples/demo-directory.ldif (loaded into a private slapd) into tenant demo with the
// documented roles and groups; it is added once to an earlier demo config; a bad URI writes
// nothing.
#include "idbridge/testing/process.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace idbridge::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = IDBRIDGED_PATH;
const std::string kDemoLdif = IDBRIDGE_DEMO_LDIF;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++count;
  }
  return count;
}

// userName -> the CSV row of export-users (the columns are fixed: see README).
std::map<std::string, std::string> rows_by_user_name(const std::string& csv) {
  std::map<std::string, std::string> rows;
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    rows[line.substr(0, line.find(','))] = line;
  }
  return rows;
}

CommandResult init_demo(const std::string& state, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{kBinary, "init-demo", "--state-dir", state};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv);
}

TEST(InitDemoDirectory, SyncsTheDemoDirectoryWithItsRolesAndGroups) {
  TempDir dir;
  SlapdOptions options;
  options.create_suffix = false;  // the LDIF has it
  const Slapd slapd(dir, options);
  slapd.add_ldif(read_file(kDemoLdif));
  // What scripts/demo-run.sh adds with a generated password.
  slapd.add_ldif(
      "dn: cn=idbridge,ou=services,dc=example,dc=com\nobjectClass: applicationProcess\n"
      "objectClass: simpleSecurityObject\ncn: idbridge\nuserPassword: service-secret\n");
  const auto password_file = dir.write("idbridge.password", "service-secret");
  const auto state = dir.file("state");

  const auto init =
      init_demo(state, {"--ldap-uri", slapd.uri(), "--ldap-password-file", password_file});
  ASSERT_EQ(init.status.code, 0) << init.err;
  const auto config = state + "/idbridged.toml";
  const auto text = read_file(config);
  EXPECT_THAT(text, HasSubstr("[directories.demo]"));
  EXPECT_THAT(text, HasSubstr(slapd.uri()));
  EXPECT_THAT(text, Not(HasSubstr("service-secret")));
  const auto check = run_command({kBinary, "--check-config", config});
  EXPECT_EQ(check.status.code, 0) << check.err;

  const auto sync = run_command({kBinary, "sync", "--config", config, "--directory", "demo"},
                                std::chrono::seconds(60));
  ASSERT_EQ(sync.status.code, 0) << sync.out << sync.err;
  EXPECT_THAT(sync.out, HasSubstr("read 36 users (complete)"));

  const auto exported =
      run_command({kBinary, "export-users", "--config", config, "--tenant", "demo"});
  ASSERT_EQ(exported.status.code, 0) << exported.err;
  const auto rows = rows_by_user_name(exported.out);
  EXPECT_EQ(rows.size(), 36U);
  ASSERT_TRUE(rows.count("maria.rossi"));
  EXPECT_THAT(rows.at("maria.rossi"), HasSubstr(",accountOwner,"));
  ASSERT_TRUE(rows.count("james.okafor"));
  EXPECT_THAT(rows.at("james.okafor"), HasSubstr(",administrator,"));
  ASSERT_TRUE(rows.count("zoe.mueller"));
  EXPECT_THAT(rows.at("zoe.mueller"), HasSubstr("Zoë,Müller,Zoë Müller,zoe.mueller@example.com"));
  EXPECT_THAT(rows.at("zoe.mueller"), HasSubstr(",standardUser,"));
  for (const char* group : {"Sales", "Support", "Engineering", "Platform"}) {
    EXPECT_THAT(sync.out, HasSubstr(std::string("createGroup  ") + group));
  }
  // platform is nested in engineering (group_base_dns).
  EXPECT_THAT(sync.out, HasSubstr("addMembership  zoe.mueller  Platform"));
  EXPECT_THAT(sync.out, HasSubstr("addMembership  zoe.mueller  Engineering"));
  EXPECT_THAT(sync.out, Not(HasSubstr("addMembership  ana.garcia  Engineering")));
}

TEST(InitDemoDirectory, IsAddedOnceToAnEarlierDemoConfig) {
  TempDir dir;
  const auto state = dir.file("state");
  const auto password_file = dir.write("idbridge.password", "service-secret");
  const std::vector<std::string> directory{"--ldap-uri", "ldap://127.0.0.1:3890",
                                           "--ldap-password-file", password_file};

  ASSERT_EQ(init_demo(state).status.code, 0);
  const auto config = state + "/idbridged.toml";
  const auto token = read_file(state + "/demo.token");
  EXPECT_THAT(read_file(config), Not(HasSubstr("[directories.demo]")));

  for (int run = 1; run <= 2; ++run) {
    const auto again = init_demo(state, directory);
    ASSERT_EQ(again.status.code, 0) << again.err;
    EXPECT_EQ(again.out, config + "\n");
    const auto text = read_file(config);
    EXPECT_EQ(count_of(text, "[directories.demo]"), 1U) << "run " << run;
    EXPECT_EQ(count_of(text, "[tenants.demo]"), 1U);
    EXPECT_EQ(read_file(state + "/demo.token"), token);
  }
  const auto check = run_command({kBinary, "--check-config", config});
  EXPECT_EQ(check.status.code, 0) << check.err;
  EXPECT_THAT(read_file(config), HasSubstr("bind_password = { file = \"" + password_file));
}

TEST(InitDemoDirectory, RefusesABadDirectoryAndWritesNothing) {
  TempDir dir;
  const auto state = dir.file("state");
  const auto bad = init_demo(
      state, {"--ldap-uri", "http://127.0.0.1:3890", "--ldap-password-file", dir.file("p")});
  EXPECT_EQ(bad.status.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("directories.demo.uri"));
  EXPECT_FALSE(std::filesystem::exists(state + "/idbridged.toml"));
  EXPECT_FALSE(std::filesystem::exists(state + "/demo.token"));

  // An earlier config is left as it was.
  ASSERT_EQ(init_demo(state).status.code, 0);
  const auto before = read_file(state + "/idbridged.toml");
  EXPECT_EQ(init_demo(state, {"--ldap-uri", "ldapi:///run/slapd/ldapi", "--ldap-password-file",
                              dir.file("p")})
                .status.code,
            1);
  EXPECT_EQ(read_file(state + "/idbridged.toml"), before);

  const auto half = init_demo(state, {"--ldap-uri", "ldap://127.0.0.1:3890"});
  EXPECT_EQ(half.status.code, 2);
  EXPECT_THAT(half.err, HasSubstr("--ldap-uri and --ldap-password-file together"));
}

}  // namespace
}  // namespace idbridge::testing
