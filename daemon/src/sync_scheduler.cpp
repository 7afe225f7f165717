// SyncScheduler (sync_scheduler.hpp).
#include "sync_scheduler.hpp"

#include "idbridge/core/store.hpp"
#include "logger.hpp"
#include "sync_command.hpp"

#include <nlohmann/json.hpp>

#include <random>

namespace idbridge::daemon {
namespace {

using Clock = std::chrono::system_clock;
using core::sync::RunKind;

// interval × [0.9, 1.1)
Clock::duration jittered(std::chrono::seconds interval, std::mt19937_64& random) {
  std::uniform_real_distribution<double> factor(0.9, 1.1);
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(interval.count()) * factor(random)));
}

std::string format(Clock::time_point when) {
  return core::format_timestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(when));
}

}  // namespace

SyncScheduler::SyncScheduler(std::vector<ScheduledDirectory> directories, core::Store& store,
                             Logger& logger, std::chrono::milliseconds first_run_within)
    : store_(store), logger_(logger), first_run_within_(first_run_within) {
  for (auto& directory : directories) {
    auto slot = std::make_unique<Slot>();
    slot->directory = std::move(directory);
    slots_.push_back(std::move(slot));
  }
}

SyncScheduler::~SyncScheduler() {
  stop();
}

void SyncScheduler::start() {
  std::random_device seed;
  std::mt19937_64 random(seed());
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    for (auto& slot : slots_) {
      const auto& directory = slot->directory;
      const auto first = now + std::chrono::milliseconds(std::uniform_int_distribution<long>(
                                   0, std::max<long>(0, first_run_within_.count() - 1))(random));
      if (directory.incremental_interval.count() > 0) {
        slot->next_incremental = first;
        if (directory.full_interval.count() > 0) {
          slot->next_full = now + jittered(directory.full_interval, random);
        }
      } else if (directory.full_interval.count() > 0) {
        slot->next_full = first;
      }
    }
    started_ = true;
  }
  for (auto& slot : slots_) {
    // A persisting directory's thread also runs the full read persisting asks for.
    if (slot->next_full || slot->next_incremental || slot->directory.persister) {
      slot->thread = std::thread([this, raw = slot.get()] { loop(*raw); });
    }
    if (slot->directory.persister) {
      slot->persist_thread = std::thread([this, raw = slot.get()] { persist_loop(*raw); });
    }
  }
}

void SyncScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_source_.request_stop();
  wake_.notify_all();
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) {
      slot->thread.join();
    }
    if (slot->persist_thread.joinable()) {
      slot->persist_thread.join();
    }
  }
}

void SyncScheduler::loop(Slot& slot) {
  std::mt19937_64 random(std::random_device{}());
  DirectorySync& sync = *slot.directory.sync;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto due = std::min(slot.next_full.value_or(Clock::time_point::max()),
                              slot.next_incremental.value_or(Clock::time_point::max()));
    // Woken early when the persist thread asks for a run now.
    const auto due_or_stopping = [&] {
      return stopping_.load() ||
             std::min(slot.next_full.value_or(Clock::time_point::max()),
                      slot.next_incremental.value_or(Clock::time_point::max())) <= Clock::now();
    };
    if (due == Clock::time_point::max()) {
      wake_.wait(lock, due_or_stopping);
    } else {
      wake_.wait_until(lock, due, due_or_stopping);
    }
    if (stopping_) {
      break;
    }
    const auto now = Clock::now();
    const bool full = slot.next_full && *slot.next_full <= now;
    slot.running = true;
    lock.unlock();
    RunReport report;
    try {
      report = sync.run(full ? RunKind::full : RunKind::incremental, false);
    } catch (const std::exception& e) {
      // A store failure outside the apply (e.g. the run record): logged, retried next time.
      logger_.error("sync run failed", {{"directory", sync.directory().name}, {"error", e.what()}});
    }
    if (report.busy) {
      logger_.info("sync run skipped: another run of the directory is in progress",
                   {{"directory", sync.directory().name}});
    }
    lock.lock();
    slot.running = false;
    const auto after = Clock::now();
    if (full) {
      slot.next_full = after + jittered(slot.directory.full_interval, random);
    }
    if (slot.directory.incremental_interval.count() > 0) {
      slot.next_incremental = after + jittered(slot.directory.incremental_interval, random);
    } else {
      slot.next_incremental.reset();  // it was a run the persist thread asked for
    }
    ++slot.runs_finished;
    wake_.notify_all();
  }
}

namespace {

// A persist batch that could not be applied in full.
struct BatchNotApplied : std::runtime_error {
  explicit BatchNotApplied(const std::string& what, bool held_plan = false)
      : std::runtime_error(what), held(held_plan) {}
  bool held;  // its plan was held for approval
};

}  // namespace

void SyncScheduler::apply_batch(DirectorySync& sync, const core::sync::Snapshot& batch) {
  for (;;) {
    RunReport report = sync.apply_snapshot(batch);
    if (report.busy) {
      // A scheduled or CLI run holds the directory: this batch waits its turn.
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::milliseconds(200),
                         [this] { return stopping_.load(); })) {
        throw BatchNotApplied("stopped while waiting for another run of the directory");
      }
      continue;
    }
    const auto outcome = report.run.outcome;
    if (outcome == core::sync::RunOutcome::held) {
      throw BatchNotApplied("a batch's plan was held for approval (" + report.run.plan_file + ")",
                            true);
    }
    if ((outcome != core::sync::RunOutcome::applied &&
         outcome != core::sync::RunOutcome::unchanged) ||
        !report.failures.empty()) {
      throw BatchNotApplied("a batch was not fully applied (run " + std::to_string(report.run.id) +
                            ": " + std::string(core::sync::to_string(outcome)) +
                            (report.run.error.empty() ? "" : ", " + report.run.error) + ")");
    }
    return;
  }
}

void SyncScheduler::wait_for_run(std::unique_lock<std::mutex>& lock, Slot& slot) {
  const auto seen = slot.runs_finished;
  wake_.wait(lock, [&] { return stopping_.load() || slot.runs_finished != seen; });
}

void SyncScheduler::persist_loop(Slot& slot) {
  using namespace std::chrono_literals;
  DirectorySync& sync = *slot.directory.sync;
  const std::string& name = sync.directory().name;
  auto backoff = std::chrono::seconds(1);
  const auto on_batch = [&](const core::sync::Snapshot& batch) {
    apply_batch(sync, batch);
    backoff = 1s;
  };
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    std::string cursor;
    ldap::PersistOutcome outcome;
    bool held = false;
    try {
      cursor = store_.read()->sync_cursor(name);
      if (!cursor.empty()) {
        {
          std::lock_guard persisting(mutex_);
          slot.persisting = true;
        }
        logger_.info("persistent directory sync started", {{"directory", name}});
        outcome = slot.directory.persister(cursor, on_batch, stop_source_.get_token());
      }
    } catch (const BatchNotApplied& e) {
      outcome.end = ldap::PersistEnd::failed;
      outcome.reason = e.what();
      held = e.held;
    } catch (const std::exception& e) {
      outcome.end = ldap::PersistEnd::failed;
      outcome.reason = e.what();
    }
    lock.lock();
    slot.persisting = false;
    if (stopping_) {
      break;
    }
    if (cursor.empty()) {
      // No run has stored a cursor yet (the first scheduled one does; a CLI run may too).
      wake_.wait_for(lock, 1s, [&] { return stopping_.load(); });
      continue;
    }
    if (outcome.end == ldap::PersistEnd::full_read_needed) {
      logger_.info("persistent directory sync needs a full read: running one now",
                   {{"directory", name}, {"reason", outcome.reason}});
      if (!slot.next_incremental || *slot.next_incremental > Clock::now()) {
        slot.next_incremental = Clock::now();
      }
      wake_.notify_all();
      wait_for_run(lock, slot);
      backoff = 1s;
      continue;
    }
    slot.persist_error = outcome.reason;
    if (held) {
      // Persisting again would hold the same plan again: the next scheduled run, or the admin's
      // approval (`sync --apply`, another process), moves the stored cursor on first.
      logger_.warning(
          "persistent directory sync paused until the held plan is approved or the "
          "next scheduled run",
          {{"directory", name}, {"reason", outcome.reason}});
      const auto seen = slot.runs_finished;
      lock.unlock();
      // Earlier batches of this search may have moved it since `cursor`; the held one did not.
      const auto stored_cursor = [&]() -> std::optional<std::string> {
        try {
          return store_.read()->sync_cursor(name);
        } catch (const std::exception&) {
          return std::nullopt;  // unreadable now: keep waiting
        }
      };
      const auto held_at = stored_cursor();
      lock.lock();
      while (!stopping_ && slot.runs_finished == seen) {
        wake_.wait_for(lock, 1s);
        lock.unlock();
        const auto now_stored = stored_cursor();
        lock.lock();
        if (held_at && now_stored && *now_stored != *held_at) {
          break;
        }
      }
      continue;
    }
    logger_.warning(
        "persistent directory sync failed; retrying",
        {{"directory", name}, {"reason", outcome.reason}, {"retry_in_seconds", backoff.count()}});
    wake_.wait_for(lock, backoff, [&] { return stopping_.load(); });
    backoff = std::min<std::chrono::seconds>(backoff * 2, 60s);
  }
}

std::string SyncScheduler::status_json(const std::optional<core::TenantId>& tenant) const {
  nlohmann::json directories = nlohmann::json::array();
  const auto reader = store_.read();
  std::lock_guard lock(mutex_);
  for (const auto& slot : slots_) {
    const auto& config = slot->directory.sync->directory();
    if (tenant && config.tenant != *tenant) {
      continue;
    }
    nlohmann::json entry = {{"name", config.name},
                            {"tenant", config.tenant.str()},
                            {"running", slot->running},
                            {"scheduled", started_ && !stopping_},
                            {"persist", static_cast<bool>(slot->directory.persister)},
                            {"persisting", slot->persisting}};
    if (!slot->persist_error.empty()) {
      entry["lastPersistError"] = slot->persist_error;
    }
    if (slot->next_full) {
      entry["nextFullSync"] = format(*slot->next_full);
    }
    if (slot->next_incremental) {
      entry["nextIncrementalSync"] = format(*slot->next_incremental);
    }
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& run : reader->list_sync_runs(config.name, 5)) {
      runs.push_back(nlohmann::json::parse(run_json(run)));
    }
    entry["held"] = !runs.empty() && runs[0].value("outcome", "") == "held";
    entry["recentRuns"] = std::move(runs);
    // Write-back: outbox depth and age, parked writes, conflicts recorded (docs/writeback.md).
    const auto outbox = reader->outbox_stats(config.name);
    nlohmann::json write_back = {{"enabled", config.writeback.operations.any()},
                                 {"pending", outbox.pending},
                                 {"parked", outbox.parked},
                                 {"conflicts", reader->count_conflicts(config.name)}};
    if (outbox.oldest_pending) {
      write_back["oldestPending"] = core::format_timestamp(*outbox.oldest_pending);
      const auto age = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now() - *outbox.oldest_pending);
      write_back["oldestPendingAgeSeconds"] = std::max<std::int64_t>(0, age.count());
    }
    entry["writeBack"] = std::move(write_back);
    directories.push_back(std::move(entry));
  }
  return nlohmann::json{{"directories", std::move(directories)}}.dump();
}

}  // namespace idbridge::daemon
