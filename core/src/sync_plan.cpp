// The pure sync planner (sync/plan.hpp).
#include "idbridge/core/rules.hpp"
#include "idbridge/core/sync/plan.hpp"

#include "canonical_text.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace idbridge::core::sync {
namespace {

int phase(OpKind kind) {
  switch (kind) {
    case OpKind::create_group: return 0;
    case OpKind::create_user: return 1;
    case OpKind::adopt_user:
    case OpKind::reanchor_user: return 2;
    case OpKind::update_user: return 3;
    case OpKind::restore_user: return 4;
    case OpKind::add_membership: return 5;
    case OpKind::remove_membership: return 6;
    case OpKind::disable_user: return 7;
    case OpKind::delete_user: return 8;
  }
  return 9;
}

bool maps(const MappingRules& rules, std::string_view target) {
  return std::any_of(rules.attributes.begin(), rules.attributes.end(),
                     [&](const AttributeMapping& m) { return m.target == target; });
}

// The tenant user as the directory wants it: only directory-owned attributes (the mapped ones,
// the role, the rule-managed profiles, and `active` when a disabled rule exists) are taken from
// the directory; everything else the tenant holds is kept.
User target_user(const User& current, const DesiredUser& desired, const MappingRules& rules) {
  User target = current;
  const User& d = desired.user;
  const auto take = [&](std::string_view path, auto member) {
    if (maps(rules, path)) {
      target.*member = d.*member;
    }
  };
  take("userName", &User::user_name);
  take("externalId", &User::external_id);
  take("displayName", &User::display_name);
  take("nickName", &User::nick_name);
  take("title", &User::title);
  take("userType", &User::user_type);
  take("preferredLanguage", &User::preferred_language);
  take("locale", &User::locale);
  take("timezone", &User::timezone);
  const auto take_name = [&](std::string_view path, std::string PersonName::*member) {
    if (maps(rules, path)) {
      target.name.*member = d.name.*member;
    }
  };
  take_name("name.givenName", &PersonName::given_name);
  take_name("name.familyName", &PersonName::family_name);
  take_name("name.middleName", &PersonName::middle_name);
  take_name("name.formatted", &PersonName::formatted);
  const auto take_enterprise = [&](std::string_view path, std::string EnterpriseInfo::*member) {
    if (maps(rules, path)) {
      target.enterprise.*member = d.enterprise.*member;
    }
  };
  take_enterprise("enterprise.employeeNumber", &EnterpriseInfo::employee_number);
  take_enterprise("enterprise.costCenter", &EnterpriseInfo::cost_center);
  take_enterprise("enterprise.organization", &EnterpriseInfo::organization);
  take_enterprise("enterprise.division", &EnterpriseInfo::division);
  take_enterprise("enterprise.department", &EnterpriseInfo::department);
  if (maps(rules, "emails.primary") || maps(rules, "emails.backup")) {
    target.emails = d.emails;
  }
  if (maps(rules, "phoneNumbers.work") || maps(rules, "phoneNumbers.mobile")) {
    target.phone_numbers = d.phone_numbers;
  }
  if (rules.disabled.kind != DisabledRule::Kind::none) {
    target.active = d.active;
  }
  if (desired.role) {
    target.role = *desired.role;
  }
  // Profiles named by profile rules are the directory's; others stay as the tenant set them.
  std::set<std::string> managed;
  for (const auto& rule : rules.profiles) {
    managed.insert(rule.profile);
  }
  std::set<std::string> profiles;
  for (const auto& profile : current.profiles) {
    if (!managed.contains(profile) && profile.rfind("default:", 0) != 0) {
      profiles.insert(profile);
    }
  }
  profiles.insert(desired.profiles.begin(), desired.profiles.end());
  profiles.insert(default_profile_name(target.role));
  target.profiles.assign(profiles.begin(), profiles.end());
  return target;
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
      Op op{OpKind::add_membership, anchor, user, user_name, {}, std::nullopt, group};
      ops.push_back(std::move(op));
    }
  }
  for (const auto& group : current) {
    if (!std::binary_search(wanted.begin(), wanted.end(), group)) {
      Op op{OpKind::remove_membership, anchor, user, user_name, {}, std::nullopt, group};
      ops.push_back(std::move(op));
    }
  }
}

}  // namespace

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
  }
  return "unknown";
}

Plan plan(const MappingResult& mapped, const Snapshot& snapshot, const TenantView& current,
          const MappingRules& rules, const Policy& policy, Timestamp now) {
  Plan result;
  result.directory = snapshot.directory;
  result.tenant = current.tenant;
  result.kind = snapshot.kind;
  result.cursor = snapshot.cursor;
  result.completeness = snapshot.completeness;
  result.diagnostics = mapped.problems;
  result.counts.read = snapshot.users.size();

  std::map<std::string, const LinkedUser*> linked;
  for (const auto& user : current.linked) {
    linked.emplace(user.anchor, &user);
  }
  std::map<std::string, const User*> unlinked;
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
  std::set<std::string> present;
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
  for (const auto& desired : mapped.users) {
    const auto found = linked.find(desired.anchor);
    if (found != linked.end()) {
      const LinkedUser& link = *found->second;
      User target = target_user(link.user, desired, rules);
      if (link.disabled_by_sync_at) {
        // The same anchor is back: the same user (id, role, memberships) returns.
        target.active = rules.disabled.kind == DisabledRule::Kind::none || desired.user.active;
      }
      auto changes = diff_users(&link.user, &target);
      if (link.disabled_by_sync_at || !changes.empty()) {
        const OpKind kind = link.disabled_by_sync_at ? OpKind::restore_user : OpKind::update_user;
        ops.push_back(
            {kind, desired.anchor, link.user.id, target.user_name, std::move(changes), target, ""});
      }
      add_memberships(ops, desired.anchor, link.user.id, target.user_name, link.tenant_groups,
                      desired.tenant_groups);
      continue;
    }
    if (const auto previous = gone_by_name.find(fold_case(desired.user.user_name));
        previous != gone_by_name.end() && !reanchored.contains(previous->second->anchor)) {
      const LinkedUser& link = *previous->second;
      User target = target_user(link.user, desired, rules);
      target.active = rules.disabled.kind == DisabledRule::Kind::none || desired.user.active;
      Op op{OpKind::reanchor_user,
            desired.anchor,
            link.user.id,
            target.user_name,
            diff_users(&link.user, &target),
            target,
            ""};
      op.previous_anchor = link.anchor;
      ops.push_back(std::move(op));
      reanchored.insert(link.anchor);
      add_memberships(ops, desired.anchor, link.user.id, target.user_name, link.tenant_groups,
                      desired.tenant_groups);
      continue;
    }
    const auto adoptable = unlinked.find(fold_case(desired.user.user_name));
    if (adoptable != unlinked.end()) {
      const User& existing = *adoptable->second;
      User target = target_user(existing, desired, rules);
      ops.push_back({OpKind::adopt_user, desired.anchor, existing.id, target.user_name,
                     diff_users(&existing, &target), target, ""});
      add_memberships(ops, desired.anchor, existing.id, target.user_name, {},
                      desired.tenant_groups);
      continue;
    }
    User fresh;
    fresh.role = rules.default_role;
    User target = target_user(fresh, desired, rules);
    if (rules.disabled.kind == DisabledRule::Kind::none) {
      target.active = true;
    }
    ops.push_back({OpKind::create_user, desired.anchor, std::nullopt, target.user_name,
                   diff_users(nullptr, &target), target, ""});
    add_memberships(ops, desired.anchor, std::nullopt, target.user_name, {}, desired.tenant_groups);
  }

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
      ops.push_back({OpKind::disable_user, user.anchor, user.user.id, user.user.user_name,
                     diff_users(&user.user, &target), target, ""});
    } else if (now - *user.disabled_by_sync_at >= policy.retention) {
      ops.push_back({OpKind::delete_user, user.anchor, user.user.id, user.user.user_name,
                     diff_users(&user.user, nullptr), std::nullopt, ""});
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
    Op op{OpKind::create_group, "", std::nullopt, "", {}, std::nullopt, group};
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

std::string to_json(const Plan& plan) {
  detail::JsonWriter json;
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
    if (!op.changes.empty()) {
      json.key("changes").begin_array();
      for (const auto& change : op.changes) {
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
  }
  json.end_array();
  return json.end_object().take();
}

std::string to_table(const Plan& plan) {
  std::ostringstream out;
  out << "directory " << plan.directory << " -> tenant " << plan.tenant.str() << '\n';
  out << "read " << plan.counts.read << " users ("
      << (plan.completeness.complete ? "complete" : "INCOMPLETE: " + plan.completeness.reason)
      << ")\n";
  out << "creates " << plan.counts.creates << ", updates " << plan.counts.updates << ", restores "
      << plan.counts.restores << ", disables " << plan.counts.disables << ", deletes "
      << plan.counts.deletes << ", membership changes " << plan.counts.memberships << '\n';
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
    for (const auto& change : op.changes) {
      out << "    " << change.path << ": " << change.before.value_or("-") << " -> "
          << change.after.value_or("-") << '\n';
    }
  }
  return out.str();
}

}  // namespace idbridge::core::sync
