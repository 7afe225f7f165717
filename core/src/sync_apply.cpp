// Loading the planner's view of a tenant, and applying a plan (sync/apply.hpp).
#include "idbridge/core/rules.hpp"
#include "idbridge/core/sync/apply.hpp"
#include "idbridge/core/writeback/outbox.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include "sync_plan_internal.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace idbridge::core::sync {
namespace {

constexpr std::int64_t listing_page = 1000;

// Lets a map keyed by std::string be searched with a std::string_view, without a copy per lookup.
struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

template <class T, class F>
void for_each_page(F&& fetch, const std::function<void(T&)>& each,
                   std::int64_t page_size = listing_page) {
  for (PageRequest page{0, page_size};; page.offset += page_size) {
    Page<T> items = fetch(page);
    for (auto& item : items.items) {
      each(item);
    }
    if (items.items.empty() || page.offset + page_size >= items.total) {
      return;
    }
  }
}

// The tenant groups that group rules manage, by displayName.
std::set<std::string> managed_group_names(const MappingRules& rules) {
  std::set<std::string> names;
  for (const auto& rule : rules.groups) {
    names.insert(rule.tenant_group);
  }
  return names;
}

using GroupsOfUser =
    std::unordered_map<std::string, std::vector<std::string>, TransparentHash, std::equal_to<>>;

// The managed groups each user is in, by user id: each managed group's members listed once.
// `managed` is sorted, so each user's list comes out sorted (as the view's lists are).
GroupsOfUser managed_groups_of_users(StoreReader& reader, const TenantId& tenant,
                                     const std::set<std::string>& managed) {
  GroupsOfUser groups_of_user;
  for (const auto& name : managed) {
    const auto group = reader.find_group_by_display_name(tenant, name);
    if (!group || group->system) {
      continue;
    }
    for_each_page<MemberRef>(
        [&](const PageRequest& page) { return reader.list_members(tenant, group->id, page); },
        [&](MemberRef& member) {
          if (member.type == MemberType::user) {
            groups_of_user[member.id].push_back(name);
          }
        });
  }
  return groups_of_user;
}

LinkedUser linked_user(User user, const DirectoryLink& link) {
  LinkedUser linked;
  linked.user = std::move(user);
  linked.anchor = link.anchor;
  linked.disabled_by_sync_at = link.disabled_by_sync_at;
  return linked;
}

// For a few users: the managed groups each one is in now, through its own memberships.
void fill_groups_by_user(StoreReader& reader, const TenantId& tenant,
                         const std::set<std::string>& managed, std::vector<LinkedUser>& users) {
  std::unordered_map<std::string, std::string> names;  // group id -> displayName
  for (auto& user : users) {
    for (const auto& group :
         reader.groups_containing(tenant, MemberRef{MemberType::user, user.user.id.str()})) {
      auto known = names.find(group.str());
      if (known == names.end()) {
        const auto found = reader.find_group(tenant, group);
        known = names.emplace(group.str(), found ? found->display_name : std::string()).first;
      }
      if (managed.contains(known->second)) {
        user.tenant_groups.push_back(known->second);
      }
    }
    std::sort(user.tenant_groups.begin(), user.tenant_groups.end());
  }
}

// For every user: the managed groups, by listing each managed group's members once.
void fill_groups_by_group(StoreReader& reader, const TenantId& tenant,
                          const std::set<std::string>& managed, std::vector<LinkedUser>& users) {
  auto groups_of_user = managed_groups_of_users(reader, tenant, managed);
  for (auto& user : users) {
    if (const auto it = groups_of_user.find(user.user.id.str()); it != groups_of_user.end()) {
      user.tenant_groups = std::move(it->second);
    }
  }
}

std::unordered_set<std::string> users_linked_elsewhere(
    StoreReader& reader, const TenantId& tenant,
    const std::vector<std::string>& other_directories) {
  std::unordered_set<std::string> ids;
  for (const auto& other : other_directories) {
    for (const auto& link : reader.list_links(other)) {
      if (link.tenant == tenant) {
        ids.insert(link.user.str());
      }
    }
  }
  return ids;
}

// The unlinked tenant users new entries may adopt by userName, each once: for every mapped user
// whose anchor is not `anchor_linked`, the tenant's user with its userName, unless that user
// follows another directory (`elsewhere`) or this one (`user_linked`).
std::vector<User> adoptable_by_name(StoreReader& reader, const MappingResult& mapped,
                                    const TenantId& tenant,
                                    const std::unordered_set<std::string>& elsewhere,
                                    const std::function<bool(const std::string&)>& anchor_linked,
                                    const std::function<bool(const User&)>& user_linked) {
  std::vector<User> adoptable;
  std::unordered_set<std::string> seen;
  for (const auto& desired : mapped.users) {
    if (anchor_linked(desired.anchor)) {
      continue;
    }
    auto user = reader.find_user_by_user_name(desired.user.user_name);
    if (user && user->tenant == tenant && !elsewhere.contains(user->id.str()) &&
        !user_linked(*user) && seen.insert(user->id.str()).second) {
      adoptable.push_back(*std::move(user));
    }
  }
  return adoptable;
}

}  // namespace

TenantView load_tenant_view(StoreReader& reader, const Snapshot& snapshot,
                            const MappingResult& mapped, const MappingRules& rules,
                            const TenantId& tenant,
                            const std::vector<std::string>& other_directories) {
  TenantView view;
  view.tenant = tenant;
  const auto managed = managed_group_names(rules);
  const auto elsewhere = users_linked_elsewhere(reader, tenant, other_directories);

  std::vector<DirectoryLink> links;
  for (auto& link : reader.list_links(snapshot.directory)) {
    if (link.tenant == tenant) {
      links.push_back(std::move(link));
    }
  }
  view.linked_total = links.size();

  if (snapshot.kind == Snapshot::Kind::full) {
    std::unordered_map<std::string, const DirectoryLink*> link_of_user;
    for (const auto& link : links) {
      link_of_user.emplace(link.user.str(), &link);
    }
    reader.for_each_user(tenant, [&](User& user) {
      if (const auto it = link_of_user.find(user.id.str()); it != link_of_user.end()) {
        view.linked.push_back(linked_user(std::move(user), *it->second));
      } else if (!elsewhere.contains(user.id.str())) {
        view.unlinked_with_names.push_back(std::move(user));
      }
    });
    fill_groups_by_group(reader, tenant, managed, view.linked);
  } else {
    // The anchors this read is about: changed entries, deletions, and (with a present set)
    // links the directory no longer has.
    std::set<std::string> mentioned;
    for (const auto& entry : snapshot.users) {
      mentioned.insert(entry.anchor);
    }
    mentioned.insert(snapshot.deleted_anchors.begin(), snapshot.deleted_anchors.end());
    if (snapshot.present_anchors) {
      for (const auto& link : links) {
        if (!std::binary_search(snapshot.present_anchors->begin(), snapshot.present_anchors->end(),
                                link.anchor)) {
          mentioned.insert(link.anchor);
        }
      }
    }
    std::set<std::string> linked_anchors;
    for (const auto& link : links) {
      if (!mentioned.contains(link.anchor)) {
        continue;
      }
      if (auto user = reader.find_user(tenant, link.user)) {
        linked_anchors.insert(link.anchor);
        view.linked.push_back(linked_user(std::move(*user), link));
      }
    }
    view.unlinked_with_names = adoptable_by_name(
        reader, mapped, tenant, elsewhere,
        [&](const std::string& anchor) { return linked_anchors.contains(anchor); },
        [&](const User& user) {
          return reader.find_link_of_user(snapshot.directory, tenant, user.id).has_value();
        });
    fill_groups_by_user(reader, tenant, managed, view.linked);
  }

  for_each_page<Group>(
      [&](const PageRequest& page) { return reader.list_groups(tenant, page); },
      [&](Group& group) { view.existing_groups.push_back(std::move(group.display_name)); });
  std::sort(view.existing_groups.begin(), view.existing_groups.end());
  return view;
}

namespace {

// Whether to find the users a full read did not leave out one by one (two indexed reads and a
// decode each) rather than scan every user's row key: a scan costs a little per user and
// decodes only the users it keeps, so lookups win while they are few. A quarter of the links is
// a judgement, not a measured break-even: at 100,000 users an unchanged re-sync looks up about
// 1,000 (the entries mapped before the settled users were loaded) and a first sync, with no
// links, always scans.
bool few_left_to_judge(const SettledUsers& settled, const MappingResult& mapped) {
  const std::size_t links = settled.links().size();
  const std::size_t to_judge =
      links - std::min(links, mapped.settled_anchors.size()) + mapped.users.size();
  return to_judge <= links / 4;
}

}  // namespace

TenantView load_tenant_view_dropping_unchanged(StoreReader& reader, const Snapshot& snapshot,
                                               MappingResult& mapped, const MappingRules& rules,
                                               const TenantId& tenant,
                                               const std::vector<std::string>& other_directories,
                                               const SettledUsers* settled_users) {
  if (snapshot.kind != Snapshot::Kind::full) {
    return load_tenant_view(reader, snapshot, mapped, rules, tenant, other_directories);
  }
  TenantView view;
  view.tenant = tenant;
  const auto managed = managed_group_names(rules);
  const auto elsewhere = users_linked_elsewhere(reader, tenant, other_directories);
  // The managed groups each user is in, known before the users are read so that each one can
  // be judged as it arrives: each managed group's members listed once (sorted by name, as the
  // view's lists are).
  auto groups_of_user = managed_groups_of_users(reader, tenant, managed);

  const detail::Ownership owns(rules, false);
  std::vector<bool> unchanged(mapped.users.size(), false);
  const auto desired_of = [&](const std::string& anchor) -> std::ptrdiff_t {
    const auto found =
        std::lower_bound(mapped.users.begin(), mapped.users.end(), anchor,
                         [](const DesiredUser& d, const std::string& a) { return d.anchor < a; });
    return found != mapped.users.end() && found->anchor == anchor ? found - mapped.users.begin()
                                                                  : -1;
  };
  const auto left_out = [&](const std::string& anchor) {
    return std::binary_search(mapped.settled_anchors.begin(), mapped.settled_anchors.end(),
                              anchor);  // judged settled as it was mapped (SettledUsers)
  };
  static const std::vector<std::string> no_groups;
  const auto groups_of = [&](std::string_view user) -> const std::vector<std::string>& {
    const auto found = groups_of_user.find(user);
    return found != groups_of_user.end() ? found->second : no_groups;
  };
  // Whether a linked user's row can be judged unchanged without decoding it: its link records the
  // digest of this very mapping (same entry, same rules) and the version it was settled at is
  // still the user's, and its rule-managed groups (not in the user's version) are as wanted.
  const auto settled = [&](const DirectoryLink& link, std::ptrdiff_t desired,
                           ResourceVersion version, std::string_view user) {
    if (desired < 0 || link.disabled_by_sync_at || link.mapped_digest.empty()) {
      return false;
    }
    const DesiredUser& wanted = mapped.users[static_cast<std::size_t>(desired)];
    return link.mapped_digest == wanted.digest && link.settled_version == version &&
           groups_of(user) == wanted.tenant_groups;
  };
  // A linked user read in full: kept in the view unless the plan would leave it alone.
  const auto add_linked = [&](User&& user, const DirectoryLink& link) {
    LinkedUser linked = linked_user(std::move(user), link);
    linked.tenant_groups = groups_of(linked.user.id.str());
    const std::ptrdiff_t index = desired_of(linked.anchor);
    if (index >= 0) {
      const DesiredUser& desired = mapped.users[static_cast<std::size_t>(index)];
      // Its attributes as the directory wants (the groups are compared on every run): the
      // link is told so when the plan is applied, and the next run need not read the user.
      if (!linked.disabled_by_sync_at &&
          (link.mapped_digest != desired.digest || link.settled_version != linked.user.version) &&
          detail::target_user(linked.user, desired, owns) == linked.user &&
          detail::directory_corrections(linked, desired, owns).empty()) {
        DirectoryLink now_settled = link;
        now_settled.mapped_digest = desired.digest;
        now_settled.settled_version = linked.user.version;
        view.settled_links.push_back(std::move(now_settled));
      }
      if (detail::leaves_unchanged(linked, desired, owns)) {
        unchanged[static_cast<std::size_t>(index)] = true;
        return;
      }
    }
    view.linked.push_back(std::move(linked));
  };

  if (settled_users != nullptr && few_left_to_judge(*settled_users, mapped)) {
    // Most users were left out as they were mapped: find the links they were not judged by
    // (entries not left out, and links the read did not see at all), and the unlinked users a
    // new entry's userName may adopt, one indexed read each.
    view.linked_total = settled_users->links().size();
    std::unordered_set<std::string_view> linked_users;
    std::unordered_set<std::string> linked_anchors;
    linked_users.reserve(settled_users->links().size());
    for (const auto& state : settled_users->links()) {
      linked_users.insert(state.user.str());
      if (left_out(state.anchor)) {
        continue;
      }
      auto link = reader.find_link(snapshot.directory, state.anchor);
      if (!link || link->tenant != tenant) {
        continue;  // its user was deleted since: the entry is new again
      }
      auto user = reader.find_user(tenant, link->user);
      if (!user) {
        continue;
      }
      linked_anchors.insert(link->anchor);
      const std::ptrdiff_t desired = desired_of(link->anchor);
      if (settled(*link, desired, user->version, user->id.str())) {
        unchanged[static_cast<std::size_t>(desired)] = true;
        continue;
      }
      add_linked(*std::move(user), *link);
    }
    view.unlinked_with_names = adoptable_by_name(
        reader, mapped, tenant, elsewhere,
        [&](const std::string& anchor) { return linked_anchors.contains(anchor); },
        [&](const User& user) { return linked_users.contains(user.id.str()); });
  } else {
    // Filtered in place: a second vector of 100,000 links was a measurable share of the run.
    std::vector<DirectoryLink> links = reader.list_links(snapshot.directory);
    std::erase_if(links, [&](const DirectoryLink& link) { return link.tenant != tenant; });
    view.linked_total = links.size();
    std::unordered_map<std::string_view, const DirectoryLink*> link_of_user;
    link_of_user.reserve(links.size());
    for (const auto& link : links) {
      link_of_user.emplace(link.user.str(), &link);
    }
    std::optional<std::unordered_set<std::string>> wanted_names;  // folded, built on first need
    const auto name_wanted = [&](std::string_view user_name) {
      // Only an entry's userName can adopt an unlinked user: the others are not kept.
      if (!wanted_names) {
        wanted_names.emplace();
        wanted_names->reserve(mapped.users.size());
        for (const auto& desired : mapped.users) {
          wanted_names->insert(fold_case(desired.user.user_name));
        }
      }
      return wanted_names->contains(fold_case(user_name));
    };
    reader.for_each_user_where(
        tenant,
        [&](const UserRowKey& row) {
          if (const auto link = link_of_user.find(row.id); link != link_of_user.end()) {
            if (left_out(link->second->anchor)) {
              return false;
            }
            const std::ptrdiff_t desired = desired_of(link->second->anchor);
            if (settled(*link->second, desired, row.version, row.id)) {
              unchanged[static_cast<std::size_t>(desired)] = true;
              return false;
            }
            return true;
          }
          return !elsewhere.contains(std::string(row.id)) && name_wanted(row.user_name);
        },
        [&](User& user) {
          const auto link = link_of_user.find(user.id.str());
          if (link == link_of_user.end()) {
            view.unlinked_with_names.push_back(std::move(user));
            return;
          }
          add_linked(std::move(user), *link->second);
        });
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < mapped.users.size(); ++i) {
    if (!unchanged[i]) {
      if (kept != i) {
        mapped.users[kept] = std::move(mapped.users[i]);
      }
      ++kept;
    }
  }
  mapped.users.erase(mapped.users.begin() + static_cast<std::ptrdiff_t>(kept), mapped.users.end());

  for_each_page<Group>(
      [&](const PageRequest& page) { return reader.list_groups(tenant, page); },
      [&](Group& group) { view.existing_groups.push_back(std::move(group.display_name)); });
  std::sort(view.existing_groups.begin(), view.existing_groups.end());
  return view;
}

SettledUsers SettledUsers::load(StoreReader& reader, const std::string& directory,
                                const MappingRules& rules, const TenantId& tenant) {
  SettledUsers out;
  out.links_ = reader.link_states(directory, tenant);
  auto groups_of_user = managed_groups_of_users(reader, tenant, managed_group_names(rules));
  out.by_anchor_.reserve(out.links_.size());
  for (const auto& link : out.links_) {
    if (!link.settled) {
      continue;
    }
    Settled settled{&link.mapped_digest, {}};
    if (auto groups = groups_of_user.find(link.user.str()); groups != groups_of_user.end()) {
      settled.tenant_groups = std::move(groups->second);
    }
    out.by_anchor_.emplace(link.anchor, std::move(settled));
  }
  return out;
}

bool SettledUsers::settled(const DesiredUser& desired) const {
  const auto found = by_anchor_.find(desired.anchor);
  return found != by_anchor_.end() && !desired.digest.empty() &&
         *found->second.digest == desired.digest &&
         found->second.tenant_groups == desired.tenant_groups;
}

Principal sync_principal(const std::string& directory, std::int64_t run_id,
                         const TenantId& tenant) {
  Principal who;
  who.actor = Actor{ActorKind::sync_run, directory + "#" + std::to_string(run_id)};
  who.origin = Origin{OriginKind::directory_sync, directory};
  who.ceiling = Role::account_owner;
  who.tenant_scope = tenant;
  return who;
}

namespace {

// A Store whose transactions are nested in one outer transaction: IdentityService runs each
// operation as usual, and its commit only joins the outer transaction.
class NestedStore final : public Store {
 public:
  explicit NestedStore(StoreWriter& outer) : outer_(outer) {}
  std::unique_ptr<StoreReader> read() override { return outer_.nested(); }
  std::unique_ptr<StoreWriter> write() override { return outer_.nested(); }
  void check() override {}
  int schema_version() override { return 0; }  // not asked by IdentityService

 private:
  StoreWriter& outer_;
};

// The user an operation is about: named by the plan, or created earlier by this plan and found
// through its link.
std::optional<UserId> user_of(StoreReader& tx, const Plan& plan, const Op& op) {
  if (op.user) {
    return op.user;
  }
  if (const auto link = tx.find_link(plan.directory, op.anchor)) {
    return link->user;
  }
  return std::nullopt;
}

Error not_applicable(std::string detail) {
  return make_error(ErrorCode::not_found, std::move(detail));
}

// Applies one operation inside `tx` (a nested transaction of the page). Returns the refusal, if
// any; the caller then drops `tx`, undoing whatever the operation did.
// A user whose SCIM changes are still queued for this directory is not updated from it yet: the
// directory does not hold those changes, and applying its state would undo them (a lost update).
// Refused like a concurrent change, the operation keeps the cursor where it is, so the next run
// reads the entry again, after the write-back landed or its conflict was recorded.
std::optional<Error> write_back_pending(StoreWriter& tx, const Plan& plan, const UserId& user) {
  for (const auto& item : tx.outbox_items_of_user(plan.directory, plan.tenant, user)) {
    if (!item.parked) {
      return make_error(ErrorCode::version_mismatch,
                        "changes made to this user through SCIM are still being written back to "
                        "the directory; the next run applies the directory's state");
    }
  }
  return std::nullopt;
}

// The owner (SCIM) wins: the tenant's values are queued for the entry, asserting the values
// the read found there, and each value the directory loses is kept as a conflict record.
std::optional<Error> correct_directory(const Plan& plan, const Op& op, StoreWriter& tx,
                                       const Principal& who, Timestamp now) {
  if (auto e = write_back_pending(tx, plan, *op.user)) {
    return e;  // the queued write carries (or resolves) the tenant's value already
  }
  const auto user = tx.find_user(plan.tenant, *op.user);
  if (!user) {
    return not_applicable("the user was deleted since the plan was made");
  }
  for (const auto& change : op.changes) {
    if (writeback::target_value(*user, change.path) != change.after.value_or("")) {
      return make_error(ErrorCode::version_mismatch,
                        "'" + change.path +
                            "' changed in the tenant since the plan was made; the "
                            "next run compares it again");
    }
  }
  writeback::OutboxItem item;
  item.directory = plan.directory;
  item.tenant = plan.tenant;
  item.user = *op.user;
  item.anchor = op.anchor;
  item.kind = writeback::WriteKind::modify_user;
  item.changes = op.changes;
  item.actor = who.actor;
  item.enqueued = now;
  tx.enqueue_write(item);
  for (const auto& change : op.changes) {
    tx.insert_conflict({.directory = plan.directory,
                        .tenant = plan.tenant,
                        .user = *op.user,
                        .target = change.path,
                        .owner = writeback::Authority::scim,
                        .kept = change.after.value_or(""),
                        .lost = change.before.value_or(""),
                        .lost_by = "directory",
                        .detected = now});
  }
  return std::nullopt;
}

// What the operations of one page share, read once per page.
struct PageState {
  // Entries whose tenant user SCIM deleted, with the delete not yet delivered: a read still
  // finds them, unlinked, and must not make them new users (the account would come back).
  std::optional<std::vector<std::string>> anchors_being_deleted;
};

bool being_deleted(StoreWriter& tx, const Plan& plan, PageState& page, const std::string& anchor) {
  if (!page.anchors_being_deleted) {
    page.anchors_being_deleted = tx.anchors_being_deleted(plan.directory);
  }
  return std::binary_search(page.anchors_being_deleted->begin(), page.anchors_being_deleted->end(),
                            anchor);
}

// Refused like a concurrent change: the cursor stays, and the next read no longer finds the
// entry once the delete is delivered.
Error being_deleted_error() {
  return make_error(ErrorCode::version_mismatch,
                    "this entry's user was deleted through SCIM and the entry is being "
                    "deleted from the directory; it is not created again");
}

// Whether the user stored after an operation is as the entry's mapping wants it, by the
// planner's own test (detail::target_user), so that its version can stand for "settled" in the
// link. IdentityService may have normalised what it was given (a derived displayName), which the
// planner does not count as a difference when the directory does not own that attribute. The
// mapping is read back from the planned user: its owned attributes, role and managed profiles.
bool settled_as_planned(const User& stored, const User& planned, const detail::Ownership& owns) {
  DesiredUser mapped;
  mapped.user = planned;
  mapped.role = planned.role;
  for (const auto& profile : planned.profiles) {
    if (owns.managed_profiles.contains(profile)) {
      mapped.profiles.push_back(profile);
    }
  }
  return detail::target_user(stored, mapped, owns) == stored;
}

// The link an operation leaves for `stored`: with the entry's digest and the user's version
// ("settled") when the user is stored as planned and not disabled by sync.
DirectoryLink link_of(const Plan& plan, const Op& op, const User& stored,
                      std::optional<Timestamp> disabled_at, const detail::Ownership* owns) {
  DirectoryLink written{plan.directory, op.anchor, plan.tenant, stored.id, disabled_at};
  if (!disabled_at && !op.link_digest.empty() && op.desired && owns != nullptr &&
      settled_as_planned(stored, *op.desired, *owns)) {
    written.mapped_digest = op.link_digest;
    written.settled_version = stored.version;
  }
  return written;
}

std::optional<Error> apply_one(const Plan& plan, const Op& op, StoreWriter& tx,
                               const IdentityService& service, const Principal& who, Timestamp now,
                               PageState& page, const detail::Ownership* owns) {
  NestedStore scoped(tx);
  IdentityService svc = service.with_store(scoped);
  const TenantId& tenant = plan.tenant;
  const auto link = [&](const User& stored, std::optional<Timestamp> disabled_at) {
    tx.put_link(link_of(plan, op, stored, disabled_at, owns));
  };
  // The plan's user carries the version it was planned from: a user changed since (by SCIM or
  // an admin) is refused with version_mismatch instead of overwritten.
  const auto replace = [&]() -> Result<User> {
    return svc.replace_user(who, tenant, *op.user, UserWrite{*op.desired, std::nullopt},
                            op.desired->version);
  };
  switch (op.kind) {
    case OpKind::create_group: {
      if (tx.find_group_by_display_name(tenant, op.group)) {
        return std::nullopt;  // created since the plan was made, by this plan or someone else
      }
      auto created = svc.create_group(who, tenant, GroupWrite{op.group, {}, op.group_kind, {}});
      return created ? std::nullopt : std::optional<Error>(created.error());
    }
    case OpKind::create_user: {
      if (tx.find_link(plan.directory, op.anchor)) {
        return std::nullopt;  // already applied
      }
      if (being_deleted(tx, plan, page, op.anchor)) {
        return being_deleted_error();
      }
      auto created = svc.create_user(who, tenant, UserWrite{*op.desired, std::nullopt});
      if (!created) {
        return created.error();
      }
      link(*created, std::nullopt);
      return std::nullopt;
    }
    case OpKind::reanchor_user: {
      tx.delete_link(plan.directory, op.previous_anchor);
      auto replaced = replace();
      if (!replaced) {
        return replaced.error();
      }
      link(*replaced, std::nullopt);
      return std::nullopt;
    }
    case OpKind::adopt_user:
    case OpKind::update_user:
    case OpKind::restore_user: {
      if (auto e = write_back_pending(tx, plan, *op.user)) {
        return e;
      }
      auto replaced = replace();
      if (!replaced) {
        return replaced.error();
      }
      link(*replaced, std::nullopt);
      return std::nullopt;
    }
    case OpKind::disable_user: {
      if (auto e = write_back_pending(tx, plan, *op.user)) {
        return e;
      }
      auto replaced = replace();
      if (!replaced) {
        return replaced.error();
      }
      link(*replaced, now);
      return std::nullopt;
    }
    case OpKind::delete_user: {
      auto deleted = svc.delete_user(who, tenant, *op.user, std::nullopt);
      if (!deleted && deleted.error().code != ErrorCode::not_found) {
        return deleted.error();
      }
      tx.delete_link(plan.directory, op.anchor);
      return std::nullopt;
    }
    case OpKind::add_membership:
    case OpKind::remove_membership: {
      const auto user = user_of(tx, plan, op);
      if (!user) {
        return not_applicable("no user is linked to " + op.anchor + " (its creation failed)");
      }
      const auto group = tx.find_group_by_display_name(tenant, op.group);
      if (!group) {
        return not_applicable("the tenant has no group '" + op.group + "'");
      }
      MembershipChange change;
      (op.kind == OpKind::add_membership ? change.add : change.remove)
          .push_back(MemberRef{MemberType::user, user->str()});
      auto changed = svc.change_members(who, tenant, group->id, change, std::nullopt);
      return changed ? std::nullopt : std::optional<Error>(changed.error());
    }
    case OpKind::correct_directory: return correct_directory(plan, op, tx, who, now);
  }
  return not_applicable("unknown operation");
}

// Applies plan.ops[first, end), all create_user, inside `page` as one batch
// (IdentityService::create_users): one nested transaction and one All Users version bump for
// the run instead of one of each per user, each user still with its own change record and its
// link written with it. Refused creates are reported in `failures` in plan order, and undone
// alone. Returns false, having written nothing, when the batch could not be applied as one (a
// link refused by the store), for the caller to apply the operations one by one.
bool apply_creates(const Plan& plan, std::size_t first, std::size_t end, StoreWriter& page,
                   const IdentityService& service, const Principal& who, PageState& state,
                   const detail::Ownership* owns, std::vector<OpFailure>& failures) {
  std::vector<std::size_t> indexes;
  std::vector<UserWrite> writes;
  std::vector<OpFailure> refused;
  for (std::size_t i = first; i < end; ++i) {
    const Op& op = plan.ops[i];
    if (page.find_link(plan.directory, op.anchor)) {
      continue;  // already applied
    }
    if (being_deleted(page, plan, state, op.anchor)) {
      refused.push_back(
          OpFailure{i, op.kind, op.anchor, op.user_name, op.group, being_deleted_error()});
      continue;
    }
    indexes.push_back(i);
    writes.push_back(UserWrite{*op.desired, std::nullopt});
  }
  if (indexes.empty()) {
    failures.insert(failures.end(), refused.begin(), refused.end());
    return true;
  }
  NestedStore scoped(page);
  IdentityService svc = service.with_store(scoped);
  std::vector<Result<User>> results;
  try {
    results = svc.create_users(
        who, plan.tenant, std::move(writes),
        [&](std::size_t k, const User& created, StoreWriter& tx) {
          tx.put_link(link_of(plan, plan.ops[indexes[k]], created, std::nullopt, owns));
        });
  } catch (const StoreConstraintViolation&) {
    return false;  // the batch's transaction is rolled back whole
  }
  for (std::size_t k = 0; k < results.size(); ++k) {
    if (!results[k]) {
      const Op& op = plan.ops[indexes[k]];
      refused.push_back(
          OpFailure{indexes[k], op.kind, op.anchor, op.user_name, op.group, results[k].error()});
    }
  }
  std::sort(refused.begin(), refused.end(),
            [](const OpFailure& a, const OpFailure& b) { return a.index < b.index; });
  failures.insert(failures.end(), refused.begin(), refused.end());
  return true;
}

// Which batch an operation can be applied in with its neighbours of the same kind.
enum class Batch { none, creates, memberships };

Batch batch_of(OpKind kind) {
  switch (kind) {
    case OpKind::create_user: return Batch::creates;
    case OpKind::add_membership:
    case OpKind::remove_membership: return Batch::memberships;
    default: return Batch::none;
  }
}

// Applies plan.ops[first, end), all membership operations, inside `page` with one
// IdentityService::change_members call per group and direction: one group version and one
// change record (listing every member added or removed) per group and page rather than per
// member. An operation whose user or group is missing fails alone, as apply_one would fail it;
// when a group's call is refused, its operations are applied one by one through `single`
// instead, so each refusal stays with its own operation. Failures are returned in plan order.
std::vector<OpFailure> apply_memberships(
    const Plan& plan, std::size_t first, std::size_t end, StoreWriter& page,
    const IdentityService& service, const Principal& who,
    const std::function<std::optional<OpFailure>(std::size_t)>& single) {
  std::vector<OpFailure> failures;
  const auto fail = [&](std::size_t index, Error error) {
    const Op& op = plan.ops[index];
    failures.push_back(
        OpFailure{index, op.kind, op.anchor, op.user_name, op.group, std::move(error)});
  };
  std::map<std::pair<std::string, OpKind>, std::vector<std::pair<std::size_t, UserId>>> by_group;
  for (std::size_t i = first; i < end; ++i) {
    const Op& op = plan.ops[i];
    if (auto user = user_of(page, plan, op)) {
      by_group[{op.group, op.kind}].emplace_back(i, std::move(*user));
    } else {
      fail(i, not_applicable("no user is linked to " + op.anchor + " (its creation failed)"));
    }
  }
  NestedStore scoped(page);
  IdentityService svc = service.with_store(scoped);
  for (const auto& [key, members] : by_group) {
    const auto& [name, kind] = key;
    const auto group = page.find_group_by_display_name(plan.tenant, name);
    if (!group) {
      for (const auto& member : members) {
        fail(member.first, not_applicable("the tenant has no group '" + name + "'"));
      }
      continue;
    }
    MembershipChange change;
    auto& refs = kind == OpKind::add_membership ? change.add : change.remove;
    for (const auto& member : members) {
      refs.push_back(MemberRef{MemberType::user, member.second.str()});
    }
    bool applied = false;
    try {
      applied = svc.change_members(who, plan.tenant, group->id, change, std::nullopt).has_value();
    } catch (const StoreConstraintViolation&) {
      applied = false;  // its nested transaction is rolled back; one by one below
    }
    if (!applied) {
      for (const auto& member : members) {
        if (auto failure = single(member.first)) {
          failures.push_back(std::move(*failure));
        }
      }
    }
  }
  std::sort(failures.begin(), failures.end(),
            [](const OpFailure& a, const OpFailure& b) { return a.index < b.index; });
  return failures;
}

// Makes the directory's stored rule groups `groups`: each group whose digest differs from the
// stored one is written, each stored group not in `groups` deleted. An unchanged group, however
// large, costs nothing.
void store_rule_groups(StoreWriter& tx, const std::string& directory,
                       const std::vector<RuleGroupMembers>& groups) {
  std::unordered_map<std::string_view, std::uint64_t> stored;
  const auto digests = tx.rule_group_digests(directory);
  for (const auto& group : digests) {
    stored.emplace(group.group, group.digest);
  }
  for (const auto& group : groups) {
    const auto found = stored.find(group.group);
    if (found == stored.end() || found->second != group.digest) {
      tx.put_rule_group(directory, group);
    }
    if (found != stored.end()) {
      stored.erase(found);
    }
  }
  for (const auto& [group, digest] : stored) {
    tx.delete_rule_group(directory, group);
  }
}

}  // namespace

ApplyResult apply(const Plan& plan, IdentityService& service, const Principal& who, Timestamp now,
                  const ApplyOptions& options) {
  ApplyResult result;
  result.applied = options.already_applied;
  const std::size_t page_size = std::max<std::size_t>(1, options.page_size);
  std::size_t next = 0;
  std::int64_t failed_before = 0;
  std::optional<detail::Ownership> owns;  // of existing users, as the plan's links are judged
  if (plan.rules) {
    owns.emplace(*plan.rules, false);
  }
  if (options.run_id) {
    if (const auto run = service.store().read()->find_sync_run(*options.run_id)) {
      failed_before = run->failed;
    }
  }
  // At least one transaction, even for an empty plan: it stores the cursor.
  do {
    const std::size_t end = std::min(plan.ops.size(), next + page_size);
    auto page = service.store().write();
    PageState state;
    // One operation in its own nested transaction: undone alone when refused.
    const auto single = [&](std::size_t index) -> std::optional<OpFailure> {
      const Op& op = plan.ops[index];
      auto tx = page->nested();
      std::optional<Error> refused;
      try {
        refused = apply_one(plan, op, *tx, service, who, now, state, owns ? &*owns : nullptr);
      } catch (const StoreConstraintViolation& violation) {
        // The link itself was refused (the user is linked to another anchor of the directory):
        // the operation is undone whole, like any other refusal.
        refused = make_error(violation.rule(),
                             "the user is already linked to another object of the directory");
      }
      if (refused) {
        return OpFailure{index, op.kind, op.anchor, op.user_name, op.group, std::move(*refused)};
      }
      tx->commit();
      return std::nullopt;
    };
    // Runs of creates and of memberships go as batches; a batch that cannot be applied as one
    // leaves its operations to `single`.
    std::size_t single_until = 0;  // the operations before this one go one by one
    for (; next < end; ++next) {
      const Op& op = plan.ops[next];
      const Batch batch = options.one_by_one ? Batch::none : batch_of(op.kind);
      if (batch != Batch::none && next >= single_until) {
        std::size_t run_end = next + 1;
        while (run_end < end && batch_of(plan.ops[run_end].kind) == batch) {
          ++run_end;
        }
        if (batch == Batch::memberships) {
          auto failures = apply_memberships(plan, next, run_end, *page, service, who, single);
          std::move(failures.begin(), failures.end(), std::back_inserter(result.failures));
          next = run_end - 1;
          continue;
        }
        if (apply_creates(plan, next, run_end, *page, service, who, state, owns ? &*owns : nullptr,
                          result.failures)) {
          next = run_end - 1;
          continue;
        }
        single_until = run_end;
      }
      if (auto failure = single(next)) {
        result.failures.push_back(std::move(*failure));
      }
    }
    const bool last = next == plan.ops.size();
    if (last) {
      for (const auto& settled : plan.settled_links) {
        page->set_link_settled(settled);
      }
    }
    if (last && plan.completeness.complete && result.failures.empty() && !plan.cursor.empty()) {
      page->set_sync_cursor(plan.directory, plan.cursor);
      if (plan.rule_groups) {
        store_rule_groups(*page, plan.directory, *plan.rule_groups);
      }
      result.cursor_stored = true;
    }
    if (options.run_id) {
      if (auto run = page->find_sync_run(*options.run_id)) {
        run->applied = static_cast<std::int64_t>(options.already_applied + next);
        run->failed = failed_before + static_cast<std::int64_t>(result.failures.size());
        if (run->error.empty() && !result.failures.empty()) {
          const auto& first = result.failures.front();
          run->error = std::string(to_string(first.kind)) + " " +
                       (first.user_name.empty() ? first.group : first.user_name) + ": " +
                       first.error.detail;
        }
        page->update_sync_run(*run);
      }
    }
    page->commit();
    result.applied = options.already_applied + next;
    if (options.after_page) {
      options.after_page(result.applied);
    }
    if (next < plan.ops.size() && options.stop_requested && options.stop_requested()) {
      result.stopped = true;
      break;
    }
  } while (next < plan.ops.size());
  return result;
}

}  // namespace idbridge::core::sync
