// The pure sync planner (sync/plan.hpp).
#include "idbridge/core/rules.hpp"
#include "idbridge/core/sync/plan.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include "canonical_text.hpp"
#include "sync_plan_internal.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace idbridge::core::sync {
namespace {

int phase(OpKind kind) {
  switch (kind) {
    case OpKind::create_group: return 0;
    case OpKind::create_user: return 1;
    case OpKind::adopt_user:
    case OpKind::reanchor_user: return 2;
    case OpKind::update_user: return 3;
    // After the update of the same user: a correction queues a write, and an update finding a
    // queued write would wait for the next run (sync_apply.cpp, write_back_pending).
    case OpKind::correct_directory: return 4;
    case OpKind::restore_user: return 5;
    case OpKind::add_membership: return 6;
    case OpKind::remove_membership: return 7;
    case OpKind::disable_user: return 8;
    case OpKind::delete_user: return 9;
  }
  return 10;
}

bool set_on_create_only(const MappingRules& rules, std::string_view target) {
  return std::find(rules.set_on_create_only.begin(), rules.set_on_create_only.end(), target) !=
         rules.set_on_create_only.end();
}

// Whether the sync sets `target`: mapped, and on existing users not given to SCIM or the tenant
// by the write-back authority.
bool maps(const MappingRules& rules, std::string_view target, bool creating) {
  return std::any_of(rules.attributes.begin(), rules.attributes.end(),
                     [&](const AttributeMapping& m) { return m.target == target; }) &&
         (creating || !set_on_create_only(rules, target));
}

bool over(const Threshold& threshold, std::size_t count, std::size_t linked) {
  if (count > threshold.max_count) {
    return true;
  }
  return linked >= threshold.fraction_from && linked > 0 &&
         static_cast<double>(count) / static_cast<double>(linked) > threshold.max_fraction;
}

void add_memberships(std::vector<Op>& ops, const std::string& anchor,
                     const std::optional<UserId>& user, const std::string& user_name,
                     const std::vector<std::string>& current,
                     const std::vector<std::string>& wanted) {
  for (const auto& group : wanted) {
    if (!std::binary_search(current.begin(), current.end(), group)) {
      Op op{OpKind::add_membership, anchor, user, user_name, {}, nullptr, group};
      ops.push_back(std::move(op));
    }
  }
  for (const auto& group : current) {
    if (!std::binary_search(wanted.begin(), wanted.end(), group)) {
      Op op{OpKind::remove_membership, anchor, user, user_name, {}, nullptr, group};
      ops.push_back(std::move(op));
    }
  }
}

}  // namespace

namespace detail {

Ownership::Ownership(const MappingRules& rules, bool creating)
    : user_name(maps(rules, "userName", creating)),
      external_id(maps(rules, "externalId", creating)),
      display_name(maps(rules, "displayName", creating)),
      nick_name(maps(rules, "nickName", creating)),
      title(maps(rules, "title", creating)),
      user_type(maps(rules, "userType", creating)),
      preferred_language(maps(rules, "preferredLanguage", creating)),
      locale(maps(rules, "locale", creating)),
      timezone(maps(rules, "timezone", creating)),
      given_name(maps(rules, "name.givenName", creating)),
      family_name(maps(rules, "name.familyName", creating)),
      middle_name(maps(rules, "name.middleName", creating)),
      formatted(maps(rules, "name.formatted", creating)),
      employee_number(maps(rules, "enterprise.employeeNumber", creating)),
      cost_center(maps(rules, "enterprise.costCenter", creating)),
      organization(maps(rules, "enterprise.organization", creating)),
      division(maps(rules, "enterprise.division", creating)),
      department(maps(rules, "enterprise.department", creating)),
      emails(maps(rules, "emails.primary", creating) || maps(rules, "emails.backup", creating)),
      phone_numbers(maps(rules, "phoneNumbers.work", creating) ||
                    maps(rules, "phoneNumbers.mobile", creating)),
      active(rules.disabled.kind != DisabledRule::Kind::none &&
             (creating || !set_on_create_only(rules, "active"))) {
  for (const auto& rule : rules.profiles) {
    managed_profiles.insert(rule.profile);
  }
  if (!creating) {
    corrected_in_directory = rules.corrected_in_directory;
  }
}

User target_user(const User& current, const DesiredUser& desired, const Ownership& owns) {
  User target = current;
  const User& d = desired.user;
  const auto take = [](bool owned, auto& to, const auto& from) {
    if (owned) {
      to = from;
    }
  };
  take(owns.user_name, target.user_name, d.user_name);
  take(owns.external_id, target.external_id, d.external_id);
  take(owns.display_name, target.display_name, d.display_name);
  take(owns.nick_name, target.nick_name, d.nick_name);
  take(owns.title, target.title, d.title);
  take(owns.user_type, target.user_type, d.user_type);
  take(owns.preferred_language, target.preferred_language, d.preferred_language);
  take(owns.locale, target.locale, d.locale);
  take(owns.timezone, target.timezone, d.timezone);
  take(owns.given_name, target.name.given_name, d.name.given_name);
  take(owns.family_name, target.name.family_name, d.name.family_name);
  take(owns.middle_name, target.name.middle_name, d.name.middle_name);
  take(owns.formatted, target.name.formatted, d.name.formatted);
  take(owns.employee_number, target.enterprise.employee_number, d.enterprise.employee_number);
  take(owns.cost_center, target.enterprise.cost_center, d.enterprise.cost_center);
  take(owns.organization, target.enterprise.organization, d.enterprise.organization);
  take(owns.division, target.enterprise.division, d.enterprise.division);
  take(owns.department, target.enterprise.department, d.enterprise.department);
  take(owns.emails, target.emails, d.emails);
  take(owns.phone_numbers, target.phone_numbers, d.phone_numbers);
  take(owns.active, target.active, d.active);
  if (desired.role) {
    target.role = *desired.role;
  }
  // Profiles named by profile rules are the directory's; others stay as the tenant set them.
  std::vector<std::string> profiles;
  profiles.reserve(current.profiles.size() + desired.profiles.size() + 1);
  for (const auto& profile : current.profiles) {
    if (!owns.managed_profiles.contains(profile) && profile.rfind("default:", 0) != 0) {
      profiles.push_back(profile);
    }
  }
  profiles.insert(profiles.end(), desired.profiles.begin(), desired.profiles.end());
  profiles.push_back(default_profile_name(target.role));
  std::sort(profiles.begin(), profiles.end());
  profiles.erase(std::unique(profiles.begin(), profiles.end()), profiles.end());
  target.profiles = std::move(profiles);
  return target;
}

std::vector<AttributeChange> directory_corrections(const LinkedUser& current,
                                                   const DesiredUser& desired,
                                                   const Ownership& owns) {
  std::vector<AttributeChange> corrections;
  if (current.disabled_by_sync_at) {
    return corrections;
  }
  for (const auto& target : owns.corrected_in_directory) {
    std::string in_directory = writeback::target_value(desired.user, target);
    std::string in_tenant = writeback::target_value(current.user, target);
    if (in_directory != in_tenant) {
      corrections.push_back(
          {target, in_directory.empty() ? std::nullopt : std::optional(std::move(in_directory)),
           in_tenant.empty() ? std::nullopt : std::optional(std::move(in_tenant))});
    }
  }
  return corrections;
}

bool leaves_unchanged(const LinkedUser& current, const DesiredUser& desired,
                      const Ownership& owns) {
  return !current.disabled_by_sync_at && current.tenant_groups == desired.tenant_groups &&
         target_user(current.user, desired, owns) == current.user &&
         directory_corrections(current, desired, owns).empty();
}

}  // namespace detail

std::string_view to_string(OpKind kind) {
  switch (kind) {
    case OpKind::create_group: return "createGroup";
    case OpKind::create_user: return "createUser";
    case OpKind::adopt_user: return "adoptUser";
    case OpKind::reanchor_user: return "reanchorUser";
    case OpKind::update_user: return "updateUser";
    case OpKind::restore_user: return "restoreUser";
    case OpKind::disable_user: return "disableUser";
    case OpKind::delete_user: return "deleteUser";
    case OpKind::add_membership: return "addMembership";
    case OpKind::remove_membership: return "removeMembership";
    case OpKind::correct_directory: return "correctDirectory";
  }
  return "unknown";
}

namespace {

// `each_desired(f)` calls f with every mapped user, in anchor order.
template <class EachDesired>
Plan make_plan(const std::vector<Diagnostic>& problems, EachDesired&& each_desired,
               const Snapshot& snapshot, const TenantView& current, const MappingRules& rules,
               const Policy& policy, Timestamp now) {
  using detail::Ownership;
  using detail::target_user;
  Plan result;
  result.directory = snapshot.directory;
  result.tenant = current.tenant;
  result.kind = snapshot.kind;
  result.cursor = snapshot.cursor;
  result.completeness = snapshot.completeness;
  result.diagnostics = problems;
  result.counts.read = snapshot.users.size();
  result.settled_links = current.settled_links;
  result.rules = std::make_shared<const MappingRules>(rules);
  result.rule_groups = snapshot.rule_groups;

  const Ownership owns(rules, false);
  const Ownership owns_on_create(rules, true);
  std::unordered_map<std::string_view, const LinkedUser*> linked;
  linked.reserve(current.linked.size());
  for (const auto& user : current.linked) {
    linked.emplace(user.anchor, &user);
  }
  std::unordered_map<std::string, const User*> unlinked;
  unlinked.reserve(current.unlinked_with_names.size());
  for (const auto& user : current.unlinked_with_names) {
    unlinked.emplace(fold_case(user.user_name), &user);
  }
  std::set<std::string> managed_groups;
  std::map<std::string, GroupKind> group_kinds;
  for (const auto& rule : rules.groups) {
    managed_groups.insert(rule.tenant_group);
    group_kinds.emplace(rule.tenant_group, rule.kind);
  }

  // Users whose directory object is gone. Presence is judged on every entry read, mapped or not:
  // an entry skipped for a mapping problem is still in the directory. An incremental read says
  // what is gone explicitly (deleted anchors, or a present set); silence there means unchanged.
  std::unordered_set<std::string_view> present;
  present.reserve(snapshot.users.size());
  for (const auto& entry : snapshot.users) {
    present.insert(entry.anchor);
  }
  const std::set<std::string> deleted(snapshot.deleted_anchors.begin(),
                                      snapshot.deleted_anchors.end());
  const auto gone = [&](const std::string& anchor) {
    if (present.contains(anchor)) {
      return false;
    }
    if (snapshot.kind == Snapshot::Kind::full) {
      return true;
    }
    if (deleted.contains(anchor)) {
      return true;
    }
    const auto& still = snapshot.present_anchors;
    return still.has_value() && !std::binary_search(still->begin(), still->end(), anchor);
  };
  // Linked users whose object is gone, by userName: a new entry with the same userName in the
  // same complete read is the same account re-created, and takes the user over.
  std::map<std::string, const LinkedUser*> gone_by_name;
  if (snapshot.completeness.complete) {
    for (const auto& user : current.linked) {
      if (gone(user.anchor)) {
        gone_by_name.emplace(fold_case(user.user.user_name), &user);
      }
    }
  }
  std::set<std::string> reanchored;  // previous anchors taken over

  std::vector<Op> ops;
  const auto shared = [](User&& user) { return std::make_shared<const User>(std::move(user)); };
  each_desired([&](const DesiredUser& desired) {
    const auto found = linked.find(desired.anchor);
    if (found != linked.end()) {
      const LinkedUser& link = *found->second;
      User target = target_user(link.user, desired, owns);
      if (link.disabled_by_sync_at) {
        // The same anchor is back: the same user (id, role, memberships) returns.
        target.active = rules.disabled.kind == DisabledRule::Kind::none || desired.user.active;
      }
      // Most users of a full read are unchanged: a comparison is far cheaper than a diff.
      auto changes =
          link.user == target ? std::vector<AttributeChange>{} : diff_users(&link.user, &target);
      add_memberships(ops, desired.anchor, link.user.id, target.user_name, link.tenant_groups,
                      desired.tenant_groups);
      auto corrections = detail::directory_corrections(link, desired, owns);
      // A user whose entry still needs a correction is not settled: the next read compares it.
      const bool settles = corrections.empty();
      if (!corrections.empty()) {
        ops.push_back({OpKind::correct_directory, desired.anchor, link.user.id, target.user_name,
                       std::move(corrections), nullptr, ""});
      }
      if (link.disabled_by_sync_at || !changes.empty()) {
        const OpKind kind = link.disabled_by_sync_at ? OpKind::restore_user : OpKind::update_user;
        ops.push_back({kind, desired.anchor, link.user.id, target.user_name, std::move(changes),
                       shared(std::move(target)), ""});
        if (settles) {
          ops.back().link_digest = desired.digest;
        }
      }
      return;
    }
    if (const auto previous = gone_by_name.find(fold_case(desired.user.user_name));
        previous != gone_by_name.end() && !reanchored.contains(previous->second->anchor)) {
      const LinkedUser& link = *previous->second;
      User target = target_user(link.user, desired, owns);
      target.active = rules.disabled.kind == DisabledRule::Kind::none || desired.user.active;
      auto changes = diff_users(&link.user, &target);
      Op op{OpKind::reanchor_user,
            desired.anchor,
            link.user.id,
            target.user_name,
            std::move(changes),
            shared(std::move(target)),
            ""};
      op.previous_anchor = link.anchor;
      if (owns.corrected_in_directory.empty()) {  // else compared (and corrected) next time
        op.link_digest = desired.digest;
      }
      ops.push_back(std::move(op));
      reanchored.insert(link.anchor);
      add_memberships(ops, desired.anchor, link.user.id, target.user_name, link.tenant_groups,
                      desired.tenant_groups);
      return;
    }
    const auto adoptable = unlinked.find(fold_case(desired.user.user_name));
    if (adoptable != unlinked.end()) {
      const User& existing = *adoptable->second;
      User target = target_user(existing, desired, owns);
      // Memberships first: `target` moves into its op (the sort below orders the ops).
      add_memberships(ops, desired.anchor, existing.id, target.user_name, {},
                      desired.tenant_groups);
      auto changes = diff_users(&existing, &target);
      ops.push_back({OpKind::adopt_user, desired.anchor, existing.id, target.user_name,
                     std::move(changes), shared(std::move(target)), ""});
      if (owns.corrected_in_directory.empty()) {  // else compared (and corrected) next time
        ops.back().link_digest = desired.digest;
      }
      return;
    }
    User fresh;
    fresh.role = rules.default_role;
    User target = target_user(fresh, desired, owns_on_create);
    if (rules.disabled.kind == DisabledRule::Kind::none) {
      target.active = true;
    }
    add_memberships(ops, desired.anchor, std::nullopt, target.user_name, {}, desired.tenant_groups);
    // Its changes are every attribute of `desired`, derived when printed (changes_of).
    ops.push_back({OpKind::create_user,
                   desired.anchor,
                   std::nullopt,
                   target.user_name,
                   {},
                   shared(std::move(target)),
                   ""});
    ops.back().link_digest = desired.digest;
  });

  std::size_t unseen = 0;
  for (const auto& user : current.linked) {
    if (!gone(user.anchor) || reanchored.contains(user.anchor)) {
      continue;
    }
    ++unseen;
    if (!snapshot.completeness.complete) {
      continue;
    }
    if (!user.disabled_by_sync_at) {
      User target = user.user;
      target.active = false;
      auto changes = diff_users(&user.user, &target);
      ops.push_back({OpKind::disable_user, user.anchor, user.user.id, user.user.user_name,
                     std::move(changes), shared(std::move(target)), ""});
    } else if (now - *user.disabled_by_sync_at >= policy.retention) {
      ops.push_back({OpKind::delete_user, user.anchor, user.user.id, user.user.user_name,
                     diff_users(&user.user, nullptr), nullptr, ""});
    }
  }
  if (!snapshot.completeness.complete && unseen > 0) {
    result.diagnostics.push_back(
        {"", "",
         "the read was incomplete (" + snapshot.completeness.reason +
             "): " + std::to_string(unseen) +
             " linked users not seen are left as they are; nothing is disabled or deleted"});
  }

  // Tenant groups that membership needs but the tenant lacks are created first.
  const std::set<std::string> existing(current.existing_groups.begin(),
                                       current.existing_groups.end());
  std::set<std::string> needed;
  for (const auto& op : ops) {
    if (op.kind == OpKind::add_membership && !existing.contains(op.group)) {
      needed.insert(op.group);
    }
  }
  for (const auto& group : needed) {
    Op op{OpKind::create_group, "", std::nullopt, "", {}, nullptr, group};
    op.group_kind = group_kinds.count(group) ? group_kinds[group] : GroupKind::access;
    ops.push_back(std::move(op));
  }

  std::stable_sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) {
    if (phase(a.kind) != phase(b.kind)) {
      return phase(a.kind) < phase(b.kind);
    }
    if (a.anchor != b.anchor) {
      return a.anchor < b.anchor;
    }
    return a.group < b.group;
  });
  for (const auto& op : ops) {
    switch (op.kind) {
      case OpKind::create_user: ++result.counts.creates; break;
      case OpKind::adopt_user:
      case OpKind::reanchor_user:
      case OpKind::update_user: ++result.counts.updates; break;
      case OpKind::restore_user: ++result.counts.restores; break;
      case OpKind::disable_user: ++result.counts.disables; break;
      case OpKind::delete_user: ++result.counts.deletes; break;
      case OpKind::add_membership:
      case OpKind::remove_membership: ++result.counts.memberships; break;
      case OpKind::correct_directory: ++result.counts.corrections; break;
      case OpKind::create_group: break;
    }
  }
  result.ops = std::move(ops);

  const std::size_t linked_count = current.linked_total.value_or(current.linked.size());
  if (over(policy.disables, result.counts.disables, linked_count)) {
    result.held = true;
    result.hold_reasons.push_back(
        std::to_string(result.counts.disables) + " disables of " + std::to_string(linked_count) +
        " linked users exceed the threshold (" + std::to_string(policy.disables.max_count) +
        " or " + std::to_string(static_cast<int>(policy.disables.max_fraction * 100)) + "%)");
  }
  if (over(policy.deletes, result.counts.deletes, linked_count)) {
    result.held = true;
    result.hold_reasons.push_back(
        std::to_string(result.counts.deletes) + " deletes of " + std::to_string(linked_count) +
        " linked users exceed the threshold (" + std::to_string(policy.deletes.max_count) + " or " +
        std::to_string(static_cast<int>(policy.deletes.max_fraction * 100)) + "%)");
  }
  return result;
}

}  // namespace

Plan plan(const MappingResult& mapped, const Snapshot& snapshot, const TenantView& current,
          const MappingRules& rules, const Policy& policy, Timestamp now) {
  return make_plan(
      mapped.problems,
      [&](const auto& each) {
        for (const auto& desired : mapped.users) {
          each(desired);
        }
      },
      snapshot, current, rules, policy, now);
}

Plan plan(MappingResult&& mapped, const Snapshot& snapshot, const TenantView& current,
          const MappingRules& rules, const Policy& policy, Timestamp now) {
  return make_plan(
      mapped.problems,
      [&](const auto& each) {
        // pop_front frees each user (a deque node) once planned: the mapped users and the plan
        // made of them are never both whole in memory.
        while (!mapped.users.empty()) {
          each(mapped.users.front());
          mapped.users.pop_front();
        }
      },
      snapshot, current, rules, policy, now);
}

std::vector<AttributeChange> changes_of(const Op& op) {
  if (op.kind == OpKind::create_user && op.changes.empty() && op.desired) {
    return diff_users(nullptr, op.desired.get());
  }
  return op.changes;
}

void write_json(const Plan& plan, const std::function<void(std::string_view)>& sink) {
  core::detail::JsonWriter json;
  json.begin_object();
  json.key("directory").value(plan.directory);
  json.key("tenant").value(plan.tenant.str());
  json.key("kind").value(plan.kind == Snapshot::Kind::full ? "full" : "incremental");
  json.field("cursor", plan.cursor);
  json.key("complete").value(plan.completeness.complete);
  json.field("incompleteReason", plan.completeness.reason);
  json.key("held").value(plan.held);
  json.key("holdReasons").begin_array();
  for (const auto& reason : plan.hold_reasons) {
    json.value(reason);
  }
  json.end_array();
  json.key("counts").begin_object();
  const auto number = [&](std::string_view name, std::size_t value) {
    json.key(name).value(std::to_string(value));
  };
  number("read", plan.counts.read);
  number("creates", plan.counts.creates);
  number("updates", plan.counts.updates);
  number("restores", plan.counts.restores);
  number("disables", plan.counts.disables);
  number("deletes", plan.counts.deletes);
  number("memberships", plan.counts.memberships);
  if (plan.counts.corrections != 0) {
    // Only when there are any: plans without write-back keep the bytes (and ids) they had.
    number("corrections", plan.counts.corrections);
  }
  json.end_object();
  json.key("diagnostics").begin_array();
  for (const auto& d : plan.diagnostics) {
    json.begin_object().field("anchor", d.anchor).field("dn", d.dn).field("message", d.message);
    json.end_object();
  }
  json.end_array();
  json.key("operations").begin_array();
  for (const auto& op : plan.ops) {
    json.begin_object();
    json.key("op").value(to_string(op.kind));
    json.field("anchor", op.anchor);
    json.field("user", op.user ? op.user->str() : "");
    json.field("userName", op.user_name);
    json.field("group", op.group);
    json.field("previousAnchor", op.previous_anchor);
    if (op.kind == OpKind::create_group) {
      json.key("kind").value(to_string(op.group_kind));
    }
    if (const auto changes = changes_of(op); !changes.empty()) {
      json.key("changes").begin_array();
      for (const auto& change : changes) {
        json.begin_object().key("path").value(change.path);
        if (change.before) {
          json.key("before").value(*change.before);
        }
        if (change.after) {
          json.key("after").value(*change.after);
        }
        json.end_object();
      }
      json.end_array();
    }
    json.end_object();
    sink(json.take_pending());
  }
  json.end_array();
  sink(json.end_object().take_pending());
}

std::string to_json(const Plan& plan) {
  std::string out;
  write_json(plan, [&](std::string_view piece) { out += piece; });
  return out;
}

void write_table(const Plan& plan, std::ostream& out) {
  out << "directory " << plan.directory << " -> tenant " << plan.tenant.str() << '\n';
  out << "read " << plan.counts.read << " users ("
      << (plan.completeness.complete ? "complete" : "INCOMPLETE: " + plan.completeness.reason)
      << ")\n";
  out << "creates " << plan.counts.creates << ", updates " << plan.counts.updates << ", restores "
      << plan.counts.restores << ", disables " << plan.counts.disables << ", deletes "
      << plan.counts.deletes << ", membership changes " << plan.counts.memberships;
  if (plan.counts.corrections != 0) {
    out << ", directory corrections " << plan.counts.corrections;
  }
  out << '\n';
  if (plan.held) {
    out << "HELD until approved:\n";
    for (const auto& reason : plan.hold_reasons) {
      out << "  - " << reason << '\n';
    }
  }
  for (const auto& d : plan.diagnostics) {
    out << "note: " << (d.dn.empty() ? "" : d.dn + ": ") << d.message << '\n';
  }
  for (const auto& op : plan.ops) {
    out << std::string(to_string(op.kind)) << "  "
        << (op.user_name.empty() ? op.group : op.user_name);
    if (!op.group.empty() && !op.user_name.empty()) {
      out << "  " << op.group;
    }
    out << '\n';
    for (const auto& change : changes_of(op)) {
      out << "    " << change.path << ": " << change.before.value_or("-") << " -> "
          << change.after.value_or("-") << '\n';
    }
  }
}

std::string to_table(const Plan& plan) {
  std::ostringstream out;
  write_table(plan, out);
  return out.str();
}

}  // namespace idbridge::core::sync
