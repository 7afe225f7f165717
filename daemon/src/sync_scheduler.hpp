// Runs each configured directory's syncs on its schedule inside the daemon: a full run every
// full_sync_interval, an incremental one every incremental_sync_interval, each with ±10% jitter so
// that many daemons (or directories) do not all read at the same moment. One thread per
// directory: its runs never overlap, they never run on the HTTP threads, and a slow or
// unreachable directory delays only itself. Runs of the CLI and of the scheduler exclude each
// other through DirectorySync's lock.
//
// A directory with `persist` on also gets a persist thread: once a run has stored a cursor, it
// keeps a refreshAndPersist search open from it and applies each batch of changes as an
// incremental run as soon as it arrives (waiting for the lock, never dropping a batch).
#pragma once

#include "sync_runner.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::daemon {

struct ScheduledDirectory {
  std::unique_ptr<DirectorySync> sync;
  std::chrono::seconds full_interval{0};         // 0: never
  std::chrono::seconds incremental_interval{0};  // 0: never
  DirectoryPersister persister;                  // empty: no near-real-time sync
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
    std::uint64_t runs_finished = 0;  // scheduled runs ended, for the persist thread to wait on
    std::thread persist_thread;
    bool persisting = false;    // a persistent search is open; guarded by mutex_
    std::string persist_error;  // why persisting last ended other than by a stop
  };
  void loop(Slot& slot);
  void persist_loop(Slot& slot);
  // Applies one persist batch, waiting while another run holds the directory. Throws when the
  // batch was not fully applied (its cursor not stored): persisting then starts again from the
  // stored cursor, so no change is skipped.
  void apply_batch(DirectorySync& sync, const core::sync::Snapshot& batch);
  // Called with mutex_ held: returns when a scheduled run ends after this call, or on stop.
  void wait_for_run(std::unique_lock<std::mutex>& lock, Slot& slot);

  core::Store& store_;
  Logger& logger_;
  std::chrono::milliseconds first_run_within_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::stop_source stop_source_;  // ends the persistent searches
  bool started_ = false;
};

}  // namespace idbridge::daemon
