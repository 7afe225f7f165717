// The SCIM side of write-back: every change to a tenant that has write-back or directory-owned
// attributes passes here inside its transaction. A change to what a directory owns is refused
// (owned_by_directory, which SCIM answers as 400 mutability); an accepted change that the
// directory takes is queued in the outbox in the same commit.
#pragma once

#include "idbridge/core/interceptor.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/core/writeback/outbox.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include <string_view>
#include <vector>

namespace idbridge::core::writeback {

// Told that committed changes queued writes for a directory, so that its delivery starts now
// instead of at its next poll. Called on the committing thread after the commit is durable;
// must not block (the daemon's implementation only wakes a thread).
class OutboxNotifier {
 public:
  virtual ~OutboxNotifier() = default;
  virtual void queued(std::string_view directory) = 0;
};

class WriteBackInterceptor final : public ChangeInterceptor {
 public:
  // `sealer` may be null: then passwords are never written back (and the config refuses
  // `password` write-back without one). `notifier` may be null (the CLI: no delivery runs).
  WriteBackInterceptor(std::vector<Policy> policies, const Clock& clock, SecretSealer* sealer,
                       OutboxNotifier* notifier = nullptr);

  // Changes whose origin is a directory sync are neither refused nor written back: a directory's
  // own changes must not echo back to it, and sync applies only what the directory owns.
  std::optional<Error> before_write(StoreWriter& tx, const Principal& who,
                                    const PendingChange& change) override;

  // Tells the notifier which directories the committed transaction queued writes for.
  void after_commit() override;

  const std::vector<Policy>& policies() const { return policies_; }

 private:
  // Enqueues `item` in `tx` and remembers, for this thread's transaction, that its directory
  // has a write to deliver once the transaction commits.
  void queue(StoreWriter& tx, const OutboxItem& item);

  std::optional<Error> user_change(StoreWriter& tx, const Principal& who, const Policy& policy,
                                   const PendingChange& change);
  std::optional<Error> group_change(StoreWriter& tx, const Principal& who, const Policy& policy,
                                    const PendingChange& change);

  std::vector<Policy> policies_;
  const Clock& clock_;
  SecretSealer* sealer_;
  OutboxNotifier* notifier_;
};

}  // namespace idbridge::core::writeback
