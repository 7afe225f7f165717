// Runs each configured directory's syncs on its schedule inside the daemon: a full run every
// full_sync_interval, an incremental one every incremental_sync_interval, each with ±10% jitter so
// that many daemons (or directories) do not all read at the same moment. One thread per
// directory: its runs never overlap, they never run on the HTTP threads, and a slow or
// unreachable directory delays only itself. Runs of the CLI and of the scheduler exclude each
// other through DirectorySync's lock.
#pragma once

#include "sync_runner.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::daemon {

struct ScheduledDirectory {
  std::unique_ptr<DirectorySync> sync;
  std::chrono::seconds full_interval{0};         // 0: never
  std::chrono::seconds incremental_interval{0};  // 0: never
};

class SyncScheduler {
 public:
  // `first_run_within`: the first run of each directory starts at a random moment in
  // [0, first_run_within) after start(), an incremental one when scheduled (it reads everything
  // when no cursor is stored yet), else a full one.
  SyncScheduler(std::vector<ScheduledDirectory> directories, core::Store& store, Logger& logger,
                std::chrono::milliseconds first_run_within = std::chrono::seconds(5));
  ~SyncScheduler();
  SyncScheduler(const SyncScheduler&) = delete;
  SyncScheduler& operator=(const SyncScheduler&) = delete;

  void start();
  // Wakes every thread; a run in progress stops after its current page (its record says so,
  // and the next run plans the rest again). Returns when every thread has ended.
  void stop();
  bool stop_requested() const { return stopping_.load(); }

  // The /status document: per directory its tenant, whether a run is in progress, the next
  // scheduled runs and the latest run records (held plans included, with their files).
  // `tenant`: only that tenant's directories (a tenant-scoped credential asks).
  std::string status_json(const std::optional<core::TenantId>& tenant) const;

 private:
  struct Slot {
    ScheduledDirectory directory;
    std::thread thread;
    bool running = false;  // guarded by mutex_
    std::optional<std::chrono::system_clock::time_point> next_full;
    std::optional<std::chrono::system_clock::time_point> next_incremental;
  };
  void loop(Slot& slot);

  core::Store& store_;
  Logger& logger_;
  std::chrono::milliseconds first_run_within_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace idbridge::daemon
