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
    if (slot->next_full || slot->next_incremental) {
      slot->thread = std::thread([this, raw = slot.get()] { loop(*raw); });
    }
  }
}

void SyncScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) {
      slot->thread.join();
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
    if (wake_.wait_until(lock, due, [this] { return stopping_.load(); })) {
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
    }
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
                            {"scheduled", started_ && !stopping_}};
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
    directories.push_back(std::move(entry));
  }
  return nlohmann::json{{"directories", std::move(directories)}}.dump();
}

}  // namespace idbridge::daemon
