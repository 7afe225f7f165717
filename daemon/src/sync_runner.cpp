// DirectorySync (sync_runner.hpp).
#include "sync_runner.hpp"

#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/crypto/crypto.hpp"
#include "idbridge/ldap/reader.hpp"
#include "logger.hpp"
#include "sync_command.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

namespace idbridge::daemon {
namespace {

namespace fs = std::filesystem;
using core::sync::RunKind;

// Entries a read maps before the settled users are loaded (see make_plan).
constexpr std::size_t kMappedBeforeSettled = 1000;
using core::sync::RunOutcome;
using core::sync::SyncRun;

// Holds an exclusive, non-blocking flock for the life of one run. The kernel drops it when the
// process dies, so a crash never leaves a directory locked.
class RunLock {
 public:
  explicit RunLock(const fs::path& path) {
    std::error_code ignored;
    fs::create_directories(path.parent_path(), ignored);
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open lock file " + path.string() + ": " +
                               std::strerror(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RunLock() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Writes `text` to `path` so that the file is either absent or complete: a temporary file,
// fsync, rename, fsync of the directory. Mode 0600: plans name users.
void write_file_atomically(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  fs::permissions(path.parent_path(), fs::perms::owner_all, fs::perm_options::replace);
  const fs::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot write " + temporary.string() + ": " + std::strerror(errno));
  }
  std::size_t written = 0;
  bool ok = true;
  while (ok && written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    ok = n > 0;
    written += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ok && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    throw std::runtime_error("cannot write " + temporary.string() + ": " + std::strerror(errno));
  }
  fs::rename(temporary, path);
  if (const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::string safe_file_part(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
    out += plain ? c : '_';
  }
  return out;
}

std::string describe(const nlohmann::json& op) {
  std::string text = op.value("op", "?");
  const std::string who = op.value("userName", "");
  const std::string group = op.value("group", "");
  if (!who.empty()) {
    text += " " + who;
  }
  if (!group.empty()) {
    text += " " + group;
  }
  return text;
}

// Why `fresh` is not `saved` from `from` on, or "" when it is.
std::string plan_difference(const nlohmann::json& saved, std::size_t from,
                            const nlohmann::json& fresh) {
  const std::size_t remaining = saved.size() > from ? saved.size() - from : 0;
  for (std::size_t i = 0; i < std::min(remaining, fresh.size()); ++i) {
    if (saved[from + i] != fresh[i]) {
      return "operation " + std::to_string(from + i + 1) + " was '" + describe(saved[from + i]) +
             "' and would now be '" + describe(fresh[i]) + "'";
    }
  }
  if (remaining != fresh.size()) {
    return "the plan had " + std::to_string(remaining) +
           " operations to apply and would now have " + std::to_string(fresh.size());
  }
  return "";
}

}  // namespace

DirectorySync::DirectorySync(const config::DirectoryConfig& directory, DirectoryReader reader,
                             SyncEnvironment environment)
    : directory_(directory), reader_(std::move(reader)), env_(std::move(environment)) {}

core::sync::Plan DirectorySync::make_plan(RunKind kind, SyncRun& run,
                                          const core::sync::Snapshot* ready) {
  core::Store& store = env_.service.store();
  phases_ = {};
  auto phase_start = std::chrono::steady_clock::now();
  const auto end_phase = [&](std::int64_t& millis) {
    const auto now = std::chrono::steady_clock::now();
    millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - phase_start).count();
    phase_start = now;
  };
  // Each entry is mapped as the reader delivers it and only its anchor is kept, so memory holds
  // the mapped users, never every entry's attributes. A ready snapshot is a persist batch
  // (small): copied, since mapping trims it below.
  core::sync::Snapshot snapshot;
  core::sync::UserMapper mapper(directory_.rules);
  std::size_t streamed = 0;
  std::optional<core::sync::SettledUsers> settled;
  if (ready == nullptr) {
    const std::string cursor =
        kind == RunKind::incremental ? store.read()->sync_cursor(directory_.name) : "";
    // Entries whose users are settled to exactly their mapping are left out as they are mapped:
    // an unchanged re-sync then holds no mapped user and reads no user from the store. Loading
    // what is settled joins the directory's links with their users' versions and lists the
    // rule-managed groups (a few tenths of a second at 100,000 users), more than an incremental
    // read of a few changes costs in all: such a read loads it only once it has mapped
    // kMappedBeforeSettled entries, and the entries before are kept and compared in full by the
    // view loader (a few ms). A full read loads it from the start on a thread of its own, while the
    // directory is being read.
    std::future<core::sync::SettledUsers> loading;
    if (cursor.empty()) {
      loading = std::async(std::launch::async, [&] {
        return core::sync::SettledUsers::load(*store.read(), directory_.name, directory_.rules,
                                              directory_.tenant);
      });
    }
    std::size_t mapped_unsettled = 0;
    mapper.leave_out_settled([&](const core::sync::DesiredUser& desired) {
      if (!settled) {
        if (++mapped_unsettled <= kMappedBeforeSettled) {
          return false;
        }
        settled = loading.valid()
                      ? loading.get()
                      : core::sync::SettledUsers::load(*store.read(), directory_.name,
                                                       directory_.rules, directory_.tenant);
      }
      return settled->settled(desired);
    });
    // Each asked with a reader of its own: no store transaction stays open while the directory
    // is read. Runs of a directory never overlap (the run lock), so nothing moves in between.
    const ldap::StoredRuleGroups stored{
        [&] { return store.read()->rule_group_digests(directory_.name); },
        [&](const std::string& group) {
          return store.read()->find_rule_group(directory_.name, group);
        }};
    snapshot = reader_(
        cursor.empty() ? RunKind::full : kind, cursor,
        [&](core::sync::DirectoryEntry& entry) {
          mapper.add(entry);
          ++streamed;
          entry = core::sync::DirectoryEntry{std::move(entry.anchor), {}, {}, {}};
        },
        stored);
    snapshot.directory = directory_.name;
  } else {
    snapshot = *ready;
  }
  if (run.kind != RunKind::apply_plan) {
    run.kind =
        snapshot.kind == core::sync::Snapshot::Kind::full ? RunKind::full : RunKind::incremental;
  }
  // A reader that did not stream (a persist batch) is mapped here, whole.
  auto mapped = streamed == 0 ? core::sync::map_users(snapshot, directory_.rules)
                              : std::move(mapper).finish();
  end_phase(phases_.read);
  core::sync::keep_anchors_only(snapshot);
  // Users the plan would leave alone are dropped as the tenant is read, and each mapped user is
  // released once planned: memory holds one copy of what changes, not three of every user.
  const auto view = core::sync::load_tenant_view_dropping_unchanged(
      *store.read(), snapshot, mapped, directory_.rules, directory_.tenant,
      env_.sibling_directories, settled ? &*settled : nullptr);
  end_phase(phases_.view);
  auto plan = core::sync::plan(std::move(mapped), snapshot, view, directory_.rules,
                               directory_.policy, env_.clock.now());
  run.read = static_cast<std::int64_t>(snapshot.users.size());
  run.planned = static_cast<std::int64_t>(plan.ops.size());
  crypto::Sha256 plan_digest;  // of to_json(plan), hashed in pieces
  core::sync::write_json(plan, [&](std::string_view piece) { plan_digest.update(piece); });
  run.plan_id = plan_digest.hex();
  end_phase(phases_.plan);
  if (!snapshot.completeness.complete) {
    env_.logger.warning("directory read incomplete: no disable or delete is planned",
                        {{"directory", directory_.name}, {"reason", snapshot.completeness.reason}});
  }
  return plan;
}

void DirectorySync::finish(SyncRun& run) {
  run.finished = env_.clock.now();
  if (run.id != 0) {
    auto tx = env_.service.store().write();
    tx->update_sync_run(run);
    tx->commit();
  }
  env_.logger.log(
      run.outcome == RunOutcome::failed ? config::LogLevel::error : config::LogLevel::info,
      "sync run finished",
      {{"directory", run.directory},
       {"run", run.id},
       {"kind", core::sync::to_string(run.kind)},
       {"outcome", core::sync::to_string(run.outcome)},
       {"read", run.read},
       {"planned", run.planned},
       {"applied", run.applied},
       {"failed", run.failed},
       {"error", run.error},
       {"read_ms", phases_.read},
       {"view_ms", phases_.view},
       {"plan_ms", phases_.plan},
       {"apply_ms", phases_.apply}});
}

void DirectorySync::close_interrupted_runs() {
  // Called with the run lock held: a run still marked running belongs to a process that died.
  auto tx = env_.service.store().write();
  bool changed = false;
  for (auto run : tx->list_sync_runs(directory_.name, 20)) {
    if (run.outcome != RunOutcome::running) {
      continue;
    }
    run.outcome = RunOutcome::failed;
    run.finished = env_.clock.now();
    run.error = "interrupted after " + std::to_string(run.applied) + " of " +
                std::to_string(run.planned) +
                " operations (the process stopped); the next run plans again from the current "
                "state";
    tx->update_sync_run(run);
    changed = true;
  }
  if (changed) {
    tx->commit();
  }
}

RunReport DirectorySync::apply_and_record(core::sync::Plan plan, SyncRun run,
                                          std::size_t already_applied) {
  RunReport report;
  {
    auto tx = env_.service.store().write();
    tx->update_sync_run(run);
    tx->commit();
  }
  core::sync::ApplyOptions options;
  options.run_id = run.id;
  options.already_applied = already_applied;
  options.stop_requested = env_.stop_requested;
  bool stopped = false;
  const auto applying = std::chrono::steady_clock::now();
  const auto end_apply = [&] {
    phases_.apply = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - applying)
                        .count();
  };
  try {
    auto result = core::sync::apply(
        plan, env_.service, core::sync::sync_principal(directory_.name, run.id, directory_.tenant),
        env_.clock.now(), options);
    end_apply();
    report.failures = std::move(result.failures);
    stopped = result.stopped;
  } catch (const std::exception& e) {
    end_apply();
    run = env_.service.store().read()->find_sync_run(run.id).value_or(run);
    run.outcome = RunOutcome::failed;
    run.error = std::string("applying stopped: ") + e.what();
    finish(run);
    report.run = run;
    report.plan = std::move(plan);
    return report;
  }
  run = env_.service.store().read()->find_sync_run(run.id).value_or(run);
  if (stopped) {
    run.outcome = RunOutcome::failed;
    run.error = "stopped by shutdown after " + std::to_string(run.applied) + " of " +
                std::to_string(run.planned) + " operations; the next run plans the rest again";
  } else if (!plan.completeness.complete) {
    run.outcome = RunOutcome::incomplete;
    if (run.error.empty()) {
      run.error = "read incomplete: " + plan.completeness.reason;
    }
  } else {
    run.outcome = plan.ops.empty() ? RunOutcome::unchanged : RunOutcome::applied;
  }
  finish(run);
  report.run = run;
  report.plan = std::move(plan);
  return report;
}

SyncRun DirectorySync::start_run(RunKind kind, const std::string& plan_file, bool record) {
  SyncRun run;
  run.directory = directory_.name;
  run.kind = kind;
  run.started = env_.clock.now();
  run.plan_file = plan_file;
  if (record) {
    insert_record(run);
  }
  return run;
}

void DirectorySync::insert_record(SyncRun& run) {
  auto tx = env_.service.store().write();
  run.id = tx->insert_sync_run(run);
  tx->commit();
}

std::optional<core::sync::Plan> DirectorySync::plan_or_fail(RunKind kind, SyncRun& run,
                                                            const core::sync::Snapshot* ready) {
  try {
    return make_plan(kind, run, ready);
  } catch (const std::exception& e) {
    run.outcome = RunOutcome::failed;
    run.error = std::string("could not read or plan: ") + e.what();
    if (run.id != 0) {
      finish(run);
    }
    return std::nullopt;
  }
}

RunReport DirectorySync::run(RunKind kind, bool dry_run) {
  return after_run(run_with(kind, dry_run, nullptr));
}

RunReport DirectorySync::after_run(RunReport report) const {
  if (report.run.applied > 0 && report.plan.counts.corrections > 0 && env_.corrections_queued) {
    env_.corrections_queued();
  }
  return report;
}

RunReport DirectorySync::apply_snapshot(const core::sync::Snapshot& snapshot) {
  if (snapshot.directory != directory_.name) {
    throw std::logic_error("a snapshot of directory " + snapshot.directory + " given to " +
                           directory_.name);
  }
  return after_run(run_with(RunKind::incremental, false, &snapshot));
}

RunReport DirectorySync::run_with(RunKind kind, bool dry_run, const core::sync::Snapshot* ready) {
  RunReport report;
  RunLock lock(fs::path(env_.state_dir) / "locks" / ("sync-" + safe_file_part(directory_.name)));
  if (!lock.held()) {
    report.busy = true;
    return report;
  }
  if (!dry_run) {
    close_interrupted_runs();
  }
  // A persist batch is recorded only when it has something to do: each reconnect's refresh (and
  // a burst that changes nothing here) would otherwise flood the run records with empty runs.
  const bool record_after_planning = ready != nullptr && !dry_run;
  SyncRun run = start_run(kind, "", !dry_run && !record_after_planning);
  auto planned = plan_or_fail(kind, run, ready);
  if (record_after_planning &&
      (!planned || !planned->ops.empty() || planned->held || !planned->completeness.complete)) {
    insert_record(run);
  }
  if (!planned) {
    if (record_after_planning) {
      finish(run);
    }
    report.run = run;
    return report;
  }
  core::sync::Plan plan = std::move(*planned);
  if (dry_run) {
    report.run = run;
    report.plan = std::move(plan);
    return report;
  }
  if (record_after_planning && run.id == 0) {
    // Nothing to apply: only the batch's cursor moves on, in one transaction.
    if (!plan.cursor.empty()) {
      auto tx = env_.service.store().write();
      tx->set_sync_cursor(directory_.name, plan.cursor);
      tx->commit();
    }
    run.outcome = RunOutcome::unchanged;
    run.finished = env_.clock.now();
    report.run = run;
    report.plan = std::move(plan);
    return report;
  }
  if (plan.held) {
    const fs::path file =
        fs::path(env_.state_dir) / "plans" /
        (safe_file_part(directory_.name) + "-" + std::to_string(run.id) + ".json");
    write_file_atomically(file, core::sync::to_json(plan));
    run.outcome = RunOutcome::held;
    run.plan_file = file.string();
    std::string reasons;
    for (const auto& reason : plan.hold_reasons) {
      reasons += (reasons.empty() ? "" : "; ") + reason;
    }
    run.error = "held: " + reasons;
    env_.logger.warning("sync plan held for approval",
                        {{"directory", directory_.name},
                         {"plan", run.plan_file},
                         {"approve", "idbridged sync --apply " + run.plan_file}});
    finish(run);
    report.run = run;
    report.plan = std::move(plan);
    return report;
  }
  return apply_and_record(std::move(plan), run, 0);
}

RunReport DirectorySync::apply_plan_file(const std::string& path) {
  RunReport report;
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  if (!in) {
    report.refusal = path + ": cannot read the plan file";
    return report;
  }
  const std::string text = content.str();
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    report.refusal = path + ": not a plan file (invalid JSON)";
    return report;
  }
  if (!saved.is_object() || !saved.contains("operations") || !saved["operations"].is_array() ||
      !saved.contains("directory") || !saved["directory"].is_string()) {
    report.refusal = path + ": not a plan file (no directory or operations)";
    return report;
  }
  if (saved["directory"] != directory_.name ||
      saved.value("tenant", "") != directory_.tenant.str()) {
    report.refusal = path + ": the plan is for directory " + saved["directory"].get<std::string>() +
                     ", tenant " + saved.value("tenant", "") + ", not " + directory_.name + " -> " +
                     directory_.tenant.str();
    return report;
  }
  const RunKind kind =
      saved.value("kind", "full") == "incremental" ? RunKind::incremental : RunKind::full;

  RunLock lock(fs::path(env_.state_dir) / "locks" / ("sync-" + safe_file_part(directory_.name)));
  if (!lock.held()) {
    report.busy = true;
    return report;
  }
  const std::string plan_id = crypto::sha256_hex(text);
  // The latest apply of this very plan: if it finished, there is nothing left to approve; if a
  // crash or a refusal stopped it, its committed count is where this one resumes.
  std::size_t already_applied = 0;
  for (const auto& earlier : env_.service.store().read()->list_sync_runs(directory_.name, 50)) {
    if (earlier.kind != RunKind::apply_plan || earlier.plan_id != plan_id) {
      continue;
    }
    if (earlier.outcome != RunOutcome::running && earlier.outcome != RunOutcome::failed) {
      report.refusal =
          path + ": this plan was already applied by run " + std::to_string(earlier.id);
      return report;
    }
    already_applied = static_cast<std::size_t>(earlier.applied);
    break;
  }
  close_interrupted_runs();

  SyncRun run = start_run(RunKind::apply_plan, path, true);
  auto planned = plan_or_fail(kind, run);
  if (!planned) {
    report.run = run;
    return report;
  }
  core::sync::Plan plan = std::move(*planned);
  run.plan_id = plan_id;
  run.applied = static_cast<std::int64_t>(already_applied);
  const auto fresh = nlohmann::json::parse(core::sync::to_json(plan));
  if (auto difference = plan_difference(saved["operations"], already_applied, fresh["operations"]);
      !difference.empty()) {
    report.refusal = "the directory or the tenant changed since the plan was made (" + difference +
                     "); nothing was applied. Run the sync again for a new plan.";
    run.outcome = RunOutcome::failed;
    run.error = report.refusal;
    finish(run);
    report.run = run;
    report.plan = std::move(plan);
    return report;
  }
  run.planned = static_cast<std::int64_t>(saved["operations"].size());
  return apply_and_record(std::move(plan), run, already_applied);
}

DirectoryReader ldap_directory_reader(const config::DirectoryConfig& directory,
                                      std::string password, Logger& logger) {
  auto settings =
      std::make_shared<ldap::ReadSettings>(read_settings(directory, std::move(password)));
  return [settings, &logger](RunKind kind, const std::string& cursor, const EntrySink& on_user,
                             const ldap::StoredRuleGroups& stored) {
    ldap::ReadSettings streaming = *settings;
    streaming.on_user = on_user;
    streaming.stored_rule_groups = stored;
    if (kind != RunKind::incremental || cursor.empty()) {
      return ldap::read_directory(streaming);
    }
    auto read = ldap::read_directory_incremental(streaming, cursor);
    if (!read.full_read_reason.empty()) {
      logger.info("incremental read became a full read",
                  {{"directory", settings->directory}, {"reason", read.full_read_reason}});
    } else if (read.moved_members > 0) {
      logger.info("members joined or left groups the rules name: read by DN",
                  {{"directory", settings->directory},
                   {"members", static_cast<std::int64_t>(read.moved_members)}});
    }
    return std::move(read.snapshot);
  };
}

DirectoryPersister ldap_directory_persister(const config::DirectoryConfig& directory,
                                            std::string password) {
  auto settings =
      std::make_shared<ldap::ReadSettings>(read_settings(directory, std::move(password)));
  return [settings](const std::string& cursor,
                    const std::function<void(const core::sync::Snapshot&)>& on_batch,
                    std::stop_token stop) {
    return ldap::persist_directory(*settings, cursor, on_batch, std::move(stop));
  };
}

int exit_code(const RunReport& report) {
  if (report.busy) {
    return kExitBusy;
  }
  if (!report.refusal.empty()) {
    return kExitPlanRefused;
  }
  switch (report.run.outcome) {
    case RunOutcome::failed: return 1;
    case RunOutcome::held: return kExitPlanHeld;
    case RunOutcome::incomplete: return kExitReadIncomplete;
    case RunOutcome::running:  // a dry run: judged by its plan
      if (!report.plan.completeness.complete) {
        return kExitReadIncomplete;
      }
      return report.plan.held ? kExitPlanHeld : 0;
    case RunOutcome::applied:
    case RunOutcome::unchanged: return report.failures.empty() ? 0 : 1;
  }
  return 1;
}

}  // namespace idbridge::daemon
