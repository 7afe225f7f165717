// Wiring and the idbridged commands: config -> store -> service -> router -> server, in one
// function, with every config problem reported before anything is bound.
#include "wiring.hpp"

#include "debug_routes.hpp"
#include "demo.hpp"
#include "health.hpp"
#include "idbridge/core/csv_io.hpp"
#include "idbridge/core/error.hpp"
#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/core/sync/mapping.hpp"
#include "idbridge/core/writeback/interceptor.hpp"
#include "idbridge/crypto/crypto.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "logger.hpp"
#include "scim_routes.hpp"
#include "server.hpp"
#include "status_routes.hpp"
#include "sync_command.hpp"
#include "sync_runner.hpp"
#include "sync_scheduler.hpp"
#include "writeback_command.hpp"
#include "writeback_delivery.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>
#include <thread>

#ifndef IDBRIDGE_VERSION
#define IDBRIDGE_VERSION "unknown"
#endif

namespace idbridge::daemon {
namespace {

namespace fs = std::filesystem;

void print_errors(const std::vector<config::ConfigError>& errors, std::ostream& err) {
  for (const auto& error : errors) {
    err << error.to_string() << '\n';
  }
  err.flush();
}

// Reads the TLS material; config::check_secrets has already reported unreadable references.
std::optional<TlsMaterial> load_tls(const config::Config& config,
                                    std::vector<config::ConfigError>& errors) {
  if (!config.server.tls) {
    return std::nullopt;
  }
  const auto& tls = *config.server.tls;
  TlsMaterial material;
  std::ifstream chain(tls.certificate_file, std::ios::binary);
  std::ostringstream text;
  text << chain.rdbuf();
  if (!chain || text.str().empty()) {
    const auto& where = tls.certificate_where;
    errors.push_back({where.file, where.line, where.column, "server.tls.certificate_file",
                      "cannot read certificate chain file " + tls.certificate_file});
  }
  material.certificate_chain_pem = text.str();
  auto key = config::resolve_secret(tls.private_key);
  if (!key.value) {
    return std::nullopt;
  }
  material.private_key_pem = std::move(*key.value);
  return material;
}

unsigned io_thread_count(unsigned configured) {
  if (configured != 0) {
    return configured;
  }
  return std::max(1U, std::thread::hardware_concurrency());
}

// Store calls block: writes wait for fsync, reads for pages. Many more blocking threads than
// cores keep reads flowing while writers wait on the disk (SQLite readers never wait for
// writers), and let enough writes be in flight for group commit to share one fsync among them.
unsigned blocking_thread_count(unsigned configured_io_threads) {
  return std::max(8U, 4 * io_thread_count(configured_io_threads));
}

bool test_routes_enabled() {
  const char* value = std::getenv("IDBRIDGE_TEST_ROUTES");
  return value != nullptr && std::string_view(value) == "1";
}

// The store and the identity service over it, with the ports the service needs. Built the same
// way for the server and for the CLI commands; never moved once built (the service holds
// references to its ports).
struct IdentityCore {
  std::unique_ptr<core::Store> store;
  core::SystemClock clock;
  // Time-ordered: user and group ids append to their indexes (core/ports.hpp).
  core::TimeOrderedUuidGenerator ids{clock};
  crypto::ScryptPasswordHasher passwords;
  std::optional<core::TzdataZoneCatalog> zones;
  // Seals passwords queued for write-back (STATE/writeback.key); only when a directory takes them.
  std::optional<crypto::AesGcmSealer> sealer;
  std::optional<core::writeback::WriteBackInterceptor> write_back;
  std::optional<core::IdentityService> service;

  // Opens the store and ensures every configured tenant; logs and returns null on failure.
  // `notifier` (the server's write-back delivery) learns of committed changes that queued writes.
  static std::unique_ptr<IdentityCore> open(const config::Config& config, Logger& logger,
                                            core::writeback::OutboxNotifier* notifier = nullptr) {
    std::error_code ec;
    fs::create_directories(config.state_dir, ec);
    if (ec) {
      logger.error("cannot create state directory",
                   {{"path", config.state_dir}, {"error", ec.message()}});
      return nullptr;
    }
    auto core = std::make_unique<IdentityCore>();
    try {
      store::SqliteOptions options;
      options.path = config.store.sqlite_path;
      // One pooled reader per blocking thread: a request that finds the pool empty opens (and
      // then closes) a connection of its own, which costs more than the read itself.
      options.reader_connections = blocking_thread_count(config.server.threads);
      core->store = store::open_sqlite_store(options);
    } catch (const std::exception& e) {
      logger.error("cannot open store", {{"path", config.store.sqlite_path}, {"error", e.what()}});
      return nullptr;
    }
    try {
      core->zones.emplace();
    } catch (const std::exception& e) {
      logger.error("cannot read the time-zone catalogue", {{"error", e.what()}});
      return nullptr;
    }
    std::vector<core::TenantSettings> tenants;
    for (const auto& tenant : config.tenants) {
      tenants.push_back(tenant.settings);
    }
    // Every directory's authority rules apply to SCIM writes, whether or not it takes writes.
    std::vector<core::writeback::Policy> policies;
    for (const auto& directory : config.directories) {
      policies.push_back(directory.writeback);
      if (directory.writeback.operations.password && !core->sealer) {
        try {
          core->sealer.emplace(
              crypto::AesGcmSealer::from_key_file(config.state_dir + "/writeback.key"));
        } catch (const std::exception& e) {
          logger.error("cannot open the write-back key", {{"error", e.what()}});
          return nullptr;
        }
      }
    }
    core->write_back.emplace(std::move(policies), core->clock,
                             core->sealer ? &*core->sealer : nullptr, notifier);
    core->service.emplace(
        core::IdentityService::Ports{*core->store, core->clock, core->ids, core->passwords,
                                     *core->zones, &*core->write_back},
        config.provider, std::move(tenants));
    for (const auto& id : core->service->tenant_ids()) {
      const auto ensured = core->service->ensure_tenant(id);
      if (!ensured) {
        logger.error("cannot create tenant",
                     {{"tenant", id.str()}, {"error", ensured.error().detail}});
        return nullptr;
      }
    }
    return core;
  }
};

// The directory a plan file is for, or "" when the file has none.
std::string directory_of_plan(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  try {
    const auto plan = nlohmann::json::parse(in);
    return plan.is_object() && plan.contains("directory") && plan["directory"].is_string()
               ? plan["directory"].get<std::string>()
               : "";
  } catch (const nlohmann::json::exception&) {
    return "";
  }
}

// Directories other than `directory` that sync into its tenant.
std::vector<std::string> sibling_directories(const config::Config& config,
                                             const config::DirectoryConfig& directory) {
  std::vector<std::string> names;
  for (const auto& other : config.directories) {
    if (other.name != directory.name && other.tenant == directory.tenant) {
      names.push_back(other.name);
    }
  }
  return names;
}

// The directory's bind password, or nullopt after printing why it cannot be read (a
// configuration problem: exit 1, not an incomplete read).
std::optional<std::string> bind_password(const config::DirectoryConfig& directory,
                                         std::ostream& err) {
  if (!directory.bind_password) {
    return std::string();
  }
  auto secret = config::resolve_secret(*directory.bind_password);
  if (!secret.value) {
    const auto& ref = *directory.bind_password;
    print_errors(
        {{ref.where.file, ref.where.line, ref.where.column, ref.key_path, std::move(secret.error)}},
        err);
    return std::nullopt;
  }
  return std::move(*secret.value);
}

int serve_loaded(config::Config config) {
  Logger logger(config.logging.level);
  // Every secret must be readable at start, not at the first request.
  auto errors = config::check_secrets(config);
  auto tls = load_tls(config, errors);
  if (!errors.empty()) {
    print_errors(errors, std::cerr);
    return kExitFailure;
  }
  if (config.store.backend != config::StoreBackend::sqlite) {
    logger.error("store backend not supported by this build", {{"backend", "postgresql"}});
    return kExitFailure;
  }

  // Declaration order is destruction order in reverse: the server (and its threads) goes first,
  // then the service, then the store. The write-back wake-ups outlive everything that signals
  // them (the service's interceptor, the syncs) and the worker that waits on them.
  WriteBackWakeups wakeups;
  auto identity = IdentityCore::open(config, logger, &wakeups);
  if (!identity) {
    return kExitFailure;
  }
  core::Store* store = identity->store.get();
  core::IdentityService& service = *identity->service;

  // Directory syncs run on their own threads, each on its schedule; they stop (after the page
  // being applied) before the store closes.
  std::atomic<bool> stopping_syncs{false};
  std::vector<ScheduledDirectory> scheduled;
  std::vector<std::unique_ptr<WriteBackDelivery>> deliveries;
  for (const auto& directory : config.directories) {
    if (!directory.verify_certificate) {
      const auto& where = directory.verify_certificate_where;
      logger.warning("directory TLS certificate verification is off",
                     {{"directory", directory.name},
                      {"config", where.file + ":" + std::to_string(where.line)}});
    }
    auto password = bind_password(directory, std::cerr);
    if (!password) {
      return kExitFailure;
    }
    for (const auto& warning : ldap::warnings(read_settings(directory, "").connection)) {
      logger.warning("weakened directory connection",
                     {{"directory", directory.name}, {"warning", warning}});
    }
    if (directory.writeback.operations.any()) {
      deliveries.push_back(std::make_unique<WriteBackDelivery>(
          directory, read_settings(directory, *password).connection, *store, identity->clock,
          logger, identity->sealer ? &*identity->sealer : nullptr));
    }
    ScheduledDirectory entry;
    if (directory.persist) {
      entry.persister = ldap_directory_persister(directory, *password);
    }
    entry.sync = std::make_unique<DirectorySync>(
        directory, ldap_directory_reader(directory, std::move(*password), logger),
        SyncEnvironment{service, identity->clock, logger, config.state_dir,
                        sibling_directories(config, directory),
                        [&stopping_syncs] { return stopping_syncs.load(); },
                        [&wakeups, name = directory.name] { wakeups.queued(name); }});
    entry.full_interval = directory.full_sync_interval;
    entry.incremental_interval = directory.incremental_sync_interval;
    scheduled.push_back(std::move(entry));
  }
  SyncScheduler scheduler(std::move(scheduled), *store, logger);
  WriteBackWorker write_back(std::move(deliveries), logger, wakeups);

  const bool debug_routes = test_routes_enabled();
  if (debug_routes) {
    logger.warning("test routes enabled (IDBRIDGE_TEST_ROUTES=1)");
  }
  ServerOptions options;
  options.listen = config.server.listen;
  options.tls = std::move(tls);
  options.io_threads = io_thread_count(config.server.threads);
  options.blocking_threads = blocking_thread_count(config.server.threads);
  options.max_body_bytes = config.server.max_body_bytes;
  options.request_timeout = config.server.request_timeout;
  options.shutdown_grace = config.server.shutdown_grace;

  std::vector<config::ConfigError> credential_errors;
  auto credentials = load_scim_credentials(config, credential_errors);
  // JWKS files are read once, here: rotating an issuer's keys takes a restart.
  auto jwt_issuers = load_jwt_issuers(config, credential_errors);
  const scim::BearerAuthenticator authenticator(
      std::move(credentials), scim::JwtVerifier(std::move(jwt_issuers), [clock = &identity->clock] {
        return clock->now();
      }));
  if (!credential_errors.empty()) {
    print_errors(credential_errors, std::cerr);
    return kExitFailure;
  }
  scim::Limits scim_limits;
  scim_limits.max_payload_bytes = config.server.max_body_bytes;
  scim::Service scim_service(service, *store, scim_limits);
  Router router = make_router(*store, service, logger, debug_routes);
  add_scim_routes(router, scim_service, authenticator, options.tls.has_value(),
                  config.server.public_base_url, logger);
  add_status_route(router, scheduler, authenticator);

  std::optional<Server> server;
  try {
    server.emplace(std::move(options), std::move(router), logger);
  } catch (const std::exception& e) {
    logger.error("cannot load the TLS certificate and key", {{"error", e.what()}});
    return kExitFailure;
  }
  try {
    server->listen();
  } catch (const std::exception& e) {
    logger.error("cannot listen", {{"address", config.server.listen.host},
                                   {"port", config.server.listen.port},
                                   {"error", e.what()}});
    return kExitFailure;
  }
  scheduler.start();
  write_back.start();
  server->run();
  stopping_syncs = true;
  scheduler.stop();
  write_back.stop();
  server.reset();
  logger.info("stopped");
  return kExitOk;
}

}  // namespace

Router make_router(core::Store& store, core::IdentityService& service, Logger& logger,
                   bool test_routes) {
  Router router({
      {Method::get, "/healthz", handle_healthz, Execution::io_thread},
      {Method::get, "/readyz",
       [&store, &service, &logger](const Request&) {
         return handle_readyz(probe_readiness(store, service, logger));
       },
       Execution::blocking_pool},
  });
  if (test_routes) {
    add_debug_routes(router, logger);
  }
  return router;
}

int check_config(const std::string& path, std::ostream& out, std::ostream& err) {
  auto loaded = config::load_config_file(path);
  auto errors = std::move(loaded.errors);
  if (errors.empty() && loaded.config) {
    errors = config::validate_effective(*loaded.config);
    // JWKS files hold public keys, not secrets, so checking them here reads nothing private.
    load_jwt_issuers(*loaded.config, errors);
  }
  if (!errors.empty()) {
    print_errors(errors, err);
    return kExitFailure;
  }
  out << path << ": OK\n";
  return kExitOk;
}

int serve(const CommandLine& command_line) {
  auto loaded = config::load_config_file(command_line.config_path);
  if (!loaded.errors.empty() || !loaded.config) {
    print_errors(loaded.errors, std::cerr);
    return kExitFailure;
  }
  config::Config config = std::move(*loaded.config);
  auto errors = config::apply_overrides(config, command_line.overrides);
  if (errors.empty()) {
    errors = config::validate_effective(config);
  }
  if (!errors.empty()) {
    print_errors(errors, std::cerr);
    return kExitFailure;
  }
  return serve_loaded(std::move(config));
}

namespace {

// The CLI principal: an administrator at the console has every right on the tenant; the OS user
// is recorded as the actor of every change.
core::Principal cli_principal(const core::TenantId& tenant) {
  core::Principal who;
  const char* user = std::getenv("USER");
  who.actor = {core::ActorKind::cli, user != nullptr ? user : "uid:" + std::to_string(::getuid())};
  who.origin = {core::OriginKind::cli, ""};
  who.ceiling = core::Role::account_owner;
  who.tenant_scope = tenant;
  return who;
}

}  // namespace

int users_csv(const CommandLine& command_line, std::ostream& out, std::ostream& err) {
  auto loaded = config::load_config_file(command_line.config_path);
  if (!loaded.errors.empty() || !loaded.config) {
    print_errors(loaded.errors, err);
    return kExitFailure;
  }
  config::Config config = std::move(*loaded.config);
  if (auto errors = config::apply_overrides(config, command_line.overrides); !errors.empty()) {
    print_errors(errors, err);
    return kExitFailure;
  }
  Logger logger(config.logging.level);
  auto identity = IdentityCore::open(config, logger);
  if (!identity) {
    return kExitFailure;
  }
  const core::TenantId tenant(command_line.tenant);
  if (identity->service->tenant(tenant) == nullptr) {
    err << "idbridged: tenant " << tenant.str() << " is not in " << command_line.config_path
        << '\n';
    return kExitFailure;
  }
  if (command_line.command == Command::export_users) {
    const std::string csv = core::export_users_csv(*identity->store->read(), tenant);
    if (!command_line.file) {
      out << csv;
      return kExitOk;
    }
    std::ofstream file(*command_line.file, std::ios::binary | std::ios::trunc);
    file << csv;
    file.close();
    if (!file) {
      err << "idbridged: cannot write " << *command_line.file << '\n';
      return kExitFailure;
    }
    return kExitOk;
  }
  std::ifstream file(*command_line.file, std::ios::binary);
  if (!file) {
    err << "idbridged: cannot read " << *command_line.file << '\n';
    return kExitFailure;
  }
  const std::string csv((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto report =
      core::import_users_csv(*identity->service, cli_principal(tenant), tenant, csv);
  if (report.file_error) {
    err << *command_line.file << ": " << core::to_string(report.file_error->code) << ": "
        << report.file_error->detail << '\n';
    return kExitFailure;
  }
  for (const auto& row : report.rows) {
    out << *command_line.file << ":" << row.line << ": " << row.user_name << ": "
        << core::to_string(row.outcome);
    if (row.error) {
      out << ": " << core::to_string(row.error->code) << ": " << row.error->detail;
    }
    out << '\n';
  }
  out << "created " << report.count(core::RowOutcome::created) << ", updated "
      << report.count(core::RowOutcome::updated) << ", unchanged "
      << report.count(core::RowOutcome::unchanged) << ", refused "
      << report.count(core::RowOutcome::refused) << '\n';
  return report.count(core::RowOutcome::refused) == 0 ? kExitOk : kExitFailure;
}

int write_back_command(const CommandLine& command_line, std::ostream& out, std::ostream& err) {
  auto loaded = config::load_config_file(command_line.config_path);
  if (!loaded.errors.empty() || !loaded.config) {
    print_errors(loaded.errors, err);
    return kExitFailure;
  }
  const config::Config& config = *loaded.config;
  if (!command_line.directory.empty() && config.find_directory(command_line.directory) == nullptr) {
    err << "idbridged: directory " << command_line.directory << " is not in "
        << command_line.config_path << '\n';
    return kExitFailure;
  }
  Logger logger(config.logging.level);
  auto identity = IdentityCore::open(config, logger);
  if (!identity) {
    return kExitFailure;
  }
  if (command_line.retry_id) {
    if (!retry_parked(*identity->store, *command_line.retry_id)) {
      err << "idbridged: no queued write " << *command_line.retry_id << '\n';
      return kExitFailure;
    }
    out << "write " << *command_line.retry_id << " will be sent again\n";
    return kExitOk;
  }
  auto reader = identity->store->read();
  if (command_line.list_outbox) {
    print_outbox(*reader, command_line.directory, command_line.json, out);
  } else {
    print_conflicts(*reader, command_line.directory, command_line.json, out);
  }
  return kExitOk;
}

int sync_directory(const CommandLine& command_line, std::ostream& out, std::ostream& err) {
  auto loaded = config::load_config_file(command_line.config_path);
  if (!loaded.errors.empty() || !loaded.config) {
    print_errors(loaded.errors, err);
    return kExitFailure;
  }
  config::Config config = std::move(*loaded.config);
  if (auto errors = config::apply_overrides(config, command_line.overrides); !errors.empty()) {
    print_errors(errors, err);
    return kExitFailure;
  }
  Logger logger(config.logging.level);
  if (command_line.list_runs) {
    auto identity = IdentityCore::open(config, logger);
    if (!identity) {
      return kExitFailure;
    }
    print_runs(identity->store->read()->list_sync_runs(command_line.directory, 100),
               command_line.json, out);
    return kExitOk;
  }
  const std::string name =
      command_line.plan_file ? directory_of_plan(*command_line.plan_file) : command_line.directory;
  if (command_line.plan_file && name.empty()) {
    err << "idbridged: " << *command_line.plan_file
        << " is not a plan file (no directory); plans are saved by held sync runs\n";
    return kExitFailure;
  }
  const config::DirectoryConfig* directory = config.find_directory(name);
  if (directory == nullptr) {
    err << "idbridged: directory " << name << " is not in " << command_line.config_path << '\n';
    return kExitFailure;
  }
  auto password = bind_password(*directory, err);
  if (!password) {
    return kExitFailure;
  }
  if (!directory->verify_certificate) {
    const auto& where = directory->verify_certificate_where;
    logger.warning("directory TLS certificate verification is off",
                   {{"directory", directory->name},
                    {"config", where.file + ":" + std::to_string(where.line)}});
  }
  auto identity = IdentityCore::open(config, logger);
  if (!identity) {
    return kExitFailure;
  }
  const auto reader = ldap_directory_reader(*directory, std::move(*password), logger);
  for (const auto& warning : ldap::warnings(read_settings(*directory, "").connection)) {
    logger.warning("weakened directory connection",
                   {{"directory", directory->name}, {"warning", warning}});
  }
  DirectorySync sync(*directory, reader,
                     SyncEnvironment{*identity->service, identity->clock, logger, config.state_dir,
                                     sibling_directories(config, *directory)});
  const RunReport report =
      command_line.plan_file ? sync.apply_plan_file(*command_line.plan_file)
                             : sync.run(command_line.incremental ? core::sync::RunKind::incremental
                                                                 : core::sync::RunKind::full,
                                        command_line.dry_run);
  print_report(report, command_line.dry_run, command_line.json, out);
  out.flush();
  return exit_code(report);
}

int run_main(std::span<const std::string_view> args) {
  // A client that goes away must not kill the process through a write to its socket.
  std::signal(SIGPIPE, SIG_IGN);
  // Directory syncs hash every entry they read; OpenSSL's SHA-1 uses the CPU's instructions.
  core::sync::use_sha1(&crypto::sha1);
  const auto parsed = parse_command_line(args);
  if (!parsed.command_line) {
    std::cerr << "idbridged: " << parsed.error << "\n\n" << usage_text();
    return kExitUsage;
  }
  const auto& command_line = *parsed.command_line;
  try {
    switch (command_line.command) {
      case Command::help: std::cout << usage_text(); return kExitOk;
      case Command::version: std::cout << "idbridged " << IDBRIDGE_VERSION << '\n'; return kExitOk;
      case Command::check_config:
        return check_config(command_line.config_path, std::cout, std::cerr);
      case Command::init_demo: return init_demo(demo_options(command_line), std::cout, std::cerr);
      case Command::serve: return serve(command_line);
      case Command::import_users:
      case Command::export_users: return users_csv(command_line, std::cout, std::cerr);
      case Command::sync: return sync_directory(command_line, std::cout, std::cerr);
      case Command::writeback: return write_back_command(command_line, std::cout, std::cerr);
    }
  } catch (const std::exception& e) {
    Logger(config::LogLevel::error).error("fatal error", {{"error", e.what()}});
  }
  return kExitFailure;
}

}  // namespace idbridge::daemon
