// Write-back delivery decisions (delivery.hpp).
#include "idbridge/core/writeback/delivery.hpp"

#include <algorithm>
#include <set>

namespace idbridge::core::writeback {

std::vector<const OutboxItem*> deliverable(const std::vector<OutboxItem>& items, Timestamp now) {
  UsersSeen seen;
  return deliverable(items, now, seen);
}

std::vector<const OutboxItem*> deliverable(const std::vector<OutboxItem>& items, Timestamp now,
                                           UsersSeen& seen) {
  std::vector<const OutboxItem*> out;
  for (const auto& item : items) {
    const bool first = seen.emplace(item.tenant.str(), item.user.str()).second;
    if (!first || item.parked || (item.next_attempt && *item.next_attempt > now)) {
      continue;
    }
    out.push_back(&item);
  }
  return out;
}

std::chrono::milliseconds retry_delay(int attempts) {
  constexpr std::chrono::milliseconds cap = std::chrono::minutes(5);
  std::chrono::milliseconds delay = std::chrono::seconds(1);
  for (int i = 1; i < attempts && delay < cap; ++i) {
    delay *= 2;
  }
  return std::min(delay, cap);
}

bool should_park(const Policy& policy, int attempts) {
  return attempts >= policy.max_attempts;
}

Resolution resolve_conflicts(const Policy& policy, const OutboxItem& item,
                             const std::map<std::string, std::string>& directory_values,
                             Timestamp now) {
  Resolution out;
  for (const auto& change : item.changes) {
    const std::string before = change.before.value_or("");
    const std::string after = change.after.value_or("");
    const auto found = directory_values.find(change.path);
    const std::string current = found == directory_values.end() ? std::string() : found->second;
    if (current == after) {
      continue;  // already there: a retry after a lost acknowledgement, or the same edit twice
    }
    if (current == before) {
      out.to_write.push_back(change);
      continue;
    }
    const AttributeBinding* binding = policy.binding(change.path);
    const Authority owner = binding != nullptr ? binding->owner : Authority::directory;
    Conflict conflict;
    conflict.directory = item.directory;
    conflict.tenant = item.tenant;
    conflict.user = item.user;
    conflict.target = change.path;
    conflict.owner = owner;
    conflict.detected = now;
    if (owner == Authority::scim) {
      conflict.kept = after;
      conflict.lost = current;
      conflict.lost_by = "directory";
      AttributeChange overwrite = change;
      overwrite.before = current.empty() ? std::nullopt : std::optional(current);
      out.to_write.push_back(std::move(overwrite));
    } else {
      conflict.kept = current;
      conflict.lost = after;
      conflict.lost_by =
          item.actor.id.empty() ? std::string(to_string(item.actor.kind)) : item.actor.id;
      out.dropped.push_back(change.path);
    }
    out.conflicts.push_back(std::move(conflict));
  }
  return out;
}

}  // namespace idbridge::core::writeback
