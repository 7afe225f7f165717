// The store side of directory sync: the tenant's current state as the planner needs it (read
// through the links of sync/state.hpp), and the applier that carries a plan out through
// IdentityService, so every tenant rule holds for directory users exactly as for SCIM ones.
#pragma once

#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/principal.hpp"
#include "idbridge/core/store.hpp"
#include "idbridge/core/sync/plan.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace idbridge::core::sync {

// What the planner must know of the tenant to plan `snapshot`. For a full read: every user of
// the tenant (linked to `directory`, or unlinked and so adoptable by userName) and the
// rule-managed group memberships. For an incremental read only the users it mentions (changed,
// deleted, or missing from a present set), found through the links, so that an incremental run
// costs what changed and not the size of the tenant. Users linked to one of
// `other_directories` are never offered for adoption: one user follows one directory.
TenantView load_tenant_view(StoreReader& reader, const Snapshot& snapshot,
                            const MappingResult& mapped, const MappingRules& rules,
                            const TenantId& tenant,
                            const std::vector<std::string>& other_directories);

// The linked users a full read may leave out as it maps them (UserMapper::leave_out_settled),
// loaded before the read: those whose link is not disabled by sync, records a digest and the
// version the user still has, with their rule-managed groups now. settled() is true for an entry
// whose mapping has that digest and those groups: the plan would not touch its user. A user
// changed after load() is compared by the next run (its version no longer matches).
class SettledUsers {
 public:
  static SettledUsers load(StoreReader& reader, const std::string& directory,
                           const MappingRules& rules, const TenantId& tenant);
  // Moves only: by_anchor_ views the anchors held by links_.
  SettledUsers(SettledUsers&&) = default;
  SettledUsers& operator=(SettledUsers&&) = default;
  SettledUsers(const SettledUsers&) = delete;
  SettledUsers& operator=(const SettledUsers&) = delete;
  bool settled(const DesiredUser& desired) const;
  std::size_t size() const { return by_anchor_.size(); }
  // Every link of the directory into the tenant as load() found it, ordered by anchor.
  const std::vector<LinkState>& links() const { return links_; }

 private:
  SettledUsers() = default;
  struct Settled {
    const std::string* digest;  // in links_
    std::vector<std::string> tenant_groups;
  };
  std::vector<LinkState> links_;
  std::unordered_map<std::string_view, Settled> by_anchor_;  // views into links_
};

// load_tenant_view for a caller that plans `mapped` once and then drops it: a linked user the plan
// would leave alone (not disabled by sync, every directory-owned attribute and rule-managed group
// already as the directory wants) is judged as the tenant's users are read, left out of the view
// and its entry removed from `mapped`; unlinked users are kept only when an entry has their
// userName. An unchanged re-sync of 100,000 users so never holds the tenant's users, and plan()
// of what remains is the plan of the whole. Incremental reads: load_tenant_view.
// `settled`, when the read loaded one, lends its links: when it left out most users, the few it
// did not are then found by link and by userName instead of by scanning every user's row.
TenantView load_tenant_view_dropping_unchanged(StoreReader& reader, const Snapshot& snapshot,
                                               MappingResult& mapped, const MappingRules& rules,
                                               const TenantId& tenant,
                                               const std::vector<std::string>& other_directories,
                                               const SettledUsers* settled = nullptr);

// The principal a sync run acts as: scoped to the plan's tenant, allowed to assign every role
// (the directory's rules are the admin's own configuration), recorded as the run and as
// origin directorySync:<directory> so that write-back never echoes its own directory's changes.
Principal sync_principal(const std::string& directory, std::int64_t run_id, const TenantId& tenant);

struct OpFailure {
  std::size_t index = 0;  // position in plan.ops
  OpKind kind = OpKind::update_user;
  std::string anchor;
  std::string user_name;
  std::string group;
  Error error;
};

struct ApplyOptions {
  // Operations per durable transaction. Each operation is still atomic on its own (a nested
  // transaction): a refused one is undone and reported, the others of its page commit.
  // Pages were 100 while releasing a savepoint cost time proportional to what its page had
  // written (SQLite's chained in-memory sub-journal, walked to truncate it); the store now keeps
  // that journal in one allocation, creates and memberships go in batches, and 500 costs less
  // CPU (fewer commits, each index page written once per page rather than five times).
  std::size_t page_size = 500;
  // Consecutive creates of a page are applied as one batch (IdentityService::create_users),
  // and its memberships with one change_members call per group: one change record per group
  // and page, listing its members. true applies every operation on its own, as a batch's
  // fallback does (tests compare the two).
  bool one_by_one = false;
  // When set, that run's record is updated in every page's transaction (`applied`, `failed`), so
  // a crash leaves an exact count of what is committed: the next apply of the same plan resumes
  // there.
  std::optional<std::int64_t> run_id;
  // The count already applied by an interrupted run of this plan; it is added to `applied`.
  std::size_t already_applied = 0;
  // Called after each committed page with the operations applied so far (logs, tests).
  std::function<void(std::size_t)> after_page;
  // Asked after each committed page: true stops there (a shutdown). The run record holds the
  // count committed, and the next run plans the rest again from the current state.
  std::function<bool()> stop_requested;
};

struct ApplyResult {
  std::size_t applied = 0;  // including options.already_applied and refused operations
  std::vector<OpFailure> failures;
  bool cursor_stored = false;
  bool stopped = false;  // stop_requested said so before every operation was applied
};

// Applies plan.ops in order, page by page. A refused operation (a tenant rule, or a user changed
// by someone else since the plan was made: version_mismatch) is reported and skipped; the next
// run plans it again from fresh state. The directory's cursor is stored with the last page, and
// only when the read was complete and nothing was refused, so an incremental run never skips a
// change it could not apply; plan.rule_groups are stored with it (the groups whose digest
// changed written, those no longer named deleted), never without it. Throws StoreFailure when a
// commit fails: pages committed before stay committed and are counted in the run record. `now`
// dates the disables.
ApplyResult apply(const Plan& plan, IdentityService& service, const Principal& who, Timestamp now,
                  const ApplyOptions& options);

}  // namespace idbridge::core::sync
