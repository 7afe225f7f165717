// idbridged argument parsing: every accepted form and every usage error.
#include "cli.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

namespace idbridge::daemon {
namespace {

ParsedCommandLine parse(std::vector<std::string_view> args) {
  return parse_command_line(args);
}

TEST(CliTest, Serve) {
  const auto parsed = parse({"--config", "/etc/idbridge/idbridged.toml"});
  ASSERT_TRUE(parsed.command_line) << parsed.error;
  EXPECT_EQ(parsed.command_line->command, Command::serve);
  EXPECT_EQ(parsed.command_line->config_path, "/etc/idbridge/idbridged.toml");
  EXPECT_FALSE(parsed.command_line->overrides.listen);
  EXPECT_FALSE(parsed.command_line->overrides.state_dir);
}

TEST(CliTest, ServeWithOverridesInBothForms) {
  const auto parsed =
      parse({"--config=/c.toml", "--listen", "127.0.0.1:0", "--state-dir=/var/lib/x/"});
  ASSERT_TRUE(parsed.command_line) << parsed.error;
  const auto& command = *parsed.command_line;
  EXPECT_EQ(command.command, Command::serve);
  EXPECT_EQ(command.config_path, "/c.toml");
  EXPECT_EQ(command.overrides.listen, "127.0.0.1:0");
  EXPECT_EQ(command.overrides.state_dir, "/var/lib/x/");
}

TEST(CliTest, RelativeStateDirBecomesAbsolute) {
  const auto parsed = parse({"--config", "c.toml", "--state-dir", "state"});
  ASSERT_TRUE(parsed.command_line) << parsed.error;
  EXPECT_EQ(parsed.command_line->overrides.state_dir,
            (std::filesystem::current_path() / "state").string());
}

TEST(CliTest, CheckConfig) {
  const auto parsed = parse({"--check-config", "idbridged.toml"});
  ASSERT_TRUE(parsed.command_line) << parsed.error;
  EXPECT_EQ(parsed.command_line->command, Command::check_config);
  EXPECT_EQ(parsed.command_line->config_path, "idbridged.toml");
}

TEST(CliTest, InitDemo) {
  const auto parsed = parse({"init-demo", "--state-dir", "/tmp/demo"});
  ASSERT_TRUE(parsed.command_line) << parsed.error;
  EXPECT_EQ(parsed.command_line->command, Command::init_demo);
  EXPECT_EQ(parsed.command_line->state_dir, "/tmp/demo");
  EXPECT_FALSE(parsed.command_line->demo_ldap_uri);

  const auto with_directory =
      parse({"init-demo", "--state-dir", "/tmp/demo", "--ldap-uri=ldap://127.0.0.1:3890",
             "--ldap-password-file", "/tmp/demo/demo-ldap/idbridge.password"});
  ASSERT_TRUE(with_directory.command_line) << with_directory.error;
  EXPECT_EQ(with_directory.command_line->demo_ldap_uri, "ldap://127.0.0.1:3890");
  EXPECT_EQ(with_directory.command_line->demo_ldap_password_file,
            "/tmp/demo/demo-ldap/idbridge.password");
}

TEST(CliTest, HelpAndVersionWin) {
  EXPECT_EQ(parse({"--help"}).command_line->command, Command::help);
  EXPECT_EQ(parse({"-h"}).command_line->command, Command::help);
  EXPECT_EQ(parse({"--config", "x", "--help"}).command_line->command, Command::help);
  EXPECT_EQ(parse({"--version"}).command_line->command, Command::version);
}

TEST(CliTest, UsageErrors) {
  const std::vector<std::vector<std::string_view>> cases = {
      {},                                 // nothing to do
      {"--config"},                       // missing value
      {"--config="},                      // empty value
      {"--listen", "127.0.0.1:1"},        // no --config
      {"--config", "a", "--frobnicate"},  // unknown flag
      {"--config", "a", "extra"},         // stray argument
      {"init-demo"},                      // needs --state-dir
      {"init-demo", "--state-dir", "d", "--config", "c"},
      {"--config", "a", "init-demo"},                                  // a command only comes first
      {"init-demo", "--state-dir", "d", "--ldap-uri", "ldap://h:1"},   // needs the password file
      {"init-demo", "--state-dir", "d", "--ldap-password-file", "p"},  // needs the URI
      {"init-demo", "--state-dir", "d", "--ldap-uri="},
      {"--config", "a", "--ldap-uri", "ldap://h:1"},  // only with init-demo
      {"--check-config", "a", "--listen", "127.0.0.1:1"},
  };
  for (const auto& args : cases) {
    const auto parsed = parse(args);
    EXPECT_FALSE(parsed.command_line) << ::testing::PrintToString(args);
    EXPECT_FALSE(parsed.error.empty());
  }
}

TEST(CliTest, UsageNamesEveryCommand) {
  const auto text = usage_text();
  for (const char* word : {"--config", "--listen", "--state-dir", "--check-config", "init-demo",
                           "--help", "--version"}) {
    EXPECT_NE(text.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace idbridge::daemon

namespace idbridge::daemon {
namespace {

TEST(CliTest, UsersCsvCommands) {
  const auto import = parse_command_line(std::vector<std::string_view>{
      "import-users", "--config", "/c.toml", "--tenant", "acme", "--file", "u.csv"});
  ASSERT_TRUE(import.command_line) << import.error;
  EXPECT_EQ(import.command_line->command, Command::import_users);
  EXPECT_EQ(import.command_line->tenant, "acme");
  EXPECT_EQ(import.command_line->file, "u.csv");
  const auto exported = parse_command_line(
      std::vector<std::string_view>{"export-users", "--config=/c.toml", "--tenant=acme"});
  ASSERT_TRUE(exported.command_line) << exported.error;
  EXPECT_EQ(exported.command_line->command, Command::export_users);
  EXPECT_FALSE(exported.command_line->file);
  EXPECT_FALSE(parse_command_line(std::vector<std::string_view>{"import-users", "--config",
                                                                "/c.toml", "--tenant", "acme"})
                   .command_line)
      << "import needs --file";
  EXPECT_FALSE(
      parse_command_line(std::vector<std::string_view>{"export-users", "--config", "/c.toml"})
          .command_line)
      << "a tenant is required";
  EXPECT_FALSE(
      parse_command_line(std::vector<std::string_view>{"--config", "/c.toml", "--tenant", "acme"})
          .command_line)
      << "--tenant only belongs to the CSV commands";
}

TEST(CliTest, SyncForms) {
  const auto parsed =
      parse({"sync", "--config", "/c.toml", "--directory=corp", "--dry-run", "--json"});
  ASSERT_TRUE(parsed.command_line) << parsed.error;
  const auto& command = *parsed.command_line;
  EXPECT_EQ(command.command, Command::sync);
  EXPECT_EQ(command.config_path, "/c.toml");
  EXPECT_EQ(command.directory, "corp");
  EXPECT_TRUE(command.json);
  EXPECT_TRUE(command.dry_run);
  EXPECT_FALSE(command.incremental);

  const auto run = parse({"sync", "--directory", "corp", "--incremental", "--config", "/c.toml"});
  ASSERT_TRUE(run.command_line) << run.error;
  EXPECT_FALSE(run.command_line->json);
  EXPECT_FALSE(run.command_line->dry_run);
  EXPECT_TRUE(run.command_line->incremental);

  const auto apply = parse({"sync", "--config", "/c.toml", "--apply", "/s/plans/corp-3.json"});
  ASSERT_TRUE(apply.command_line) << apply.error;
  EXPECT_EQ(apply.command_line->plan_file, "/s/plans/corp-3.json");

  const auto runs = parse({"sync", "--config", "/c.toml", "--runs", "--json"});
  ASSERT_TRUE(runs.command_line) << runs.error;
  EXPECT_TRUE(runs.command_line->list_runs);
  EXPECT_TRUE(runs.command_line->directory.empty());
}

TEST(CliTest, SyncUsageErrors) {
  // The plan file names its directory; a second, possibly different, name is refused.
  const auto apply =
      parse({"sync", "--config", "/c.toml", "--directory", "corp", "--apply", "plan.json"});
  ASSERT_FALSE(apply.command_line);
  EXPECT_NE(apply.error.find("from the plan file"), std::string::npos) << apply.error;
  EXPECT_FALSE(parse({"sync", "--config", "/c.toml", "--apply"}).command_line);
  EXPECT_FALSE(
      parse({"sync", "--config", "/c.toml", "--apply", "p.json", "--dry-run"}).command_line);
  EXPECT_FALSE(parse({"sync", "--config", "/c.toml", "--runs", "--incremental"}).command_line);
  const auto no_directory = parse({"sync", "--config", "/c.toml", "--dry-run"});
  ASSERT_FALSE(no_directory.command_line);
  EXPECT_NE(no_directory.error.find("--directory"), std::string::npos) << no_directory.error;
  EXPECT_FALSE(parse({"sync", "--directory", "corp", "--dry-run"}).command_line);
  EXPECT_FALSE(
      parse({"sync", "--config", "/c.toml", "--directory", "corp", "--dry-run", "--listen", "x"})
          .command_line);
  // --directory belongs to sync only.
  EXPECT_FALSE(parse({"--config", "/c.toml", "--directory", "corp"}).command_line);
  EXPECT_NE(usage_text().find("sync --config FILE --apply PLANFILE"), std::string::npos);
}

}  // namespace
}  // namespace idbridge::daemon
