// The one place where every rule of the tenant model is enforced. Each call runs in a single
// store transaction: it either commits the change together with its change record, or returns
// a typed Error naming the rule and changes nothing.
#pragma once

#include "idbridge/core/error.hpp"
#include "idbridge/core/interceptor.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/core/principal.hpp"
#include "idbridge/core/store.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::core {

// What a caller supplies to create or replace a user: the user's attributes (id, tenant,
// version and timestamps are ignored) and, optionally, a new plaintext password.
struct UserWrite {
  User user;
  std::optional<std::string> password;
};

struct GroupWrite {
  std::string display_name;
  std::optional<std::string> external_id;
  GroupKind kind = GroupKind::access;
  std::vector<MemberRef> members;  // the full member set (replace semantics)
};

struct MembershipChange {
  std::vector<MemberRef> add;
  std::vector<MemberRef> remove;
};

struct TenantHealth {
  TenantId tenant;
  std::int64_t users = 0;
  bool has_account_owner = false;
  bool healthy() const { return users == 0 || has_account_owner; }
};

class IdentityService {
 public:
  struct Ports {
    Store& store;
    const Clock& clock;
    IdGenerator& ids;
    PasswordHasher& passwords;
    const ZoneCatalog& zones;
    // Sees every user and group change inside its transaction (write-back); none when null.
    ChangeInterceptor* interceptor = nullptr;
  };

  IdentityService(Ports ports, ProviderSettings provider, std::vector<TenantSettings> tenants);

  const TenantSettings* tenant(const TenantId& id) const;
  std::vector<TenantId> tenant_ids() const;

  // Creates the tenant row and its All Users group when missing. Idempotent.
  Result<void> ensure_tenant(const TenantId& tenant);

  Result<User> get_user(const Principal& who, const TenantId& tenant, const UserId& id);
  Result<Group> get_group(const Principal& who, const TenantId& tenant, const GroupId& id);

  // Errors: forbidden, read_only, role_ceiling, account_owner_exists, user_name_taken,
  // user_name_characters, person_name_characters, email_taken, email_rules, time_zone_unknown,
  // password_policy, extension_taken, extension_rules, mfa_rules, profile_unknown.
  Result<User> create_user(const Principal& who, const TenantId& tenant, UserWrite write);

  // Called inside create_users' transaction for each user it creates, after the user and its
  // change record are written: what the caller writes with the user (a directory link). A throw
  // abandons the whole batch (nothing of it is written) and propagates.
  using AfterCreate = std::function<void(std::size_t index, const User& created, StoreWriter& tx)>;

  // Creates every write as create_user would, one after another, in ONE store transaction: a
  // directory sync's page of new users pays for one transaction and one All Users version bump
  // instead of one each. Each write is checked against every rule, the store and the writes
  // before it (a userName, primary email or extension taken earlier in the batch is taken; so
  // is the Account Owner role); a refused write gets its Error at its index and writes nothing,
  // the others are created with one change record each, in order. Results are in the order of
  // `writes`; errors per write as create_user. Throws StoreFailure (then nothing was written).
  std::vector<Result<User>> create_users(const Principal& who, const TenantId& tenant,
                                         std::vector<UserWrite> writes,
                                         const AfterCreate& after_create = {});

  // Replaces every attribute. `if_match`: the version the caller last saw (version_mismatch
  // when stale). Changing the role needs an account_owner ceiling; assigning account_owner to
  // another user transfers it atomically (the old owner becomes administrator); taking it away
  // from the owner without naming a successor is account_owner_required.
  Result<User> replace_user(const Principal& who, const TenantId& tenant, const UserId& id,
                            UserWrite write, std::optional<ResourceVersion> if_match);

  // Read-modify-write in one transaction: `change` sees the stored user and returns what to
  // write (or nullopt to abandon, which returns invalid_value and writes nothing). No concurrent
  // writer can slip in between, so no update is lost. `change` must not call the service, and
  // it may be called more than once: when it sets a password, that transaction is abandoned, the
  // password hashed without holding the write slot, and `change` re-applied to the fresh state.
  using UserChange = std::function<std::optional<UserWrite>(const User& current)>;
  Result<User> modify_user(const Principal& who, const TenantId& tenant, const UserId& id,
                           const UserChange& change, std::optional<ResourceVersion> if_match);

  Result<void> delete_user(const Principal& who, const TenantId& tenant, const UserId& id,
                           std::optional<ResourceVersion> if_match);

  // Moves the Account Owner role to `new_owner` in one transaction. Returns the new owner.
  Result<User> transfer_account_ownership(const Principal& who, const TenantId& tenant,
                                          const UserId& new_owner);

  Result<Group> create_group(const Principal& who, const TenantId& tenant, GroupWrite write);
  Result<Group> replace_group(const Principal& who, const TenantId& tenant, const GroupId& id,
                              GroupWrite write, std::optional<ResourceVersion> if_match);
  // As modify_user, for groups; `change` also sees the stored members.
  using GroupChange = std::function<std::optional<GroupWrite>(
      const Group& current, const std::vector<MemberRef>& members)>;
  Result<Group> modify_group(const Principal& who, const TenantId& tenant, const GroupId& id,
                             const GroupChange& change, std::optional<ResourceVersion> if_match);
  // Adds and removes members without rewriting the set: cost independent of group size.
  Result<Group> change_members(const Principal& who, const TenantId& tenant, const GroupId& id,
                               const MembershipChange& change,
                               std::optional<ResourceVersion> if_match);
  Result<void> delete_group(const Principal& who, const TenantId& tenant, const GroupId& id,
                            std::optional<ResourceVersion> if_match);

  // Members of a group; for All Users, every user of the tenant.
  Result<Page<MemberRef>> list_members(const Principal& who, const TenantId& tenant,
                                       const GroupId& id, const PageRequest& page);

  TenantHealth health(const TenantId& tenant);

  // The store the service writes to, for consistent reads alongside it (exports, reports).
  Store& store() { return ports_.store; }

  // The same service (ports, provider, tenants) over another store: lets the sync applier run
  // each operation in its own nested transaction of one page-sized, durably committed one. Its
  // commits are not durable, so it never calls the interceptor's after_commit.
  IdentityService with_store(Store& store) const;

 private:
  struct Copy {};
  IdentityService(Copy, Ports ports, const IdentityService& settings_from);

  Ports ports_;
  // with_store's copies: the interceptor they pass changes to (without after_commit).
  std::shared_ptr<ChangeInterceptor> nested_interceptor_;
  ProviderSettings provider_;
  std::map<TenantId, TenantSettings> tenants_;
};

}  // namespace idbridge::core
