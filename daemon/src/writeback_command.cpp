// `idbridged writeback` (writeback_command.hpp).
#include "writeback_command.hpp"

#include <nlohmann/json.hpp>

namespace idbridge::daemon {
namespace {

nlohmann::json conflict_json(const core::writeback::Conflict& conflict) {
  return {{"id", conflict.id},
          {"directory", conflict.directory},
          {"tenant", conflict.tenant.str()},
          {"user", conflict.user.str()},
          {"attribute", conflict.target},
          {"owner", core::writeback::to_string(conflict.owner)},
          {"kept", conflict.kept},
          {"lost", conflict.lost},
          {"lostBy", conflict.lost_by},
          {"detected", core::format_timestamp(conflict.detected)}};
}

nlohmann::json item_json(const core::writeback::OutboxItem& item) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& change : item.changes) {
    changes.push_back({{"attribute", change.path},
                       {"before", change.before ? nlohmann::json(*change.before) : nullptr},
                       {"after", change.after ? nlohmann::json(*change.after) : nullptr}});
  }
  nlohmann::json out = {{"id", item.id},
                        {"directory", item.directory},
                        {"tenant", item.tenant.str()},
                        {"user", item.user.str()},
                        {"kind", core::writeback::to_string(item.kind)},
                        {"changes", std::move(changes)},
                        {"enqueued", core::format_timestamp(item.enqueued)},
                        {"attempts", item.attempts},
                        {"state", item.parked ? "parked" : "pending"}};
  if (!item.group_dn.empty()) {
    out["group"] = item.group_dn;
  }
  if (!item.last_error.empty()) {
    out["lastError"] = item.last_error;
  }
  if (item.next_attempt) {
    out["nextAttempt"] = core::format_timestamp(*item.next_attempt);
  }
  return out;
}

}  // namespace

void print_conflicts(core::StoreReader& reader, const std::string& directory, bool json,
                     std::ostream& out) {
  const auto conflicts = reader.list_conflicts(directory, 1000);
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& conflict : conflicts) {
      list.push_back(conflict_json(conflict));
    }
    out << list.dump(2) << '\n';
    return;
  }
  if (conflicts.empty()) {
    out << "no conflicts\n";
  }
  for (const auto& c : conflicts) {
    out << "conflict " << c.id << "  " << core::format_timestamp(c.detected) << "  " << c.directory
        << "  user " << c.user.str() << "  " << c.target << ": kept \"" << c.kept
        << "\" (owner: " << core::writeback::to_string(c.owner) << "), lost \"" << c.lost
        << "\" from " << c.lost_by << '\n';
  }
}

void print_outbox(core::StoreReader& reader, const std::string& directory, bool json,
                  std::ostream& out) {
  const auto items = reader.outbox_items(directory, 0, 1000);
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : items) {
      list.push_back(item_json(item));
    }
    out << list.dump(2) << '\n';
    return;
  }
  if (items.empty()) {
    out << "the outbox of " << directory << " is empty\n";
  }
  for (const auto& item : items) {
    out << "write " << item.id << "  " << (item.parked ? "PARKED" : "pending") << "  "
        << core::writeback::to_string(item.kind) << "  user " << item.user.str() << "  queued "
        << core::format_timestamp(item.enqueued) << "  attempts " << item.attempts << '\n';
    if (!item.last_error.empty()) {
      out << "    " << item.last_error << '\n';
    }
  }
}

bool retry_parked(core::Store& store, std::int64_t id) {
  auto tx = store.write();
  auto item = tx->find_outbox_item(id);
  if (!item) {
    return false;
  }
  item->parked.reset();
  item->next_attempt.reset();
  item->attempts = 0;
  tx->update_write(*item);
  tx->commit();
  return true;
}

}  // namespace idbridge::daemon
