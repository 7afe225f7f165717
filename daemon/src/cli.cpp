// Parsing of idbridged's arguments into a CommandLine, or a usage error.
#include "cli.hpp"

#include <charconv>
#include <filesystem>
#include <vector>

namespace idbridge::daemon {
namespace {

struct Arg {
  std::string_view flag;
  std::optional<std::string_view> inline_value;  // from "--flag=value"
};

Arg split_flag(std::string_view arg) {
  const auto eq = arg.find('=');
  if (arg.starts_with("--") && eq != std::string_view::npos) {
    return {arg.substr(0, eq), arg.substr(eq + 1)};
  }
  return {arg, std::nullopt};
}

ParsedCommandLine usage_error(std::string message) {
  return {std::nullopt, std::move(message)};
}

}  // namespace

ParsedCommandLine parse_command_line(std::span<const std::string_view> args) {
  CommandLine result;
  std::optional<std::string> config_path;
  std::optional<std::string> check_path;
  bool init_demo = false;
  std::optional<Command> csv_command;
  std::optional<std::string> tenant;
  bool sync = false;
  bool writeback = false;
  bool help = false;
  bool version = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto [flag, inline_value] = split_flag(args[i]);
    // Takes the flag's value from "=VALUE" or from the next argument.
    auto value = [&, attached = inline_value]() -> std::optional<std::string> {
      if (attached) {
        return std::string(*attached);
      }
      if (i + 1 < args.size()) {
        return std::string(args[++i]);
      }
      return std::nullopt;
    };
    if (i == 0 && flag == "init-demo") {
      init_demo = true;
    } else if (init_demo && (flag == "--ldap-uri" || flag == "--ldap-password-file")) {
      auto v = value();
      if (!v || v->empty()) {
        return usage_error(std::string(flag) + " needs a value");
      }
      (flag == "--ldap-uri" ? result.demo_ldap_uri : result.demo_ldap_password_file) =
          std::move(*v);
    } else if (i == 0 && (flag == "import-users" || flag == "export-users")) {
      csv_command = flag == "import-users" ? Command::import_users : Command::export_users;
    } else if (i == 0 && flag == "sync") {
      sync = true;
    } else if (i == 0 && flag == "writeback") {
      writeback = true;
    } else if (writeback && flag == "--conflicts") {
      result.list_conflicts = true;
    } else if (writeback && flag == "--outbox") {
      result.list_outbox = true;
    } else if (writeback && flag == "--retry") {
      auto v = value();
      std::int64_t id = 0;
      if (!v || v->empty() ||
          std::from_chars(v->data(), v->data() + v->size(), id).ptr != v->data() + v->size() ||
          id <= 0) {
        return usage_error("--retry needs the id of a parked write (see writeback --outbox)");
      }
      result.retry_id = id;
    } else if ((sync || writeback) && flag == "--directory") {
      auto v = value();
      if (!v || v->empty()) {
        return usage_error("--directory needs a value");
      }
      result.directory = std::move(*v);
    } else if (sync && flag == "--dry-run") {
      result.dry_run = true;
    } else if (sync && flag == "--incremental") {
      result.incremental = true;
    } else if ((sync || writeback) && flag == "--json") {
      result.json = true;
    } else if (sync && flag == "--runs") {
      result.list_runs = true;
    } else if (sync && flag == "--apply") {
      auto v = value();
      if (!v || v->empty()) {
        return usage_error("--apply needs a plan file");
      }
      result.plan_file = std::move(*v);
    } else if (csv_command && (flag == "--tenant" || flag == "--file")) {
      auto v = value();
      if (!v || v->empty()) {
        return usage_error(std::string(flag) + " needs a value");
      }
      (flag == "--tenant" ? tenant : result.file) = std::move(*v);
    } else if (flag == "--help" || flag == "-h") {
      help = true;
    } else if (flag == "--version") {
      version = true;
    } else if (flag == "--config" || flag == "--check-config" || flag == "--listen" ||
               flag == "--state-dir") {
      auto v = value();
      if (!v || v->empty()) {
        return usage_error(std::string(flag) + " needs a value");
      }
      if (flag == "--config") {
        config_path = std::move(*v);
      } else if (flag == "--check-config") {
        check_path = std::move(*v);
      } else if (flag == "--listen") {
        result.overrides.listen = std::move(*v);
      } else {
        result.state_dir = std::move(*v);
      }
    } else {
      return usage_error("unknown argument '" + std::string(args[i]) + "'");
    }
  }

  if (help) {
    result.command = Command::help;
    return {result, {}};
  }
  if (version) {
    result.command = Command::version;
    return {result, {}};
  }
  if (writeback) {
    if (!config_path) {
      return usage_error("writeback needs --config FILE");
    }
    const int actions =
        int{result.list_conflicts} + int{result.list_outbox} + int{result.retry_id.has_value()};
    if (actions != 1 || check_path || result.overrides.listen) {
      return usage_error("writeback takes one of --conflicts, --outbox or --retry ID");
    }
    if (result.list_outbox && result.directory.empty()) {
      return usage_error("writeback --outbox needs --directory NAME");
    }
    result.command = Command::writeback;
    result.config_path = std::move(*config_path);
    return {result, {}};
  }
  if (sync) {
    if (!config_path) {
      return usage_error("sync needs --config FILE");
    }
    if (check_path || result.overrides.listen) {
      return usage_error(
          "sync takes --config, --directory, --dry-run, --incremental, --apply, --runs, --json "
          "and --state-dir");
    }
    if (result.list_runs) {
      if (result.plan_file || result.dry_run || result.incremental) {
        return usage_error("sync --runs takes only --directory and --json");
      }
    } else if (result.plan_file) {
      if (result.dry_run || result.incremental || !result.directory.empty()) {
        return usage_error(
            "sync --apply takes the directory from the plan file; it takes only --json");
      }
    } else if (result.directory.empty()) {
      return usage_error("sync needs --directory NAME (or --apply PLANFILE, or --runs)");
    }
    result.command = Command::sync;
    result.config_path = std::move(*config_path);
    if (result.state_dir) {
      result.overrides.state_dir =
          std::filesystem::absolute(*result.state_dir).lexically_normal().string();
    }
    return {result, {}};
  }
  if (csv_command) {
    const std::string name =
        *csv_command == Command::import_users ? "import-users" : "export-users";
    if (!config_path || !tenant) {
      return usage_error(name + " needs --config FILE and --tenant ID");
    }
    if (*csv_command == Command::import_users && !result.file) {
      return usage_error("import-users needs --file CSV");
    }
    if (check_path || result.overrides.listen) {
      return usage_error(name + " takes --config, --tenant, --file and --state-dir");
    }
    result.command = *csv_command;
    result.config_path = std::move(*config_path);
    result.tenant = std::move(*tenant);
    if (result.state_dir) {
      result.overrides.state_dir =
          std::filesystem::absolute(*result.state_dir).lexically_normal().string();
    }
    return {result, {}};
  }
  if (init_demo) {
    if (!result.state_dir) {
      return usage_error("init-demo needs --state-dir DIR");
    }
    if (config_path || check_path || result.overrides.listen) {
      return usage_error("init-demo takes only --state-dir, --ldap-uri and --ldap-password-file");
    }
    if (result.demo_ldap_uri.has_value() != result.demo_ldap_password_file.has_value()) {
      return usage_error("init-demo needs --ldap-uri and --ldap-password-file together");
    }
    result.command = Command::init_demo;
    return {result, {}};
  }
  if (check_path) {
    if (config_path || result.overrides.listen || result.state_dir) {
      return usage_error("--check-config takes no other option");
    }
    result.command = Command::check_config;
    result.config_path = std::move(*check_path);
    return {result, {}};
  }
  if (!config_path) {
    return usage_error("--config FILE is required");
  }
  result.command = Command::serve;
  result.config_path = std::move(*config_path);
  if (result.state_dir) {
    // config::Overrides wants an absolute directory; relative means relative to the cwd.
    result.overrides.state_dir =
        std::filesystem::absolute(*result.state_dir).lexically_normal().string();
  }
  return {result, {}};
}

std::string usage_text() {
  return "usage: idbridged --config FILE [--listen ADDR:PORT] [--state-dir DIR]\n"
         "       idbridged --check-config FILE\n"
         "       idbridged init-demo --state-dir DIR [--ldap-uri URI --ldap-password-file FILE]\n"
         "       idbridged import-users --config FILE --tenant ID --file CSV\n"
         "       idbridged export-users --config FILE --tenant ID [--file CSV]\n"
         "       idbridged sync --config FILE --directory NAME [--dry-run] [--incremental]\n"
         "                      [--json]\n"
         "       idbridged sync --config FILE --apply PLANFILE [--json]\n"
         "       idbridged sync --config FILE --runs [--directory NAME] [--json]\n"
         "       idbridged writeback --config FILE --conflicts [--directory NAME] [--json]\n"
         "       idbridged writeback --config FILE --outbox --directory NAME [--json]\n"
         "       idbridged writeback --config FILE --retry ID\n"
         "       idbridged --help | --version\n"
         "\n"
         "  --config FILE        serve with the TOML configuration FILE\n"
         "  --listen ADDR:PORT   override server.listen (port 0 picks a free port)\n"
         "  --state-dir DIR      override state_dir (the SQLite database lives there)\n"
         "  --check-config FILE  validate FILE, print every problem, exit 0 when valid\n"
         "  init-demo            write a demo configuration (plain HTTP on 127.0.0.1:8080,\n"
         "                       tenant 'demo', a random bearer token) into DIR and print\n"
         "                       the configuration's path; with --ldap-uri, also a\n"
         "                       [directories.demo] section for the demo directory\n"
         "                       (config/examples/demo-directory.ldif) bound with the\n"
         "                       password in --ldap-password-file\n"
         "  import-users         create or update the tenant's users from a CSV file; each\n"
         "                       row is applied whole or refused whole, with a report per\n"
         "                       row; exits 1 when any row was refused\n"
         "  export-users         write the tenant's users as CSV (stdout without --file)\n"
         "  sync                 read the directory (everything, or with --incremental what\n"
         "                       changed since the last run), plan the changes to its tenant,\n"
         "                       print the plan (a table, or JSON with --json) and apply it,\n"
         "                       unless it exceeds a safety threshold: then it is saved and\n"
         "                       held until approved with --apply. --dry-run only prints.\n"
         "                       Exits 0; 1 when a run failed or operations were refused; 3\n"
         "                       held; 4 read incomplete (nothing disabled or deleted); 5\n"
         "                       --apply refused because the directory or tenant changed; 6\n"
         "                       another run of the directory is in progress\n"
         "  sync --apply FILE    approve and apply a held plan, exactly as saved\n"
         "  sync --runs          list the recorded sync runs, newest first\n"
         "  writeback            write-back to directories (docs/writeback.md):\n"
         "                       --conflicts lists the recorded conflicts (the value that\n"
         "                       lost, per attribute), --outbox the queued and parked\n"
         "                       writes, --retry ID sends a parked write again\n";
}

}  // namespace idbridge::daemon
