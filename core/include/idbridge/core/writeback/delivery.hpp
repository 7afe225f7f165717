// Pure decisions of write-back delivery: which queued writes may go now (in order per user, a
// parked write blocks only its own user), how long to wait after a failure, and what a write
// whose assertion failed (the directory changed the attribute meanwhile) becomes: done already,
// written anyway, or dropped, with a conflict record for the side that lost.
#pragma once

#include "idbridge/core/writeback/outbox.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace idbridge::core::writeback {

// From `items` (one directory's outbox in id order), those that may be delivered at `now`: the
// oldest item of each user, unless it is parked or scheduled later. Later items of a user wait
// for the earlier ones, so a user's writes reach the directory in the order they were made.
// `seen` carries the users met in earlier windows of the same outbox walk: their later items wait
// as well.
using UsersSeen = std::set<std::pair<std::string, std::string>>;  // (tenant, user)
std::vector<const OutboxItem*> deliverable(const std::vector<OutboxItem>& items, Timestamp now,
                                           UsersSeen& seen);
std::vector<const OutboxItem*> deliverable(const std::vector<OutboxItem>& items, Timestamp now);

// Exponential backoff after `attempts` failed attempts: 1 s, 2 s, 4 s ... capped at 5 minutes.
std::chrono::milliseconds retry_delay(int attempts);

// Whether a write that failed `attempts` times (this one included) with a non-transient error
// is parked now. Transient failures (directory down) are retried without limit and never park.
bool should_park(const Policy& policy, int attempts);

// A modify_user whose assertion failed, given what the directory holds now (per target, "" for
// absent).
struct Resolution {
  std::vector<AttributeChange> to_write;  // still to write (their `before` is the current value)
  std::vector<Conflict> conflicts;        // each attribute both sides changed
  std::vector<std::string> dropped;       // targets the directory keeps (it owns them)
};
Resolution resolve_conflicts(const Policy& policy, const OutboxItem& item,
                             const std::map<std::string, std::string>& directory_values,
                             Timestamp now);

}  // namespace idbridge::core::writeback
