// The dry-run sync command: reader -> mapper -> planner -> printed plan.
#include "sync_command.hpp"

#include "cli.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/core/store.hpp"
#include "logger.hpp"

#include <algorithm>
#include <ostream>

namespace idbridge::daemon {

ldap::ReadSettings read_settings(const config::DirectoryConfig& directory, std::string password) {
  ldap::ReadSettings settings;
  settings.directory = directory.name;
  auto& connection = settings.connection;
  connection.uri = directory.uri;
  connection.start_tls = directory.start_tls ? ldap::StartTls::on : ldap::StartTls::off;
  connection.certificate_check = directory.verify_certificate
                                     ? ldap::CertificateCheck::verify
                                     : ldap::CertificateCheck::insecure_skip;
  connection.ca_file = directory.ca_file;
  if (!directory.bind_dn.empty()) {
    connection.bind = ldap::BindMethod::simple;
    connection.bind_dn = directory.bind_dn;
    connection.password = ldap::Password(std::move(password));
  }
  connection.network_timeout = directory.timeout;
  connection.operation_timeout = directory.timeout;
  settings.user_base_dns = directory.user_base_dns;
  settings.user_filter = directory.user_filter;
  settings.anchor_attribute = directory.anchor_attribute;
  settings.attributes = core::sync::attributes_read_by(directory.rules);
  settings.page_size = directory.page_size;
  return settings;
}

core::sync::TenantView tenant_view(core::Store& store, const core::TenantId& tenant) {
  core::sync::TenantView view;
  view.tenant = tenant;
  const auto reader = store.read();
  constexpr std::int64_t page_size = 500;
  for (core::PageRequest page{0, page_size};; page.offset += page_size) {
    auto users = reader->list_users(tenant, page);
    for (auto& user : users.items) {
      view.unlinked_with_names.push_back(std::move(user));
    }
    if (page.offset + page_size >= users.total || users.items.empty()) {
      break;
    }
  }
  for (core::PageRequest page{0, page_size};; page.offset += page_size) {
    auto groups = reader->list_groups(tenant, page);
    for (auto& group : groups.items) {
      view.existing_groups.push_back(std::move(group.display_name));
    }
    if (page.offset + page_size >= groups.total || groups.items.empty()) {
      break;
    }
  }
  std::sort(view.existing_groups.begin(), view.existing_groups.end());
  return view;
}

int sync_dry_run(const config::DirectoryConfig& directory, std::string password, core::Store& store,
                 bool json, std::ostream& out, Logger& logger) {
  const auto settings = read_settings(directory, std::move(password));
  for (const auto& warning : ldap::warnings(settings.connection)) {
    logger.warning("weakened directory connection",
                   {{"directory", directory.name}, {"warning", warning}});
  }
  const core::sync::Snapshot snapshot = ldap::read_directory(settings);
  if (!snapshot.completeness.complete) {
    logger.warning("directory read incomplete: no disable or delete will be planned",
                   {{"directory", directory.name}, {"reason", snapshot.completeness.reason}});
  }
  const auto mapped = core::sync::map_users(snapshot, directory.rules);
  const auto view = tenant_view(store, directory.tenant);
  const core::SystemClock clock;
  const auto plan =
      core::sync::plan(mapped, snapshot, view, directory.rules, directory.policy, clock.now());
  out << (json ? core::sync::to_json(plan) : core::sync::to_table(plan));
  out.flush();
  logger.info("sync dry run", {{"directory", directory.name},
                               {"tenant", directory.tenant.str()},
                               {"read", plan.counts.read},
                               {"ops", plan.ops.size()},
                               {"complete", plan.completeness.complete},
                               {"held", plan.held}});
  if (!plan.completeness.complete) {
    return kExitReadIncomplete;
  }
  return plan.held ? kExitPlanHeld : kExitOk;
}

}  // namespace idbridge::daemon
