// WriteBackInterceptor: authority checks and outbox writes inside the change's transaction.
#include "idbridge/core/writeback/interceptor.hpp"

#include "idbridge/core/store.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace idbridge::core::writeback {
namespace {

// How a refusal names the attribute: the SCIM path a client wrote.
std::string scim_path(std::string_view target) {
  if (target == "emails.primary" || target == "emails.backup")
    return "emails";
  if (target == "phoneNumbers.work" || target == "phoneNumbers.mobile")
    return "phoneNumbers";
  if (target.rfind("enterprise.", 0) == 0) {
    return "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:" +
           std::string(target.substr(std::string_view("enterprise.").size()));
  }
  return std::string(target);
}

Error owned(const Policy& policy, std::string_view target, std::string what) {
  return make_error(ErrorCode::owned_by_directory,
                    std::move(what) + " is owned by directory '" + policy.directory +
                        "' (authority: directory); change it in the directory",
                    scim_path(target));
}

bool has_pending_create(StoreWriter& tx, const Policy& policy, const TenantId& tenant,
                        const UserId& user) {
  const auto items = tx.outbox_items_of_user(policy.directory, tenant, user);
  return std::any_of(items.begin(), items.end(),
                     [](const OutboxItem& item) { return item.kind == WriteKind::create_user; });
}

// Per thread and interceptor, the directories the transaction in progress queued writes for.
// A thread holds at most one write transaction at a time (the store's write slot), and the
// service commits on the thread that called before_write, so this is that transaction's state.
// A transaction rolled back leaves its entries behind: the next commit on the thread then wakes
// a delivery that finds nothing new, which costs one outbox read and is never wrong.
thread_local std::map<const WriteBackInterceptor*, std::set<std::string>> queued_by_thread;

}  // namespace

WriteBackInterceptor::WriteBackInterceptor(std::vector<Policy> policies, const Clock& clock,
                                           SecretSealer* sealer, OutboxNotifier* notifier)
    : policies_(std::move(policies)), clock_(clock), sealer_(sealer), notifier_(notifier) {}

void WriteBackInterceptor::queue(StoreWriter& tx, const OutboxItem& item) {
  tx.enqueue_write(item);
  if (notifier_ != nullptr) {
    queued_by_thread[this].insert(item.directory);
  }
}

void WriteBackInterceptor::after_commit() {
  if (notifier_ == nullptr) {
    return;
  }
  const auto mine = queued_by_thread.find(this);
  if (mine == queued_by_thread.end()) {
    return;
  }
  const std::set<std::string> directories = std::move(mine->second);
  queued_by_thread.erase(mine);
  for (const auto& directory : directories) {
    notifier_->queued(directory);
  }
}

std::optional<Error> WriteBackInterceptor::before_write(StoreWriter& tx, const Principal& who,
                                                        const PendingChange& change) {
  if (who.origin.kind == OriginKind::directory_sync) {
    return std::nullopt;
  }
  for (const Policy& policy : policies_) {
    if (policy.tenant != change.tenant) {
      continue;
    }
    auto refusal = change.resource_type == ResourceType::user
                       ? user_change(tx, who, policy, change)
                       : group_change(tx, who, policy, change);
    if (refusal) {
      return refusal;
    }
  }
  return std::nullopt;
}

std::optional<Error> WriteBackInterceptor::user_change(StoreWriter& tx, const Principal& who,
                                                       const Policy& policy,
                                                       const PendingChange& change) {
  OutboxItem item;
  item.directory = policy.directory;
  item.tenant = change.tenant;
  item.actor = who.actor;
  item.enqueued = clock_.now();
  const auto enqueue = [&](WriteKind kind, std::vector<AttributeChange> changes) {
    OutboxItem queued = item;
    queued.kind = kind;
    queued.changes = std::move(changes);
    queue(tx, queued);
  };
  const auto queue_password = [&] {
    if (change.new_password != nullptr && policy.operations.password && sealer_ != nullptr) {
      OutboxItem queued = item;
      queued.kind = WriteKind::set_password;
      queued.secret = sealer_->seal(*change.new_password);
      queue(tx, queued);
    }
  };

  if (change.kind == ChangeKind::created) {
    if (!policy.operations.create) {
      return std::nullopt;
    }
    const User& user = *change.after;
    item.user = user.id;
    std::vector<AttributeChange> values;
    for (const auto& binding : policy.attributes) {
      if (binding.attribute.empty() || binding.owner == Authority::tenant ||
          binding.target == "active") {
        continue;
      }
      std::string value = target_value(user, binding.target);
      if (!value.empty()) {
        values.push_back({binding.target, std::nullopt, std::move(value)});
      }
    }
    // The DN template and create_attributes may name any target, mapped or not.
    values.push_back({"userName", std::nullopt, user.user_name});
    enqueue(WriteKind::create_user, std::move(values));
    if (!user.active && policy.operations.disable) {
      enqueue(WriteKind::disable_user, {{"active", "true", "false"}});
    }
    queue_password();
    return std::nullopt;
  }

  const User& before = *change.before;
  item.user = before.id;
  const auto link = tx.find_link_of_user(policy.directory, change.tenant, before.id);
  if (link) {
    item.anchor = link->anchor;
  } else if (!has_pending_create(tx, policy, change.tenant, before.id)) {
    return std::nullopt;  // not a user of this directory
  }

  if (change.kind == ChangeKind::deleted) {
    if (!link) {
      // Its entry was never created: drop the queued writes instead of creating then deleting.
      for (const auto& queued :
           tx.outbox_items_of_user(policy.directory, change.tenant, before.id)) {
        tx.remove_write(queued.id);
      }
      return std::nullopt;
    }
    if (!policy.operations.remove) {
      return owned(policy, "id", "user '" + before.user_name + "'");
    }
    enqueue(WriteKind::delete_user, {{"userName", before.user_name, std::nullopt}});
    return std::nullopt;
  }

  const User& after = *change.after;
  if (policy.role_from_directory && before.role != after.role) {
    return owned(policy, "role", "the role of a directory user");
  }
  std::vector<AttributeChange> modified;
  for (const auto& binding : policy.attributes) {
    std::string was = target_value(before, binding.target);
    std::string now = target_value(after, binding.target);
    if (was == now) {
      continue;
    }
    if (binding.owner == Authority::directory && !binding.accept_scim_writes) {
      return owned(policy, binding.target, "'" + scim_path(binding.target) + "'");
    }
    if (binding.owner == Authority::tenant) {
      continue;
    }
    if (binding.target == "active") {
      if (policy.operations.disable) {
        enqueue(after.active ? WriteKind::enable_user : WriteKind::disable_user,
                {{"active", std::move(was), std::move(now)}});
      }
      continue;
    }
    if (policy.operations.modify && !binding.attribute.empty()) {
      modified.push_back({binding.target, was.empty() ? std::nullopt : std::optional(was),
                          now.empty() ? std::nullopt : std::optional(now)});
    }
  }
  if (!modified.empty()) {
    enqueue(WriteKind::modify_user, std::move(modified));
  }
  queue_password();
  return std::nullopt;
}

std::optional<Error> WriteBackInterceptor::group_change(StoreWriter& tx, const Principal& who,
                                                        const Policy& policy,
                                                        const PendingChange& change) {
  if (change.group == nullptr) {
    return std::nullopt;
  }
  const std::string& name = change.group->display_name;
  const bool rule_managed =
      std::find(policy.rule_managed_groups.begin(), policy.rule_managed_groups.end(), name) !=
      policy.rule_managed_groups.end();
  if (!rule_managed) {
    return std::nullopt;
  }
  const GroupBinding* bound = policy.operations.groups ? policy.group_binding(name) : nullptr;
  const auto each_directory_user = [&](const std::vector<MemberRef>& members,
                                       WriteKind kind) -> std::optional<Error> {
    for (const auto& member : members) {
      if (member.type != MemberType::user) {
        continue;
      }
      const UserId user(member.id);
      const auto link = tx.find_link_of_user(policy.directory, change.tenant, user);
      if (!link && !has_pending_create(tx, policy, change.tenant, user)) {
        continue;
      }
      if (bound == nullptr) {
        return owned(policy, "members", "membership of directory users in group '" + name + "'");
      }
      OutboxItem item;
      item.directory = policy.directory;
      item.tenant = change.tenant;
      item.user = user;
      item.anchor = link ? link->anchor : std::string();
      item.kind = kind;
      item.group_dn = bound->directory_dn;
      item.actor = who.actor;
      item.enqueued = clock_.now();
      queue(tx, item);
    }
    return std::nullopt;
  };
  if (change.kind == ChangeKind::deleted) {
    return std::nullopt;  // the next sync re-creates a rule's group; nothing to write
  }
  if (auto e = each_directory_user(change.members_added, WriteKind::add_member)) {
    return e;
  }
  return each_directory_user(change.members_removed, WriteKind::remove_member);
}

}  // namespace idbridge::core::writeback
