// The sync planner: from a mapped directory read, the tenant's current state and the safety
// policy, a deterministic, serialisable plan of creates, updates, disables, restores, deletes and
// membership changes. Pure: no I/O, no clock of its own, the same inputs give the same plan.
#pragma once

#include "idbridge/core/change.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/sync/mapping.hpp"
#include "idbridge/core/sync/state.hpp"

#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core::sync {

// A tenant user and its link to a directory object (by anchor).
struct LinkedUser {
  User user;
  std::string anchor;
  // Set when a sync disabled the user because its object left the directory; the user is
  // deleted once `retention` has passed, and restored if the anchor comes back first.
  std::optional<Timestamp> disabled_by_sync_at;
  std::vector<std::string> tenant_groups;  // the rule-managed groups it is in now, sorted
};

struct TenantView {
  TenantId tenant;
  // Users linked to this directory: all of them for a full read, the ones an incremental read
  // mentions otherwise.
  std::vector<LinkedUser> linked;
  std::vector<User> unlinked_with_names;     // tenant users not linked, for adoption by userName
  std::vector<std::string> existing_groups;  // displayNames of the tenant's groups
  // How many users are linked in all, for the thresholds' fraction (linked.size() when unset).
  std::optional<std::size_t> linked_total;
  // Linked users found already as the directory wants them while their link did not say so
  // (another digest or version: a SCIM change of an attribute the directory does not own, a
  // link from before digests, changed rules): recorded when the plan is applied, so that the next
  // full read leaves them alone unread. Each holds the digest and the version compared.
  std::vector<DirectoryLink> settled_links = {};
};

// A limit on destructive operations: the plan is held if it would exceed either.
struct Threshold {
  std::size_t max_count = 50;
  double max_fraction = 0.10;       // of the users linked to the directory...
  std::size_t fraction_from = 100;  // ...checked once that many are linked (as Okta does)
};

struct Policy {
  Threshold disables;
  Threshold deletes;
  std::chrono::hours retention{24 * 30};
};

enum class OpKind {
  create_group,  // a tenant group a group rule names does not exist yet
  create_user,   // a new directory user
  adopt_user,    // an unlinked tenant user with the same userName: link it, then update
  // The directory object of a linked user was deleted and re-created (new anchor, same
  // userName) within one complete read: the same tenant user follows the new anchor (re-enabled
  // if sync had disabled it) instead of being disabled while the new entry is refused.
  reanchor_user,
  update_user,   // attribute changes only
  restore_user,  // came back before retention ended: re-enable with the same id
  disable_user,  // gone from a complete read
  delete_user,   // disabled by sync longer than the retention
  add_membership,
  remove_membership,
  // A linked entry holds another value than the tenant for attributes SCIM owns
  // (MappingRules::corrected_in_directory): write the tenant's values back and record the
  // directory's as conflicts. `changes`: before = the directory's value, after = the tenant's.
  correct_directory,
};
std::string_view to_string(OpKind kind);

struct Op {
  OpKind kind = OpKind::update_user;
  std::string anchor;
  std::optional<UserId> user;  // the existing user, for everything but create
  std::string user_name;       // for humans reading the plan
  // adopt/update/restore/disable/delete: per attribute. Empty for create_user, whose changes are
  // every attribute of `desired` (a first sync of 100,000 users would hold each value twice):
  // read them with changes_of(op).
  std::vector<AttributeChange> changes;
  // create/adopt/update/restore/disable: the user to write. Shared and immutable: an Op stays
  // small to copy and sort, a plan's copies share their users.
  std::shared_ptr<const User> desired;
  std::string group;                         // membership ops, create_group
  std::string previous_anchor = {};          // reanchor_user: the anchor it leaves
  GroupKind group_kind = GroupKind::access;  // create_group
  // create/adopt/reanchor/update/restore: the entry's mapped_digest, stored with the link once
  // the user is written as planned. Not part of the plan's JSON (nor of its id).
  std::string link_digest = {};
};

struct PlanCounts {
  std::size_t read = 0;
  std::size_t creates = 0;
  std::size_t updates = 0;
  std::size_t restores = 0;
  std::size_t disables = 0;
  std::size_t deletes = 0;
  std::size_t memberships = 0;
  std::size_t corrections = 0;  // correct_directory: entries given back the tenant's values
};

struct Plan {
  std::string directory;
  TenantId tenant;
  Snapshot::Kind kind = Snapshot::Kind::full;
  std::string cursor;  // the read's cursor, stored once the plan is applied
  Completeness completeness;
  std::vector<Op> ops;  // in apply order: groups, creates, adoptions, updates, restores,
                        // memberships, disables, deletes; by anchor within a kind
  std::vector<Diagnostic> diagnostics;
  bool held = false;  // over a threshold: apply only after an admin approves
  std::vector<std::string> hold_reasons;
  PlanCounts counts;
  // TenantView::settled_links, recorded by apply with its last page. Not operations: not in the
  // JSON, not counted, an empty plan with some is still unchanged.
  std::vector<DirectoryLink> settled_links = {};
  // The rules the plan was made with: apply judges with them whether a user it wrote is settled
  // (DirectoryLink::settled_version). Not in the JSON.
  std::shared_ptr<const MappingRules> rules = {};
  // Snapshot::rule_groups: stored by apply with the cursor, in the same transaction and under the
  // same conditions. Not in the JSON.
  std::shared_ptr<const std::vector<RuleGroupMembers>> rule_groups = {};
};

// Errors are impossible by construction: every decision the rules cannot make is a diagnostic.
// An incomplete read yields no disable and no delete, and says so in diagnostics. A full read
// finds gone users by their absence; an incremental one only through its deleted and present
// anchors, and leaves every linked user it does not mention alone.
Plan plan(const MappingResult& mapped, const Snapshot& snapshot, const TenantView& current,
          const MappingRules& rules, const Policy& policy, Timestamp now);
// The same plan, releasing each mapped user once it is planned, so that a first sync of 100,000
// users never holds the mapped users and the plan's users both whole. `mapped.users` ends empty.
Plan plan(MappingResult&& mapped, const Snapshot& snapshot, const TenantView& current,
          const MappingRules& rules, const Policy& policy, Timestamp now);

// The operation's per-attribute changes (a create's are derived from its user).
std::vector<AttributeChange> changes_of(const Op& op);

// Serialised forms for `sync --dry-run`: JSON (stable field order, for --apply) and a table.
std::string to_json(const Plan& plan);
std::string to_table(const Plan& plan);
// The same text in pieces (to_json is their concatenation), or onto a stream: a first sync's
// plan is tens of MB, hashed and printed without building it whole.
void write_json(const Plan& plan, const std::function<void(std::string_view)>& sink);
void write_table(const Plan& plan, std::ostream& out);

}  // namespace idbridge::core::sync
