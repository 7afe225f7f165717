// Write-back delivery: takes one directory's outbox (queued by core::writeback's interceptor in
// the same transaction as each SCIM change) to the directory, in order per user. Every write
// asserts what idbridge believes the directory holds, so a concurrent directory edit becomes a
// conflict decided by the attribute's owner instead of being overwritten; a write the directory
// refuses is retried with backoff and parked after max_attempts; while the directory is down,
// nothing is lost and SCIM is not slowed (it only appends to the outbox).
//
// At-least-once: a write is removed from the outbox only after the directory confirmed it. A
// crash in between repeats it, and the repeat finds the directory already holding the value
// (assertion fails, the value equals the one to write: done), so the directory ends as if it had
// been written once.
//
// Throughput: the due writes of different users go out pipelined on the one connection (a
// user's own writes stay one after another), and the consecutive attribute changes of one user
// still queued are sent as one modify (the first change's value asserted, the last one's written)
// and removed together once the directory confirmed it.
#pragma once

#include "idbridge/config/config.hpp"
#include "idbridge/core/store.hpp"
#include "idbridge/core/writeback/interceptor.hpp"
#include "idbridge/ldap/client.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace idbridge::core {
class Clock;
class SecretSealer;
}  // namespace idbridge::core

namespace idbridge::daemon {

class Logger;

struct DeliveryCounters {
  std::size_t delivered = 0;    // removed from the outbox: written, found done, or resolved
  std::size_t conflicts = 0;    // conflict records written
  std::size_t retried = 0;      // refused by the directory, scheduled again
  std::size_t parked = 0;       // refused max_attempts times: waiting for an admin
  std::size_t writes = 0;       // LDAP writes sent (fewer than delivered when coalesced)
  bool directory_down = false;  // the pass stopped: no connection (retried later, nothing lost)
  std::string down_reason;
  // The earliest retry scheduled among the items left waiting, from the end of the pass.
  std::optional<std::chrono::milliseconds> next_retry_in;
};

class WriteBackDelivery {
 public:
  // `sealer` opens queued passwords; null when the directory does not take them.
  WriteBackDelivery(const config::DirectoryConfig& directory, ldap::ConnectionSettings settings,
                    core::Store& store, const core::Clock& clock, Logger& logger,
                    core::SecretSealer* sealer = nullptr);
  ~WriteBackDelivery();
  WriteBackDelivery(const WriteBackDelivery&) = delete;
  WriteBackDelivery& operator=(const WriteBackDelivery&) = delete;

  // Delivers every outbox item that is due, in batches, until none is due or the directory is
  // unreachable. Blocking (LDAP round trips); run it on its own thread.
  DeliveryCounters deliver_due();

  const config::DirectoryConfig& directory() const { return directory_; }

 private:
  struct Outcome;
  struct Group;
  // Values a coalesced group writes per target: the directory holding one of them is this
  // group's own earlier write (a repeat after a crash), not someone else's edit.
  using OwnValues = std::map<std::string, std::set<std::string>>;
  Outcome deliver(const core::writeback::OutboxItem& item, const OwnValues* own = nullptr);
  // Delivers `groups` (one per user): pipelined where it can, one at a time where not.
  std::vector<Outcome> deliver_groups(const std::vector<Group>& groups, std::size_t& writes);
  // Looks up the DNs of the anchors not cached yet, many per search. Returns the failure when
  // the directory cannot be reached.
  std::optional<Outcome> prefetch_dns(const std::vector<Group>& groups);
  Outcome create(const core::writeback::OutboxItem& item);
  Outcome modify(const core::writeback::OutboxItem& item, const std::string& dn,
                 const OwnValues* own);
  Outcome set_active(const core::writeback::OutboxItem& item, const std::string& dn);
  Outcome remove(const core::writeback::OutboxItem& item, const std::string& dn);
  Outcome membership(const core::writeback::OutboxItem& item, const std::string& dn);
  Outcome set_password(const core::writeback::OutboxItem& item, const std::string& dn);
  // The DN of the entry with `anchor`, cached; nullopt with `error` set when not found.
  std::optional<std::string> dn_of(const std::string& anchor, Outcome& error);
  std::string anchor_of(const core::writeback::OutboxItem& item);
  std::vector<std::string> revision_attributes() const;
  std::string revision_of(const ldap::Entry& entry) const;
  ldap::Connection* connection(Outcome& error);

  const config::DirectoryConfig& directory_;
  ldap::ConnectionSettings settings_;
  core::Store& store_;
  const core::Clock& clock_;
  Logger& logger_;
  core::SecretSealer* sealer_;
  std::optional<ldap::Connection> connection_;
  std::map<std::string, std::string> dn_by_anchor_;
};

// What wakes the delivery threads: a committed change that queued writes for a directory (the
// core interceptor calls queued() after the commit is durable, never before), and stop().
class WriteBackWakeups final : public core::writeback::OutboxNotifier {
 public:
  void queued(std::string_view directory) override;
  void stop();

  enum class WaitEnd { stop, queued, timeout };
  // Waits up to `timeout` for stop(), or for queued(directory) when `wake_on_queue` (a worker
  // backing off from a failing directory ignores it). A queued() that came since the last
  // take() ends the wait at once.
  WaitEnd wait(const std::string& directory, std::chrono::milliseconds timeout, bool wake_on_queue);
  // Forgets earlier queued(directory) calls: a pass that starts now reads what they queued.
  void take(const std::string& directory);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string, std::less<>> queued_;
  bool stopping_ = false;
};

// One delivery thread per directory that takes writes: delivers as soon as a committed change
// queued something (WriteBackWakeups), polls the outbox every `poll_interval` of the directory
// as a safety net (items queued by another process), wakes when a write's retry falls due, and
// backs off while the directory is down. `stop()` ends it after the write in progress.
class WriteBackWorker {
 public:
  WriteBackWorker(std::vector<std::unique_ptr<WriteBackDelivery>> deliveries, Logger& logger,
                  WriteBackWakeups& wakeups);
  ~WriteBackWorker();
  WriteBackWorker(const WriteBackWorker&) = delete;
  WriteBackWorker& operator=(const WriteBackWorker&) = delete;
  void start();
  void stop();

  // How long a worker waits after a pass, and whether queued writes may cut that wait short:
  // not while it backs off from a directory that is down (0.5 s doubling to 30 s), however many
  // SCIM writes arrive; right away after a pass that delivered (more may be due); else until the
  // earliest scheduled retry or the poll interval.
  struct Wait {
    std::chrono::milliseconds timeout{0};
    bool wake_on_queue = true;
  };
  static Wait next_wait(const DeliveryCounters& pass, std::chrono::milliseconds& backoff,
                        std::chrono::milliseconds poll_interval);

 private:
  void loop(WriteBackDelivery& delivery);

  std::vector<std::unique_ptr<WriteBackDelivery>> deliveries_;
  Logger& logger_;
  WriteBackWakeups& wakeups_;
  std::vector<std::thread> threads_;
};

}  // namespace idbridge::daemon
