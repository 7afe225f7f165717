// `idbridged sync` end to end: a private slapd with people and groups (memberOf from the overlay),
// a config with a [directories] section, the real binary. Dry runs print the plan; runs apply it
// and record themselves; a plan over a safety threshold is held until `sync --apply` approves it,
// and refused if the directory changed since. Also the two reads that must never look like an
// empty directory: a size limit and a failed bind.
#include "idbridge/testing/http_client.hpp"
#include "idbridge/testing/process.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = IDBRIDGED_PATH;
constexpr int kUsers = 30;

std::string uid(int i) {
  char text[16];
  std::snprintf(text, sizeof text, "user%02d", i);
  return text;
}

std::string person_dn(int i) {
  return "uid=" + uid(i) + ",ou=people,dc=example,dc=com";
}

std::string directory_ldif() {
  std::string ldif =
      "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n"
      "dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n";
  for (int i = 1; i <= kUsers; ++i) {
    ldif += "dn: " + person_dn(i) + "\nobjectClass: inetOrgPerson\nuid: " + uid(i) + "\ncn: Given" +
            std::to_string(i) + " Family\ngivenName: Given" + std::to_string(i) +
            "\nsn: Family\nmail: " + uid(i) + "@example.com\n\n";
  }
  // Groups after their members: the memberof overlay writes memberOf on existing entries.
  ldif +=
      "dn: cn=admins,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: admins\n"
      "member: " +
      person_dn(1) + "\nmember: " + person_dn(2) + "\n\n";
  ldif += "dn: cn=sales,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: sales\n";
  for (int i = 3; i <= 12; ++i) {
    ldif += "member: " + person_dn(i) + "\n";
  }
  return ldif;
}

struct DirectoryOptions {
  bool bind_as_root = true;
  std::string password = "admin-secret";
  std::string extra;   // more lines for [directories.corp]
  std::string tables;  // more tables after it, e.g. [directories.corp.safety]
};

DirectoryOptions anonymous_bind() {
  DirectoryOptions options;
  options.bind_as_root = false;
  return options;
}

DirectoryOptions root_bind_with(std::string password, std::string extra = "") {
  DirectoryOptions options;
  options.password = std::move(password);
  options.extra = std::move(extra);
  return options;
}

class SyncDryRunTest : public ::testing::Test {
 protected:
  std::string write_config(const Slapd& slapd, const DirectoryOptions& options) {
    const auto password_file = dir_.write("ldap.password", options.password + "\n");
    std::string toml = "state_dir = \"" + dir_.file("state") + "\"\n\n";
    toml += "[logging]\nlevel = \"info\"\n\n[tenants.acme]\ndisplay_name = \"Acme\"\n\n";
    toml += "[directories.corp]\ntenant = \"acme\"\nkind = \"openldap\"\n";
    toml += "uri = \"" + slapd.uri() + "\"\n";
    if (options.bind_as_root) {
      toml += "bind_dn = \"" + slapd.options().root_dn + "\"\n";
      toml += "bind_password = { file = \"" + password_file + "\" }\n";
    }
    // Small pages: the read must go through several of them.
    toml += options.extra;
    toml += "page_size = 7\ntimeout_seconds = 10\n\n";
    toml += "[directories.corp.users]\nbase_dns = [\"ou=people,dc=example,dc=com\"]\n";
    toml += "[directories.corp.users.attributes]\nuserName = \"{uid}\"\n";
    toml += "displayName = \"{givenName} {sn}\"\nname.givenName = \"{givenName}\"\n";
    toml += "name.familyName = \"{sn}\"\nemails.primary = \"{mail}\"\n\n";
    toml += "[[directories.corp.roles]]\ngroup = \"cn=admins,ou=groups,dc=example,dc=com\"\n";
    toml += "role = \"administrator\"\nprecedence = 10\n\n";
    toml += "[[directories.corp.groups]]\ngroup = \"sales\"\ntenant_group = \"Sales\"\n";
    toml += "kind = \"team\"\n\n";
    toml += options.tables;
    return dir_.write("idbridged.toml", toml);
  }

  // write_config's directory plus what `serve` needs: a loopback listener and a tenant token.
  std::string daemon_config(const Slapd& slapd, const DirectoryOptions& options,
                            const std::string& token) {
    std::ifstream in(write_config(slapd, options));
    std::stringstream text;
    text << in.rdbuf();
    const auto token_file = dir_.write("tenant.token", token + "\n");
    return text.str() +
           "\n[server]\nlisten = \"127.0.0.1:0\"\nplain_http = true\n\n"
           "[[tenants.acme.credentials]]\nname = \"okta\"\ntoken = { file = \"" +
           token_file + "\" }\nrole_ceiling = \"administrator\"\n";
  }

  static CommandResult dry_run(const std::string& config, bool json = true) {
    std::vector<std::string> argv{kBinary,       "sync", "--config", config,
                                  "--directory", "corp", "--dry-run"};
    if (json) {
      argv.push_back("--json");
    }
    return run_command(argv, std::chrono::seconds(60));
  }

  TempDir dir_;
};

const nlohmann::json* find_op(const nlohmann::json& plan, const std::string& kind,
                              const std::string& user_name, const std::string& group = "") {
  for (const auto& op : plan.at("operations")) {
    if (op.at("op") == kind && op.value("userName", "") == user_name &&
        op.value("group", "") == group) {
      return &op;
    }
  }
  return nullptr;
}

// The plan's counts (the JSON writes them as strings or numbers; either is accepted here).
int count(const nlohmann::json& plan, const std::string& key) {
  const auto& value = plan.at("counts").at(key);
  return value.is_string() ? std::stoi(value.get<std::string>()) : value.get<int>();
}

std::optional<std::string> change_after(const nlohmann::json& op, const std::string& path) {
  for (const auto& change : op.value("changes", nlohmann::json::array())) {
    if (change.at("path") == path && change.contains("after")) {
      return change.at("after").is_string() ? change.at("after").get<std::string>()
                                            : change.at("after").dump();
    }
  }
  return std::nullopt;
}

TEST_F(SyncDryRunTest, PlansCreatesRolesAndGroupsFromACompleteRead) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, {});

  // An existing tenant user with a directory userName is shown as an adoption, not a create.
  const auto csv = dir_.write("users.csv",
                              "userName,externalId,givenName,familyName,email\n"
                              "user30,,Old,Name,old30@example.com\n");
  const auto imported =
      run_command({kBinary, "import-users", "--config", config, "--tenant", "acme", "--file", csv});
  ASSERT_EQ(imported.status.code, 0) << imported.out << imported.err;

  const auto result = dry_run(config);
  ASSERT_EQ(result.status.code, 0) << result.out << result.err;
  const auto plan = nlohmann::json::parse(result.out);
  EXPECT_EQ(plan.at("directory"), "corp");
  EXPECT_EQ(plan.at("tenant"), "acme");
  EXPECT_EQ(plan.at("complete"), true) << plan.dump(2);
  EXPECT_EQ(plan.at("held"), false);
  EXPECT_EQ(count(plan, "read"), kUsers);
  EXPECT_EQ(count(plan, "creates"), kUsers - 1);
  EXPECT_EQ(count(plan, "disables"), 0);
  EXPECT_EQ(count(plan, "deletes"), 0);

  const auto* create = find_op(plan, "createUser", "user01");
  ASSERT_NE(create, nullptr) << plan.dump(2);
  EXPECT_EQ(change_after(*create, "userName"), "user01") << create->dump(2);
  EXPECT_EQ(change_after(*create, "displayName"), "Given1 Family") << create->dump(2);
  const auto dumped = create->dump();
  EXPECT_THAT(dumped, HasSubstr("user01@example.com"));
  // The admins group rule gives user01 its role; a user outside it keeps the default.
  EXPECT_THAT(dumped, HasSubstr("administrator"));
  const auto* plain = find_op(plan, "createUser", "user20");
  ASSERT_NE(plain, nullptr);
  EXPECT_THAT(plain->dump(), Not(HasSubstr("administrator")));

  EXPECT_NE(find_op(plan, "adoptUser", "user30"), nullptr) << plan.dump(2);
  EXPECT_EQ(find_op(plan, "createUser", "user30"), nullptr);

  // The sales group rule: the tenant group is created, and its directory members join it.
  bool create_group = false;
  for (const auto& op : plan.at("operations")) {
    create_group = create_group || (op.at("op") == "createGroup" && op.at("group") == "Sales");
  }
  EXPECT_TRUE(create_group) << plan.dump(2);
  EXPECT_NE(find_op(plan, "addMembership", "user03", "Sales"), nullptr) << plan.dump(2);
  EXPECT_NE(find_op(plan, "addMembership", "user12", "Sales"), nullptr);
  EXPECT_EQ(find_op(plan, "addMembership", "user13", "Sales"), nullptr);

  // The table form says the same, and nothing was written: the tenant still has one user.
  const auto table = dry_run(config, false);
  ASSERT_EQ(table.status.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("directory corp -> tenant acme"));
  EXPECT_THAT(table.out, HasSubstr("complete"));
  const auto exported =
      run_command({kBinary, "export-users", "--config", config, "--tenant", "acme"});
  ASSERT_EQ(exported.status.code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr("user30"));
  EXPECT_THAT(exported.out, Not(HasSubstr("user01")));
}

TEST_F(SyncDryRunTest, SizeLimitGivesAnIncompletePlanWithoutDisables) {
  TempDir slapd_dir;
  SlapdOptions options;
  options.size_limit = 10;  // the rootdn is exempt: read anonymously
  Slapd slapd(slapd_dir, options);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, anonymous_bind());

  const auto result = dry_run(config);
  EXPECT_EQ(result.status.code, 4) << result.out << result.err;
  const auto plan = nlohmann::json::parse(result.out);
  EXPECT_EQ(plan.at("complete"), false);
  EXPECT_THAT(plan.at("incompleteReason").get<std::string>(),
              HasSubstr("size_limit_exceeded on ou=people,dc=example,dc=com"));
  EXPECT_EQ(count(plan, "disables"), 0);
  EXPECT_EQ(count(plan, "deletes"), 0);
  EXPECT_LE(count(plan, "read"), 10);
  EXPECT_THAT(result.err, HasSubstr("directory read incomplete"));
}

TEST_F(SyncDryRunTest, WrongBindPasswordIsAnIncompleteReadNotAnEmptyDirectory) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, root_bind_with("not-the-password"));

  const auto result = dry_run(config);
  EXPECT_EQ(result.status.code, 4) << result.out << result.err;
  const auto plan = nlohmann::json::parse(result.out);
  EXPECT_EQ(plan.at("complete"), false);
  const auto reason = plan.at("incompleteReason").get<std::string>();
  EXPECT_THAT(reason, HasSubstr("cannot connect"));
  EXPECT_THAT(reason, HasSubstr("invalid_credentials"));
  EXPECT_THAT(result.out + result.err, Not(HasSubstr("not-the-password")));
  EXPECT_EQ(count(plan, "read"), 0);
  EXPECT_EQ(count(plan, "disables"), 0);
}

TEST_F(SyncDryRunTest, UnknownDirectoryAndBadPlanFilesAreRefused) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  const auto config = write_config(slapd, {});
  const auto unknown =
      run_command({kBinary, "sync", "--config", config, "--directory", "nope", "--dry-run"});
  EXPECT_EQ(unknown.status.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("directory nope"));
  const auto garbage = run_command(
      {kBinary, "sync", "--config", config, "--apply", dir_.write("plan.json", "{not json")});
  EXPECT_EQ(garbage.status.code, 1);
  EXPECT_THAT(garbage.err, HasSubstr("is not a plan file"));
}

// The run's JSON report from `sync --json` (apply runs print {"run", "plan", "failures"}).
nlohmann::json run_sync(const std::string& config, std::vector<std::string> extra, int expected) {
  std::vector<std::string> argv{kBinary, "sync", "--config", config, "--json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto result = run_command(argv, std::chrono::seconds(60));
  EXPECT_EQ(result.status.code, expected) << result.out << result.err;
  try {
    return nlohmann::json::parse(result.out);
  } catch (const nlohmann::json::exception&) {
    ADD_FAILURE() << "not JSON: " << result.out << result.err;
    return {};
  }
}

std::string exported_users(const std::string& config) {
  const auto exported =
      run_command({kBinary, "export-users", "--config", config, "--tenant", "acme"});
  EXPECT_EQ(exported.status.code, 0) << exported.err;
  return exported.out;
}

std::string delete_people_ldif(int from, int to) {
  std::string ldif;
  for (int i = from; i <= to; ++i) {
    ldif += "dn: " + person_dn(i) + "\nchangetype: delete\n\n";
  }
  return ldif;
}

TEST_F(SyncDryRunTest, ARunAppliesThePlanAndTheNextRunChangesNothing) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, {});

  const auto first = run_sync(config, {"--directory", "corp"}, 0);
  EXPECT_EQ(first["run"]["outcome"], "applied") << first.dump(2);
  EXPECT_EQ(first["run"]["kind"], "full");
  EXPECT_EQ(first["run"]["read"], kUsers);
  EXPECT_EQ(first["run"]["applied"], first["run"]["planned"]);
  EXPECT_EQ(first["run"]["failed"], 0);
  EXPECT_TRUE(first["failures"].empty());
  const auto users = exported_users(config);
  EXPECT_THAT(users, HasSubstr("user01"));
  EXPECT_THAT(users, HasSubstr("user30"));

  const auto second = run_sync(config, {"--directory", "corp"}, 0);
  EXPECT_EQ(second["run"]["outcome"], "unchanged") << second.dump(2);
  EXPECT_EQ(second["run"]["planned"], 0);

  const auto runs = run_sync(config, {"--runs"}, 0);
  ASSERT_EQ(runs.size(), 2u) << runs.dump(2);
  EXPECT_EQ(runs[0]["outcome"], "unchanged");  // newest first
  EXPECT_EQ(runs[1]["outcome"], "applied");
  EXPECT_GT(runs[0]["id"].get<int>(), runs[1]["id"].get<int>());
}

TEST_F(SyncDryRunTest, EveryRunLogsWhereItsTimeWent) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, {});
  const auto result = run_command({kBinary, "sync", "--config", config, "--directory", "corp"},
                                  std::chrono::seconds(60));
  ASSERT_EQ(result.status.code, 0) << result.out << result.err;
  std::optional<nlohmann::json> finished;
  std::istringstream lines(result.err);
  for (std::string line; std::getline(lines, line);) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("msg", "") == "sync run finished") {
      finished = record;
    }
  }
  ASSERT_TRUE(finished.has_value()) << result.err;
  EXPECT_EQ((*finished)["outcome"], "applied");
  EXPECT_EQ((*finished)["applied"], (*finished)["planned"]);
  for (const char* phase : {"read_ms", "view_ms", "plan_ms", "apply_ms"}) {
    ASSERT_TRUE(finished->contains(phase)) << finished->dump();
    ASSERT_TRUE((*finished)[phase].is_number_integer()) << finished->dump();
    EXPECT_GE((*finished)[phase].get<int>(), 0) << phase;
    EXPECT_LT((*finished)[phase].get<int>(), 60'000) << phase;
  }
  // Creating 30 users commits pages: applying cannot take no time at all.
  EXPECT_GT((*finished)["apply_ms"].get<int>() + (*finished)["read_ms"].get<int>(), 0);
}

TEST_F(SyncDryRunTest, APlanOverTheThresholdIsHeldUntilApprovedAndAppliedOnce) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  DirectoryOptions options;
  options.tables = "[directories.corp.safety]\nmax_disables = 5\n";
  const auto config = write_config(slapd, options);
  run_sync(config, {"--directory", "corp"}, 0);

  // Eight people leave: over max_disables = 5, so nothing is disabled and the plan is saved.
  slapd.modify_ldif(delete_people_ldif(21, 28));
  const auto held = run_sync(config, {"--directory", "corp"}, 3);
  EXPECT_EQ(held["run"]["outcome"], "held") << held.dump(2);
  EXPECT_EQ(held["plan"]["counts"]["disables"], "8");
  const std::string plan_file = held["run"]["planFile"];
  ASSERT_FALSE(plan_file.empty());
  const auto still_active =
      nlohmann::json::parse(run_command({kBinary, "sync", "--config", config, "--directory", "corp",
                                         "--dry-run", "--json"})
                                .out);
  EXPECT_EQ(still_active["counts"]["disables"], "8") << "nothing was disabled while held";

  // The admin approves: exactly the saved plan is applied.
  const auto approved = run_sync(config, {"--apply", plan_file}, 0);
  EXPECT_EQ(approved["run"]["kind"], "applyPlan") << approved.dump(2);
  EXPECT_EQ(approved["run"]["outcome"], "applied");
  EXPECT_EQ(approved["run"]["applied"], 8);
  const auto after = run_sync(config, {"--directory", "corp"}, 0);
  EXPECT_EQ(after["run"]["outcome"], "unchanged") << after.dump(2);

  // Approving the same plan twice does nothing the second time.
  const auto again = run_sync(config, {"--apply", plan_file}, 5);
  EXPECT_THAT(again["refusal"].get<std::string>(), HasSubstr("already applied"));
}

TEST_F(SyncDryRunTest, AHeldPlanIsRefusedWhenTheDirectoryChangedSince) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  DirectoryOptions options;
  options.tables = "[directories.corp.safety]\nmax_disables = 5\n";
  const auto config = write_config(slapd, options);
  run_sync(config, {"--directory", "corp"}, 0);
  slapd.modify_ldif(delete_people_ldif(21, 28));
  const auto held = run_sync(config, {"--directory", "corp"}, 3);
  const std::string plan_file = held["run"]["planFile"];

  // One more person leaves after the plan was made: the approval no longer matches.
  slapd.modify_ldif(delete_people_ldif(29, 29));
  const auto refused = run_sync(config, {"--apply", plan_file}, 5);
  EXPECT_THAT(refused["refusal"].get<std::string>(), HasSubstr("changed since the plan was made"))
      << refused.dump(2);
  EXPECT_EQ(refused["run"]["applied"], 0);
  const auto plan =
      nlohmann::json::parse(run_command({kBinary, "sync", "--config", config, "--directory", "corp",
                                         "--dry-run", "--json"})
                                .out);
  EXPECT_EQ(plan["counts"]["disables"], "9") << "nothing was applied";
}

TEST_F(SyncDryRunTest, CertificateVerificationOffIsLoggedWithItsConfigLine) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  const auto config =
      write_config(slapd, root_bind_with("admin-secret", "verify_certificate = false\n"));
  const auto result = dry_run(config);
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("directory TLS certificate verification is off"));
  EXPECT_THAT(result.err, HasSubstr(config + ":"));
  // A simple bind over ldap:// without TLS sends the password in clear: also a warning.
  EXPECT_THAT(result.err, HasSubstr("weakened directory connection"));
}

TEST_F(SyncDryRunTest, AnIncrementalRunReadsOnlyWhatChangedSinceTheStoredCursor) {
  TempDir slapd_dir;
  SlapdOptions slapd_options;
  slapd_options.syncprov_sessionlog = 100;  // deletes arrive as such, not as a present set
  Slapd slapd(slapd_dir, slapd_options);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, {});
  const auto first = run_sync(config, {"--directory", "corp"}, 0);
  ASSERT_EQ(first["run"]["outcome"], "applied") << first.dump(2);

  slapd.modify_ldif("dn: " + person_dn(5) +
                    "\nchangetype: modify\nreplace: sn\nsn: Renamed\n\n"
                    "dn: " +
                    person_dn(6) +
                    "\nchangetype: modify\nreplace: mail\nmail: six@example.org\n\n" +
                    delete_people_ldif(20, 20));  // in no group: see the next test
  const auto delta = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  EXPECT_EQ(delta["run"]["kind"], "incremental") << delta.dump(2);
  EXPECT_EQ(delta["run"]["read"], 2) << "only the two modified entries are read";
  EXPECT_EQ(delta["plan"]["counts"]["updates"], "2");
  EXPECT_EQ(delta["plan"]["counts"]["disables"], "1") << "the deleted entry is disabled";
  EXPECT_THAT(exported_users(config), HasSubstr("six@example.org"));

  // Nothing changed since: an incremental run reads nothing and plans nothing.
  const auto quiet = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  EXPECT_EQ(quiet["run"]["read"], 0) << quiet.dump(2);
  EXPECT_EQ(quiet["run"]["outcome"], "unchanged");
}

// The line of `export-users` for `user_name`, "" when there is none.
std::string exported_line(const std::string& config, const std::string& user_name) {
  std::istringstream exported(exported_users(config));
  for (std::string line; std::getline(exported, line);) {
    if (line.rfind(user_name + ",", 0) == 0) {
      return line;
    }
  }
  return "";
}

// Adding a user to a group changes only its memberOf, which slapd's syncprov does not report on
// the user: the reader watches the groups the rules name and keeps their members with the
// cursor, so the next incremental run reads the users who joined or left one (and only them),
// and the role, the profile and the tenant group follow.
TEST_F(SyncDryRunTest, AMembershipChangeOfARuleNamedGroupReachesTheNextIncrementalRun) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif() +
                 "\ndn: cn=helpdesk,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\n"
                 "cn: helpdesk\nmember: " +
                 person_dn(7) + "\nmember: " + person_dn(8) + "\n\n");
  DirectoryOptions options;
  options.tables =
      "[[directories.corp.profiles]]\ngroup = \"helpdesk\"\nprofile = \"helpdesk\"\n\n"
      "[[tenants.acme.profiles]]\nname = \"helpdesk\"\nrights = [\"manageUsers\"]\n";
  const auto config = write_config(slapd, options);
  const auto first = run_sync(config, {"--directory", "corp"}, 0);
  ASSERT_EQ(first["run"]["outcome"], "applied") << first.dump(2);
  ASSERT_THAT(exported_line(config, "user07"), HasSubstr("helpdesk"));
  const auto settled = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  ASSERT_EQ(settled["run"]["kind"], "incremental") << settled.dump(2);

  slapd.modify_ldif(
      "dn: cn=admins,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\nmember: " +
      person_dn(20) +
      "\n\n"
      "dn: cn=sales,ou=groups,dc=example,dc=com\nchangetype: modify\ndelete: member\nmember: " +
      person_dn(5) +
      "\n\n"
      "dn: cn=helpdesk,ou=groups,dc=example,dc=com\nchangetype: modify\ndelete: member\n"
      "member: " +
      person_dn(7) + "\n\n");
  const auto delta = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  EXPECT_EQ(delta["run"]["kind"], "incremental") << "who moved is known: no full read";
  EXPECT_EQ(delta["run"]["outcome"], "applied") << delta.dump(2);
  EXPECT_EQ(delta["run"]["read"], 3) << "the three users who joined or left, of " << kUsers;
  const auto& plan = delta["plan"];
  EXPECT_EQ(plan["kind"], "incremental");
  const auto* promoted = find_op(plan, "updateUser", "user20");
  ASSERT_NE(promoted, nullptr) << plan.dump(2);
  EXPECT_THAT(promoted->dump(), HasSubstr("administrator"));
  EXPECT_NE(find_op(plan, "removeMembership", "user05", "Sales"), nullptr) << plan.dump(2);
  EXPECT_NE(find_op(plan, "updateUser", "user07"), nullptr) << plan.dump(2);
  EXPECT_EQ(count(plan, "disables"), 0);
  EXPECT_EQ(plan["operations"].size(), 3u) << plan.dump(2);
  EXPECT_THAT(exported_line(config, "user20"), HasSubstr("administrator"));
  EXPECT_THAT(exported_line(config, "user07"), Not(HasSubstr("helpdesk")));
  EXPECT_THAT(exported_line(config, "user08"), HasSubstr("helpdesk"));

  const auto quiet = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  EXPECT_EQ(quiet["run"]["kind"], "incremental") << quiet.dump(2);
  EXPECT_EQ(quiet["run"]["outcome"], "unchanged") << quiet.dump(2);
  EXPECT_EQ(quiet["run"]["read"], 0);
}

// Without the member lists of the last cursor (a store of an earlier version, here emptied behind
// the daemon's back) the change cannot be attributed: the run reads everything, as before.
TEST_F(SyncDryRunTest, WithoutStoredMemberListsANamedGroupChangeGivesAFullRun) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  const auto config = write_config(slapd, {});
  const auto first = run_sync(config, {"--directory", "corp"}, 0);
  ASSERT_EQ(first["run"]["outcome"], "applied") << first.dump(2);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((dir_.file("state") + "/idbridge.db").c_str(), &db,
                              SQLITE_OPEN_READWRITE, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "DELETE FROM sync_rule_groups", nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 2) << "admins and sales were stored";
    sqlite3_close_v2(db);
  }
  slapd.modify_ldif(
      "dn: cn=admins,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\nmember: " +
      person_dn(20) + "\n\n");
  const auto delta = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  EXPECT_EQ(delta["run"]["kind"], "full") << delta.dump(2);
  EXPECT_EQ(delta["run"]["read"], kUsers);
  const auto* promoted = find_op(delta["plan"], "updateUser", "user20");
  ASSERT_NE(promoted, nullptr) << delta.dump(2);
  // That full run stored the lists: the next change is incremental again.
  slapd.modify_ldif(
      "dn: cn=admins,ou=groups,dc=example,dc=com\nchangetype: modify\ndelete: member\nmember: " +
      person_dn(20) + "\n\n");
  const auto next = run_sync(config, {"--directory", "corp", "--incremental"}, 0);
  EXPECT_EQ(next["run"]["kind"], "incremental") << next.dump(2);
  EXPECT_EQ(next["run"]["read"], 1);
}

// Polls `probe` every 200 ms until it returns true or `timeout` passes.
template <class Probe>
bool eventually(Probe&& probe, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

TEST_F(SyncDryRunTest, TheDaemonSyncsOnItsScheduleAndReportsOnStatus) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  DirectoryOptions options;
  options.extra = "full_sync_interval_seconds = 0\nincremental_sync_interval_seconds = 1\n";
  const std::string token = "status-token-0123456789abcdef";
  DaemonProcess daemon(kBinary, dir_, daemon_config(slapd, options, token));
  const auto port = daemon.wait_listening();
  ASSERT_NE(port, 0) << daemon.stderr_text();
  HttpConnection http("127.0.0.1", port);
  const Headers auth{{"Authorization", "Bearer " + token}};

  EXPECT_EQ(http.get("/status").status, 401);
  nlohmann::json status;
  ASSERT_TRUE(eventually(
      [&] {
        status = nlohmann::json::parse(http.request("GET", "/status", {}, auth).body);
        const auto& runs = status["directories"][0]["recentRuns"];
        return !runs.empty() && runs[0]["outcome"] != "running";
      },
      std::chrono::seconds(20)))
      << status.dump(2) << daemon.stderr_text();
  const auto& corp = status["directories"][0];
  EXPECT_EQ(corp["name"], "corp");
  EXPECT_EQ(corp["tenant"], "acme");
  EXPECT_TRUE(corp.contains("nextIncrementalSync")) << corp.dump(2);
  EXPECT_FALSE(corp.contains("nextFullSync"));
  const auto& first = corp["recentRuns"][corp["recentRuns"].size() - 1];
  EXPECT_EQ(first["outcome"], "applied") << corp.dump(2);

  const auto users = [&](const std::string& filter) {
    const auto response =
        http.request("GET", "/scim/v2/tenants/acme/Users?count=1&filter=" + filter, {}, auth);
    return nlohmann::json::parse(response.body).value("totalResults", -1);
  };
  EXPECT_EQ(users("userName%20sw%20%22user%22"), kUsers);

  // A user added to the directory appears through a later scheduled run.
  slapd.add_ldif(
      "dn: uid=newcomer,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
      "uid: newcomer\ncn: New Comer\ngivenName: New\nsn: Comer\n"
      "mail: newcomer@example.com\n\n");
  EXPECT_TRUE(eventually([&] { return users("userName%20eq%20%22newcomer%22") == 1; },
                         std::chrono::seconds(20)))
      << daemon.stderr_text();

  daemon.send_signal(SIGTERM);
  const auto exit = daemon.wait_exit(std::chrono::seconds(30));
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0) << daemon.stderr_text();
}

TEST_F(SyncDryRunTest, APersistingDaemonAppliesDirectoryChangesWithinSeconds) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  DirectoryOptions options;
  // No scheduled run after the first one during this test: what arrives comes through persist.
  options.extra =
      "full_sync_interval_seconds = 0\nincremental_sync_interval_seconds = 3600\npersist = true\n";
  const std::string token = "persist-token-0123456789abcdef";
  DaemonProcess daemon(kBinary, dir_, daemon_config(slapd, options, token));
  const auto port = daemon.wait_listening();
  ASSERT_NE(port, 0) << daemon.stderr_text();
  HttpConnection http("127.0.0.1", port);
  const Headers auth{{"Authorization", "Bearer " + token}};

  // The first scheduled run stores a cursor; persisting starts from it.
  nlohmann::json status;
  ASSERT_TRUE(eventually(
      [&] {
        status = nlohmann::json::parse(http.request("GET", "/status", {}, auth).body);
        return status["directories"][0].value("persisting", false);
      },
      std::chrono::seconds(20)))
      << status.dump(2) << daemon.stderr_text();
  // The first run read everything (no cursor yet); persisting's refresh may have added one.
  const auto& first_runs = status["directories"][0]["recentRuns"];
  ASSERT_FALSE(first_runs.empty()) << status.dump(2);
  EXPECT_EQ(first_runs[first_runs.size() - 1]["kind"], "full") << status.dump(2);
  EXPECT_EQ(first_runs[first_runs.size() - 1]["outcome"], "applied") << status.dump(2);
  EXPECT_TRUE(status["directories"][0]["persist"]);

  const auto users = [&](const std::string& filter) {
    const auto response =
        http.request("GET", "/scim/v2/tenants/acme/Users?count=1&filter=" + filter, {}, auth);
    return nlohmann::json::parse(response.body).value("totalResults", -1);
  };
  EXPECT_EQ(users("userName%20sw%20%22user%22"), kUsers);

  const auto started = std::chrono::steady_clock::now();
  slapd.add_ldif(
      "dn: uid=newcomer,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
      "uid: newcomer\ncn: New Comer\ngivenName: New\nsn: Comer\n"
      "mail: newcomer@example.com\n\n");
  ASSERT_TRUE(eventually([&] { return users("userName%20eq%20%22newcomer%22") == 1; },
                         std::chrono::seconds(10)))
      << daemon.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));

  // Applied as an incremental run of its own; the scheduled one is an hour away. The user is
  // visible once its page commits, the run's outcome a moment later.
  ASSERT_TRUE(eventually(
      [&] {
        status = nlohmann::json::parse(http.request("GET", "/status", {}, auth).body);
        return status["directories"][0]["recentRuns"][0].value("outcome", "") != "running";
      },
      std::chrono::seconds(10)));
  const auto& corp = status["directories"][0];
  ASSERT_GE(corp["recentRuns"].size(), 2u) << corp.dump(2);
  EXPECT_EQ(corp["recentRuns"][0]["kind"], "incremental") << corp.dump(2);
  EXPECT_EQ(corp["recentRuns"][0]["outcome"], "applied") << corp.dump(2);
  EXPECT_TRUE(corp["persisting"]) << corp.dump(2);
  EXPECT_FALSE(corp.contains("lastPersistError")) << corp.dump(2);

  const auto stopping = std::chrono::steady_clock::now();
  daemon.send_signal(SIGTERM);
  const auto exit = daemon.wait_exit(std::chrono::seconds(10));
  ASSERT_TRUE(exit) << daemon.stderr_text();
  EXPECT_EQ(exit->code, 0) << daemon.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(5));
}

// --- persist recovery ----------------------------------------------------------------------

// A daemon persisting `corp` (scheduled runs an hour apart after the first, so what arrives comes
// through persist or a run persist asked for), its /status and the tenant's users over SCIM.
class PersistingDaemon {
 public:
  PersistingDaemon(const TempDir& dir, const std::string& config_toml)
      : daemon_(kBinary, dir, config_toml) {
    const auto port = daemon_.wait_listening();
    if (port == 0) {
      throw std::runtime_error("the daemon did not listen: " + daemon_.stderr_text());
    }
    http_ = std::make_unique<HttpConnection>("127.0.0.1", port);
  }

  nlohmann::json corp() {
    const auto response = http_->request("GET", "/status", {}, auth());
    return nlohmann::json::parse(response.body)["directories"][0];
  }
  int users(const std::string& filter) {
    const auto response =
        http_->request("GET", "/scim/v2/tenants/acme/Users?count=1&filter=" + filter, {}, auth());
    return nlohmann::json::parse(response.body).value("totalResults", -1);
  }
  bool persisting() { return corp().value("persisting", false); }
  std::string log() const { return daemon_.stderr_text(); }
  DaemonProcess& process() { return daemon_; }

  static constexpr const char* token = "persist-token-0123456789abcdef";

 private:
  Headers auth() const { return {{"Authorization", std::string("Bearer ") + token}}; }
  DaemonProcess daemon_;
  std::unique_ptr<HttpConnection> http_;
};

class PersistRecoveryTest : public SyncDryRunTest {
 protected:
  // Starts the daemon and waits until it persists from the first run's cursor.
  std::unique_ptr<PersistingDaemon> start(const Slapd& slapd, const std::string& more = "",
                                          const std::string& tables = "") {
    DirectoryOptions options;
    options.extra =
        "full_sync_interval_seconds = 0\nincremental_sync_interval_seconds = 3600\n"
        "persist = true\n" +
        more;
    options.tables = tables;
    auto daemon = std::make_unique<PersistingDaemon>(
        dir_, daemon_config(slapd, options, PersistingDaemon::token));
    EXPECT_TRUE(eventually([&] { return daemon->persisting(); }, std::chrono::seconds(20)))
        << daemon->corp().dump(2) << daemon->log();
    return daemon;
  }
};

std::string newcomer(const std::string& name) {
  return "dn: uid=" + name +
         ",ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: " + name +
         "\ncn: " + name + "\ngivenName: New\nsn: Comer\nmail: " + name + "@example.com\n\n";
}

std::string named(const std::string& name) {
  return "userName%20eq%20%22" + name + "%22";
}

int count_runs(const nlohmann::json& runs, const std::string& kind, const std::string& outcome) {
  int n = 0;
  for (const auto& run : runs) {
    n += run.value("kind", "") == kind && run.value("outcome", "") == outcome ? 1 : 0;
  }
  return n;
}

TEST_F(PersistRecoveryTest, AServerRestartIsRetriedAndPersistingResumesFromTheStoredCursor) {
  TempDir slapd_dir;
  SlapdOptions slapd_options;
  slapd_options.syncprov_sessionlog = 100;
  Slapd slapd(slapd_dir, slapd_options);
  slapd.add_ldif(directory_ldif());
  auto daemon = start(slapd);

  slapd.stop();
  ASSERT_TRUE(eventually([&] { return !daemon->persisting(); }, std::chrono::seconds(10)))
      << daemon->log();
  ASSERT_TRUE(eventually([&] { return daemon->corp().contains("lastPersistError"); },
                         std::chrono::seconds(10)))
      << daemon->corp().dump(2);

  // Written before persisting reconnects: its refresh from the stored cookie brings it.
  slapd.start();
  slapd.add_ldif(newcomer("during"));
  ASSERT_TRUE(
      eventually([&] { return daemon->users(named("during")) == 1; }, std::chrono::seconds(20)))
      << daemon->corp().dump(2) << daemon->log();
  ASSERT_TRUE(eventually([&] { return daemon->persisting(); }, std::chrono::seconds(10)));
  slapd.add_ldif(newcomer("after"));
  ASSERT_TRUE(
      eventually([&] { return daemon->users(named("after")) == 1; }, std::chrono::seconds(10)))
      << daemon->log();

  // Resumed, not restarted: the first run is the only full one, and each change is one
  // incremental run (the empty refreshes leave no record). The user is visible once its page
  // commits, the run's outcome a moment later.
  nlohmann::json runs;
  ASSERT_TRUE(eventually(
      [&] {
        runs = daemon->corp()["recentRuns"];
        return count_runs(runs, "incremental", "running") == 0;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(count_runs(runs, "full", "applied"), 1) << runs.dump(2);
  EXPECT_EQ(count_runs(runs, "incremental", "applied"), 2) << runs.dump(2);
  EXPECT_EQ(count_runs(runs, "incremental", "unchanged"), 0) << runs.dump(2);
  EXPECT_EQ(runs.size(), 3u) << runs.dump(2);
  EXPECT_EQ(runs[0]["planned"], 1) << runs.dump(2);

  // The same records through the CLI.
  const auto listed = run_command({kBinary, "sync", "--config", daemon->process().config_path(),
                                   "--runs", "--directory", "corp", "--json"});
  ASSERT_EQ(listed.status.code, 0) << listed.err;
  const auto cli_runs = nlohmann::json::parse(listed.out);
  ASSERT_EQ(cli_runs.size(), 3u) << cli_runs.dump(2);
  EXPECT_EQ(cli_runs[0]["kind"], "incremental");
  EXPECT_EQ(cli_runs[0]["id"], runs[0]["id"]) << cli_runs.dump(2);
}

TEST_F(PersistRecoveryTest, ARuleNamedGroupChangeRunsAnIncrementalRunAtOnceAndPersistingResumes) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  auto daemon = start(slapd);
  slapd.modify_ldif(
      "dn: cn=admins,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\nmember: " +
      person_dn(20) + "\n\n");
  // Persisting ends (full_read_needed), and the run it asks for reads the one user who joined.
  nlohmann::json runs;
  ASSERT_TRUE(eventually(
      [&] {
        runs = daemon->corp()["recentRuns"];
        return count_runs(runs, "incremental", "applied") == 1;
      },
      std::chrono::seconds(20)))
      << daemon->corp().dump(2) << daemon->log();
  EXPECT_EQ(count_runs(runs, "full", "applied"), 1) << runs.dump(2);
  EXPECT_EQ(runs[0]["read"], 1) << runs.dump(2);
  std::string user20;
  std::istringstream exported(exported_users(daemon->process().config_path()));
  for (std::string line; std::getline(exported, line);) {
    user20 = line.find("user20") != std::string::npos ? line : user20;
  }
  EXPECT_THAT(user20, HasSubstr("administrator"));
  ASSERT_TRUE(eventually([&] { return daemon->persisting(); }, std::chrono::seconds(10)))
      << daemon->log();
  slapd.add_ldif(newcomer("later"));
  EXPECT_TRUE(
      eventually([&] { return daemon->users(named("later")) == 1; }, std::chrono::seconds(10)))
      << daemon->log();
}

// Holds the directory's run lock as a CLI run would.
class HeldRunLock {
 public:
  explicit HeldRunLock(const std::string& path)
      : fd_(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600)) {
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) {
      throw std::runtime_error("cannot lock " + path);
    }
  }
  ~HeldRunLock() { release(); }
  void release() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_;
};

TEST_F(PersistRecoveryTest, ABatchThatFindsTheRunLockTakenWaitsAndIsAppliedAfterwards) {
  TempDir slapd_dir;
  Slapd slapd(slapd_dir);
  slapd.add_ldif(directory_ldif());
  auto daemon = start(slapd);

  HeldRunLock lock(dir_.file("state") + "/locks/sync-corp");
  slapd.add_ldif(newcomer("waiting"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(daemon->users(named("waiting")), 0) << "applied while another run held the lock";
  lock.release();
  EXPECT_TRUE(
      eventually([&] { return daemon->users(named("waiting")) == 1; }, std::chrono::seconds(5)))
      << daemon->log();
  EXPECT_FALSE(daemon->corp().contains("lastPersistError")) << daemon->corp().dump(2);
}

TEST_F(PersistRecoveryTest, ABatchOverASafetyThresholdIsHeldNotAppliedAndApprovalResumesIt) {
  TempDir slapd_dir;
  SlapdOptions slapd_options;
  slapd_options.syncprov_sessionlog = 100;  // the deletions arrive as such, in one batch
  Slapd slapd(slapd_dir, slapd_options);
  slapd.add_ldif(directory_ldif());
  auto daemon = start(slapd, "", "[directories.corp.safety]\nmax_disables = 2\n");

  slapd.modify_ldif(delete_people_ldif(20, 23));  // four users in no group
  nlohmann::json corp;
  ASSERT_TRUE(eventually(
      [&] {
        corp = daemon->corp();
        return corp.value("held", false) &&
               corp.value("lastPersistError", "").find("held") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << corp.dump(2) << daemon->log();
  EXPECT_FALSE(corp.value("persisting", true)) << "paused while the plan waits";
  EXPECT_EQ(daemon->users("active%20eq%20false"), 0) << "a held batch disables nobody";
  const std::string plan_file = corp["recentRuns"][0].value("planFile", "");
  ASSERT_FALSE(plan_file.empty()) << corp.dump(2);
  // Paused, not looping: no second held run appears.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(count_runs(daemon->corp()["recentRuns"], "incremental", "held"), 1)
      << daemon->corp().dump(2);

  // The admin approves; persisting sees the cursor move and resumes.
  const auto approved = run_sync(daemon->process().config_path(), {"--apply", plan_file}, 0);
  EXPECT_EQ(approved["run"]["outcome"], "applied") << approved.dump(2);
  EXPECT_EQ(daemon->users("active%20eq%20false"), 4);
  ASSERT_TRUE(eventually([&] { return daemon->persisting(); }, std::chrono::seconds(10)))
      << daemon->log();
  slapd.add_ldif(newcomer("resumed"));
  EXPECT_TRUE(
      eventually([&] { return daemon->users(named("resumed")) == 1; }, std::chrono::seconds(10)))
      << daemon->log();
}

}  // namespace
}  // namespace idbridge::testing
