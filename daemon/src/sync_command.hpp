// `idbridged sync`: the LDAP reader's settings for a configured directory, and how runs and
// plans are shown to the admin (a table, or JSON).
#pragma once

#include "idbridge/config/config.hpp"
#include "idbridge/core/sync/state.hpp"
#include "idbridge/ldap/reader.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace idbridge::daemon {

struct RunReport;

// The LDAP reader's settings for a configured directory. `password` is the resolved
// bind_password (empty for an anonymous bind).
ldap::ReadSettings read_settings(const config::DirectoryConfig& directory, std::string password);

// A run's plan, outcome and refused operations: a table for people, or one JSON object
// {"plan", "run", "failures", "refusal"} for scripts (the plan alone for a dry run).
void print_report(const RunReport& report, bool dry_run, bool json, std::ostream& out);

// Run records, newest first: one line each, or a JSON array.
void print_runs(const std::vector<core::sync::SyncRun>& runs, bool json, std::ostream& out);

// One run record as a JSON object text (for /status and --runs --json).
std::string run_json(const core::sync::SyncRun& run);

}  // namespace idbridge::daemon
