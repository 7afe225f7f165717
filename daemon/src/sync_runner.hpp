// One directory's sync runs, for the CLI and the scheduler alike: read -> map -> plan -> apply,
// or hold the plan for approval; each run recorded in the store. Two runs of one directory never
// overlap, even from two processes (the daemon's scheduler and an admin's `idbridged sync`):
// they exclude each other with an flock on a file in the state directory.
#pragma once

#include "idbridge/config/config.hpp"
#include "idbridge/core/sync/apply.hpp"
#include "idbridge/ldap/reader.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace idbridge::core {
class Clock;
class IdentityService;
}  // namespace idbridge::core

namespace idbridge::daemon {

class Logger;

// Called by a DirectoryReader with each user entry as it is read (ldap::ReadSettings::on_user):
// what it leaves of the entry is what the snapshot keeps.
using EntrySink = std::function<void(core::sync::DirectoryEntry& entry)>;

// Reads the directory: a full read, or an incremental one from `cursor` (a reader without
// incremental support, or an empty cursor, answers with a full read), handing each user entry to
// `on_user` as it arrives. `stored` gives the member lists of the groups the rules name that
// were stored with `cursor`. Blocking; never throws for directory problems (they make the
// snapshot incomplete).
using DirectoryReader = std::function<core::sync::Snapshot(
    core::sync::RunKind kind, const std::string& cursor, const EntrySink& on_user,
    const ldap::StoredRuleGroups& stored)>;

struct SyncEnvironment {
  core::IdentityService& service;
  const core::Clock& clock;
  Logger& logger;
  std::string state_dir;  // held plans go to <state_dir>/plans, run locks to <state_dir>/locks
  // Directories syncing into the same tenant: their users are never adopted by this one.
  std::vector<std::string> sibling_directories;
  // Asked between pages of an apply: true (a shutdown) stops the run after the page.
  std::function<bool()> stop_requested = {};
  // Called after a run committed directory corrections (writes queued for this directory's
  // write-back): delivery starts now instead of at its next poll.
  std::function<void()> corrections_queued = {};
};

struct RunReport {
  bool busy = false;        // another run of this directory was in progress: nothing was done
  std::string refusal;      // apply of a plan file refused (stale, unreadable, another directory)
  core::sync::SyncRun run;  // as recorded (not recorded for dry runs)
  core::sync::Plan plan;
  std::vector<core::sync::OpFailure> failures;
};

class DirectorySync {
 public:
  DirectorySync(const config::DirectoryConfig& directory, DirectoryReader reader,
                SyncEnvironment environment);

  // A scheduled or CLI run. A dry run reads and plans only: nothing is written, no record.
  RunReport run(core::sync::RunKind kind, bool dry_run);

  // Plans and applies a snapshot read elsewhere (a batch of a persistent content sync), exactly
  // as run() would with it: same lock (busy when another run holds it), record, hold and apply.
  // Recorded as an `incremental` run when it has operations to apply (or is held, incomplete or
  // failed); a batch that changes nothing only stores its cursor, without a record.
  RunReport apply_snapshot(const core::sync::Snapshot& snapshot);

  // Applies a held plan saved by an earlier run (the admin's approval). The directory is read
  // again and the plan made again: it is applied only if it is the saved plan (or, after an
  // interrupted apply of it, exactly its unapplied rest); otherwise refused, nothing written.
  RunReport apply_plan_file(const std::string& path);

  const config::DirectoryConfig& directory() const { return directory_; }

 private:
  // `ready`: plan from it instead of reading the directory.
  RunReport run_with(core::sync::RunKind kind, bool dry_run, const core::sync::Snapshot* ready);
  // Wakes write-back when the run queued directory corrections.
  RunReport after_run(RunReport report) const;
  // A new run (recorded in the store when `record`; a dry run is not).
  core::sync::SyncRun start_run(core::sync::RunKind kind, const std::string& plan_file,
                                bool record);
  void insert_record(core::sync::SyncRun& run);  // inserts the run record, setting its id
  core::sync::Plan make_plan(core::sync::RunKind kind, core::sync::SyncRun& run,
                             const core::sync::Snapshot* ready = nullptr);
  // make_plan, or nullopt with the run finished as failed (read or store failure).
  std::optional<core::sync::Plan> plan_or_fail(core::sync::RunKind kind, core::sync::SyncRun& run,
                                               const core::sync::Snapshot* ready = nullptr);
  RunReport apply_and_record(core::sync::Plan plan, core::sync::SyncRun run,
                             std::size_t already_applied);
  void finish(core::sync::SyncRun& run);
  void close_interrupted_runs();

  const config::DirectoryConfig& directory_;
  DirectoryReader reader_;
  SyncEnvironment env_;
  // Where the current run's time went, in milliseconds, logged with its end: reading and
  // mapping the directory, loading the tenant's view, planning, applying.
  struct PhaseMillis {
    std::int64_t read = 0;
    std::int64_t view = 0;
    std::int64_t plan = 0;
    std::int64_t apply = 0;
  } phases_;
};

// The reader of a configured directory over LDAP: full reads (which also capture a cursor when
// the directory offers change detection) and incremental ones from the stored cursor, which the
// reader itself turns into a full read when the cursor cannot be used (logged with the reason).
DirectoryReader ldap_directory_reader(const config::DirectoryConfig& directory,
                                      std::string password, Logger& logger);

// Keeps a persistent content sync (RFC 4533 refreshAndPersist) open from `cursor`, calling
// `on_batch` with each batch of changes in order, until `stop`, a failure or a needed full read
// (ldap::persist_directory).
using DirectoryPersister = std::function<ldap::PersistOutcome(
    const std::string& cursor, const std::function<void(const core::sync::Snapshot&)>& on_batch,
    std::stop_token stop)>;

DirectoryPersister ldap_directory_persister(const config::DirectoryConfig& directory,
                                            std::string password);

// Exit codes of `sync` besides kExitOk, kExitFailure and kExitUsage.
inline constexpr int kExitPlanHeld = 3;        // the plan exceeds a safety threshold
inline constexpr int kExitReadIncomplete = 4;  // the read proved nothing about absences
inline constexpr int kExitPlanRefused = 5;     // a plan file no longer matches: make a new one
inline constexpr int kExitBusy = 6;            // another run of the directory is in progress

int exit_code(const RunReport& report);

}  // namespace idbridge::daemon
