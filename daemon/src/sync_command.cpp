// Settings and printing for `idbridged sync` (sync_command.hpp).
#include "sync_command.hpp"

#include "sync_runner.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ostream>

namespace idbridge::daemon {
namespace {

using core::sync::SyncRun;

std::string iso_time(core::Timestamp when) {
  return core::format_timestamp(when);
}

nlohmann::json to_json_value(const SyncRun& run) {
  nlohmann::json out = {{"id", run.id},
                        {"directory", run.directory},
                        {"kind", core::sync::to_string(run.kind)},
                        {"outcome", core::sync::to_string(run.outcome)},
                        {"started", iso_time(run.started)},
                        {"read", run.read},
                        {"planned", run.planned},
                        {"applied", run.applied},
                        {"failed", run.failed}};
  if (run.finished) {
    out["finished"] = iso_time(*run.finished);
  }
  if (!run.plan_id.empty()) {
    out["planId"] = run.plan_id;
  }
  if (!run.plan_file.empty()) {
    out["planFile"] = run.plan_file;
  }
  if (!run.error.empty()) {
    out["error"] = run.error;
  }
  return out;
}

}  // namespace

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
  switch (directory.change_detection) {
    case config::ChangeDetection::full:
      settings.change_detection = ldap::ChangeDetection::full;
      break;
    case config::ChangeDetection::content_sync:
      settings.change_detection = ldap::ChangeDetection::content_sync;
      break;
    case config::ChangeDetection::modify_timestamp:
      settings.change_detection = ldap::ChangeDetection::modify_timestamp;
      break;
    case config::ChangeDetection::usn_changed:
      settings.change_detection = ldap::ChangeDetection::usn_changed;
      break;
  }
  settings.group_base_dns = directory.group_base_dns;
  settings.group_filter = directory.group_filter;
  settings.rule_groups = core::sync::groups_named_by(directory.rules);
  return settings;
}

std::string run_json(const SyncRun& run) {
  return to_json_value(run).dump();
}

void print_runs(const std::vector<SyncRun>& runs, bool json, std::ostream& out) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& run : runs) {
      list.push_back(to_json_value(run));
    }
    out << list.dump(2) << '\n';
    return;
  }
  for (const auto& run : runs) {
    out << "run " << run.id << "  " << run.directory << "  " << core::sync::to_string(run.kind)
        << "  " << core::sync::to_string(run.outcome) << "  started " << iso_time(run.started)
        << "  read " << run.read << ", planned " << run.planned << ", applied " << run.applied
        << ", refused " << run.failed << '\n';
    if (!run.plan_file.empty()) {
      out << "    plan: " << run.plan_file << '\n';
    }
    if (!run.error.empty()) {
      out << "    " << run.error << '\n';
    }
  }
}

void print_report(const RunReport& report, bool dry_run, bool json, std::ostream& out) {
  if (report.busy) {
    out << (json ? R"({"busy": true})" : "another run of this directory is in progress") << '\n';
    return;
  }
  if (json) {
    if (dry_run) {
      out << core::sync::to_json(report.plan);
      return;
    }
    nlohmann::json result = {{"run", to_json_value(report.run)}};
    if (!report.plan.directory.empty()) {
      result["plan"] = nlohmann::json::parse(core::sync::to_json(report.plan));
    }
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& failure : report.failures) {
      failures.push_back({{"index", failure.index},
                          {"op", core::sync::to_string(failure.kind)},
                          {"anchor", failure.anchor},
                          {"userName", failure.user_name},
                          {"group", failure.group},
                          {"error", core::to_string(failure.error.code)},
                          {"detail", failure.error.detail}});
    }
    result["failures"] = std::move(failures);
    if (!report.refusal.empty()) {
      result["refusal"] = report.refusal;
    }
    out << result.dump(2) << '\n';
    return;
  }
  if (!report.plan.directory.empty()) {
    core::sync::write_table(report.plan, out);  // a first sync's table is tens of MB
  }
  if (dry_run) {
    return;
  }
  if (!report.refusal.empty()) {
    out << "REFUSED: " << report.refusal << '\n';
  }
  for (const auto& failure : report.failures) {
    out << "refused: " << core::sync::to_string(failure.kind) << "  "
        << (failure.user_name.empty() ? failure.group : failure.user_name) << ": "
        << core::to_string(failure.error.code) << ": " << failure.error.detail << '\n';
  }
  print_runs({report.run}, false, out);
}

}  // namespace idbridge::daemon
