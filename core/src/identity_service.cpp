// IdentityService: every tenant-model rule applied inside one store write transaction, with the
// change record written in that same transaction.
#include "idbridge/core/identity_service.hpp"

#include "idbridge/core/change.hpp"
#include "idbridge/core/rules.hpp"

#include <algorithm>
#include <set>
#include <utility>
#include <variant>

namespace idbridge::core {
namespace {

std::string member_text(const MemberRef& member) {
  return std::string(to_string(member.type)) + ":" + member.id;
}

bool is_role_default(const std::string& profile) {
  return profile.rfind("default:", 0) == 0;
}

std::optional<Error> check_if_match(std::optional<ResourceVersion> if_match,
                                    ResourceVersion current) {
  if (if_match && *if_match != current) {
    return make_error(ErrorCode::version_mismatch, "the resource was modified (version " +
                                                       std::to_string(current) + ", expected " +
                                                       std::to_string(*if_match) + ")");
  }
  return std::nullopt;
}

// The interceptor's verdict on a change about to be written (none when there is no interceptor).
std::optional<Error> intercept(const IdentityService::Ports& ports, StoreWriter& tx,
                               const Principal& who, const PendingChange& change) {
  if (ports.interceptor == nullptr) {
    return std::nullopt;
  }
  return ports.interceptor->before_write(tx, who, change);
}

// Commits `tx` durably; then the interceptor may act on what it wrote with the change (write-back
// wakes its delivery, which must never see an uncommitted outbox item).
void commit(const IdentityService::Ports& ports, StoreWriter& tx) {
  tx.commit();
  if (ports.interceptor != nullptr) {
    ports.interceptor->after_commit();
  }
}

// The interceptor of a service whose transactions are nested in another one (with_store): their
// commits are not durable, so after_commit is not theirs to call.
class NestedInterceptor final : public ChangeInterceptor {
 public:
  explicit NestedInterceptor(ChangeInterceptor& outer) : outer_(outer) {}
  std::optional<Error> before_write(StoreWriter& tx, const Principal& who,
                                    const PendingChange& change) override {
    return outer_.before_write(tx, who, change);
  }

 private:
  ChangeInterceptor& outer_;
};

Error not_found(std::string_view what, const std::string& id) {
  return make_error(ErrorCode::not_found, std::string(what) + " " + id + " not found");
}

// Derivations the model defines rather than the caller: displayName from the name, a lone email
// or extension is the primary one, the role's default profile is held, and profiles are a set.
// `previous_role` is the role being replaced, whose default profile the new role swaps out.
void normalise(User& user, std::optional<Role> previous_role) {
  if (user.external_id && user.external_id->empty()) {
    user.external_id.reset();
  }
  if (user.display_name.empty()) {
    std::string derived = user.name.given_name;
    if (!user.name.family_name.empty()) {
      derived += derived.empty() ? "" : " ";
      derived += user.name.family_name;
    }
    if (derived.empty()) {
      derived = !user.name.formatted.empty() ? user.name.formatted : user.user_name;
    }
    user.display_name = derived;
  }
  if (user.emails.size() == 1) {
    user.emails[0].primary = true;
  }
  if (user.extensions.size() == 1) {
    user.extensions[0].primary = true;
  }
  if (previous_role && *previous_role != user.role) {
    std::erase(user.profiles, default_profile_name(*previous_role));
  }
  user.profiles.push_back(default_profile_name(user.role));
  std::sort(user.profiles.begin(), user.profiles.end());
  user.profiles.erase(std::unique(user.profiles.begin(), user.profiles.end()), user.profiles.end());
}

// Value rules that need only the user and the tenant's settings.
std::optional<Error> validate_values(const User& user, const TenantSettings& tenant,
                                     const ZoneCatalog& zones) {
  if (auto e = check_utf8(user)) {
    return e;
  }
  if (auto e = check_user_name(user.user_name, tenant)) {
    return e;
  }
  const std::pair<const std::string&, std::string_view> names[] = {
      {user.name.given_name, "name.givenName"},
      {user.name.family_name, "name.familyName"},
      {user.name.middle_name, "name.middleName"},
  };
  for (const auto& [value, path] : names) {
    if (auto e = check_person_name(value, path)) {
      return e;
    }
  }
  if (auto e = check_emails(user)) {
    return e;
  }
  if (auto e = check_time_zone(user.timezone, zones)) {
    return e;
  }
  if (auto e = check_extensions(user)) {
    return e;
  }
  if (auto e = check_mfa(user)) {
    return e;
  }
  for (const auto& profile : user.profiles) {
    if (is_role_default(profile) && profile != default_profile_name(user.role)) {
      return make_error(ErrorCode::profile_unknown,
                        "profile \"" + profile +
                            "\" is the default of another role; default profiles follow the role",
                        "profiles");
    }
  }
  return check_profiles(user, tenant);
}

// Uniqueness and reference rules that need the store (inside the write transaction).
std::optional<Error> validate_against_store(StoreReader& tx, const User& user,
                                            const User* existing) {
  // A value the user already holds cannot be another user's (the store keeps them unique), so
  // only new values are looked up: most writes change neither, and each lookup decodes a user.
  const auto kept = [](const std::string& before, const std::string& after) {
    return fold_case(before) == fold_case(after);
  };
  const ContactValue* existing_email = existing != nullptr ? primary_email(*existing) : nullptr;
  const bool user_name_kept = existing != nullptr && kept(existing->user_name, user.user_name);
  if (auto other = user_name_kept ? std::nullopt : tx.find_user_by_user_name(user.user_name);
      other && other->id != user.id) {
    // Deliberately says nothing of where the name is used: it may be another tenant's user.
    return make_error(ErrorCode::user_name_taken,
                      "userName \"" + user.user_name +
                          "\" is already taken (userNames are unique across all tenants)",
                      "userName");
  }
  if (const ContactValue* email = primary_email(user);
      email != nullptr &&
      (existing_email == nullptr || !kept(existing_email->value, email->value))) {
    if (auto other = tx.find_user_by_primary_email(user.tenant, email->value);
        other && other->id != user.id) {
      return make_error(
          ErrorCode::email_taken,
          "primary email \"" + email->value + "\" is already used by another user of this tenant",
          "emails");
    }
  }
  for (const auto& extension : user.extensions) {
    if (existing != nullptr &&
        std::any_of(existing->extensions.begin(), existing->extensions.end(),
                    [&](const auto& held) { return held.number == extension.number; })) {
      continue;
    }
    if (auto owner = tx.find_extension_owner(user.tenant, extension.number);
        owner && *owner != user.id) {
      return make_error(ErrorCode::extension_taken,
                        "extension " + extension.number + " belongs to another user of this tenant",
                        "extensions");
    }
  }
  // Only a manager being set now is checked: a reference that went stale when the manager was
  // deleted must not block later writes to the report (deprovisioning above all).
  const bool manager_changed =
      existing == nullptr || existing->enterprise.manager != user.enterprise.manager;
  if (user.enterprise.manager && manager_changed) {
    if (*user.enterprise.manager == user.id ||
        !tx.find_user(user.tenant, *user.enterprise.manager)) {
      return make_error(
          ErrorCode::invalid_value,
          "manager " + user.enterprise.manager->str() + " is not another user of this tenant",
          "manager");
    }
  }
  return std::nullopt;
}

Error from_constraint(const StoreConstraintViolation& violation) {
  switch (violation.rule()) {
    case ErrorCode::user_name_taken:
      return make_error(violation.rule(), "userName is already taken", "userName");
    case ErrorCode::email_taken:
      return make_error(violation.rule(), "primary email is already used in this tenant", "emails");
    case ErrorCode::extension_taken:
      return make_error(violation.rule(), "extension is already used in this tenant", "extensions");
    case ErrorCode::group_name_taken:
      return make_error(violation.rule(), "group displayName is already used in this tenant",
                        "displayName");
    default: return make_error(violation.rule(), "conflicts with an existing resource");
  }
}

// Swaps `user` to `role`, keeping the default profile in step.
void assign_role(User& user, Role role) {
  const Role previous = user.role;
  user.role = role;
  normalise(user, previous);
}

}  // namespace

IdentityService::IdentityService(Ports ports, ProviderSettings provider,
                                 std::vector<TenantSettings> tenants)
    : ports_(ports), provider_(std::move(provider)) {
  for (auto& tenant : tenants) {
    TenantId id = tenant.id;
    tenants_.emplace(std::move(id), with_default_profiles(std::move(tenant)));
  }
}

IdentityService::IdentityService(Copy, Ports ports, const IdentityService& settings_from)
    : ports_(ports), provider_(settings_from.provider_), tenants_(settings_from.tenants_) {}

IdentityService IdentityService::with_store(Store& store) const {
  std::shared_ptr<ChangeInterceptor> nested;
  if (ports_.interceptor != nullptr) {
    nested = std::make_shared<NestedInterceptor>(*ports_.interceptor);
  }
  IdentityService copy(
      Copy{}, Ports{store, ports_.clock, ports_.ids, ports_.passwords, ports_.zones, nested.get()},
      *this);
  copy.nested_interceptor_ = std::move(nested);
  return copy;
}

const TenantSettings* IdentityService::tenant(const TenantId& id) const {
  const auto it = tenants_.find(id);
  return it == tenants_.end() ? nullptr : &it->second;
}

std::vector<TenantId> IdentityService::tenant_ids() const {
  std::vector<TenantId> ids;
  for (const auto& [id, settings] : tenants_) {
    ids.push_back(id);
  }
  return ids;
}

namespace {

enum class Access { read, write };

std::optional<Error> check_access(const Principal& who, const TenantId& tenant,
                                  const TenantSettings* settings, Access access) {
  // Scope first: a tenant-scoped credential gets the same answer for every other tenant, whether
  // it exists or not, so it cannot probe which tenants the provider has.
  if (!who.may_access(tenant)) {
    return make_error(ErrorCode::forbidden,
                      "this credential may not act on tenant " + tenant.str());
  }
  if (settings == nullptr) {
    return make_error(ErrorCode::not_found, "tenant " + tenant.str() + " not found");
  }
  if (access == Access::write && who.read_only) {
    return make_error(ErrorCode::read_only, "this credential is read-only");
  }
  return std::nullopt;
}

ChangeRecord make_record(const Principal& who, const TenantId& tenant, ResourceType type,
                         std::string id, ChangeKind kind, ResourceVersion version, Timestamp at,
                         std::vector<AttributeChange> attributes) {
  ChangeRecord record;
  record.tenant = tenant;
  record.resource_type = type;
  record.resource_id = std::move(id);
  record.kind = kind;
  record.version = version;
  record.actor = who.actor;
  record.origin = who.origin;
  record.at = at;
  record.attributes = std::move(attributes);
  return record;
}

// A user or group that is deleted leaves every group that directly held it. Each such group gets
// a new version (its ETag must change, or If-None-Match would answer 304 with a stale member
// list) and a change record with the removal, or write-back would never see the loss.
std::optional<Error> remove_from_parents(StoreWriter& tx, const Principal& who,
                                         const TenantId& tenant, const MemberRef& member,
                                         Timestamp now) {
  for (const GroupId& parent_id : tx.groups_containing(tenant, member)) {
    const auto parent = tx.find_group(tenant, parent_id);
    if (!parent) {
      continue;  // a member row outlives its group only if the store broke its own foreign key
    }
    Group updated = *parent;
    updated.version = parent->version + 1;
    updated.last_modified = now;
    if (!tx.update_group(updated, parent->version)) {
      return make_error(ErrorCode::version_mismatch, "a parent group changed concurrently");
    }
    tx.append_change(make_record(who, tenant, ResourceType::group, parent_id.str(),
                                 ChangeKind::updated, updated.version, now,
                                 {{"members", member_text(member), std::nullopt}}));
  }
  return std::nullopt;
}

// All Users' members are implicit (every user of the tenant) and never stored, so nothing else
// would move its version when a user is created or deleted; this does, so its ETag follows its
// member list. No change record: the user's own created/deleted record already says it all.
std::optional<Error> touch_all_users(StoreWriter& tx, const TenantId& tenant, Timestamp now) {
  const auto all_users = tx.find_system_group(tenant);
  if (!all_users) {
    return std::nullopt;  // a tenant that was never ensured has no All Users to keep honest
  }
  Group touched = *all_users;
  touched.version = all_users->version + 1;
  touched.last_modified = now;
  if (!tx.update_group(touched, all_users->version)) {
    return make_error(ErrorCode::version_mismatch, "All Users changed concurrently");
  }
  return std::nullopt;
}

}  // namespace

Result<void> IdentityService::ensure_tenant(const TenantId& tenant) {
  if (this->tenant(tenant) == nullptr) {
    return make_error(ErrorCode::not_found, "tenant " + tenant.str() + " is not configured");
  }
  auto tx = ports_.store.write();
  const Timestamp now = ports_.clock.now();
  tx->ensure_tenant(tenant, now);
  if (!tx->find_system_group(tenant)) {
    Group all_users;
    all_users.id = GroupId(ports_.ids.next());
    all_users.tenant = tenant;
    all_users.display_name = std::string(all_users_group_name);
    all_users.kind = GroupKind::access;
    all_users.system = true;
    all_users.version = 1;
    all_users.created = now;
    all_users.last_modified = now;
    tx->insert_group(all_users);
    tx->append_change(make_record(system_principal(), tenant, ResourceType::group,
                                  all_users.id.str(), ChangeKind::created, 1, now,
                                  diff_groups(nullptr, &all_users)));
  }
  tx->commit();
  return {};
}

Result<User> IdentityService::get_user(const Principal& who, const TenantId& tenant,
                                       const UserId& id) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::read)) {
    return *e;
  }
  auto reader = ports_.store.read();
  auto user = reader->find_user(tenant, id);
  if (!user) {
    return not_found("user", id.str());
  }
  return *std::move(user);
}

Result<Group> IdentityService::get_group(const Principal& who, const TenantId& tenant,
                                         const GroupId& id) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::read)) {
    return *e;
  }
  auto reader = ports_.store.read();
  auto group = reader->find_group(tenant, id);
  if (!group) {
    return not_found("group", id.str());
  }
  return *std::move(group);
}

namespace {

// A user to create, past every check that needs neither the store nor a transaction.
struct NewUser {
  User user;
  std::optional<std::string> password;
  std::optional<std::string> password_hash;
};

// The checks of a create that need no store, and the password's hash: done before the write
// slot is taken.
Result<NewUser> prepare_new_user(const Principal& who, const TenantId& tenant,
                                 const TenantSettings& settings, const ZoneCatalog& zones,
                                 PasswordHasher& hasher, UserWrite write) {
  NewUser created;
  User& user = created.user;
  user = std::move(write.user);
  user.tenant = tenant;
  if (user.role > who.ceiling) {
    return make_error(ErrorCode::role_ceiling,
                      "this credential may assign roles up to " +
                          std::string(to_string(who.ceiling)) + ", not " +
                          std::string(to_string(user.role)),
                      "role");
  }
  normalise(user, std::nullopt);
  if (auto e = validate_values(user, settings, zones)) {
    return *e;
  }
  if (write.password) {
    if (auto e = check_password(*write.password, user.user_name, settings.password_policy)) {
      return *e;
    }
    // scrypt takes a third of a second; inside the transaction it would hold the one write slot,
    // and so every tenant's writes, for that long.
    created.password_hash = hasher.hash(*write.password);
    created.password = std::move(write.password);
  }
  return created;
}

// The checks of a create against the store (uniqueness, the one Account Owner), inside the
// write transaction: `created` gets its id, version and timestamps.
std::optional<Error> check_new_user(StoreWriter& tx, IdGenerator& ids, NewUser& created,
                                    Timestamp now) {
  User& user = created.user;
  user.id = UserId(ids.next());
  if (auto e = validate_against_store(tx, user, nullptr)) {
    return e;
  }
  if (user.role == Role::account_owner && tx.find_account_owner(user.tenant)) {
    return make_error(ErrorCode::account_owner_exists,
                      "the tenant already has an Account Owner; assign the role to an existing "
                      "user to transfer it",
                      "role");
  }
  user.version = 1;
  user.created = now;
  user.last_modified = now;
  user.password_set = created.password.has_value();
  return std::nullopt;
}

// The interceptor's verdict on creating `created`.
std::optional<Error> intercept_create(const IdentityService::Ports& ports, StoreWriter& tx,
                                      const Principal& who, const NewUser& created) {
  return intercept(ports, tx, who,
                   {.resource_type = ResourceType::user,
                    .kind = ChangeKind::created,
                    .tenant = created.user.tenant,
                    .after = &created.user,
                    .new_password = created.password ? &*created.password : nullptr});
}

// Writes a checked new user, its password hash and its change record. Throws
// StoreConstraintViolation (having written nothing) when the store's uniqueness rules refuse it.
void write_new_user(StoreWriter& tx, const Principal& who, const NewUser& created) {
  const User& user = created.user;
  tx.insert_user(user);
  auto attributes = diff_users(nullptr, &user);
  if (created.password_hash) {
    tx.set_password_hash(user.tenant, user.id, *created.password_hash);
    attributes.push_back({"password", std::nullopt, std::string(redacted_value)});
  }
  tx.append_change(make_record(who, user.tenant, ResourceType::user, user.id.str(),
                               ChangeKind::created, user.version, user.created,
                               std::move(attributes)));
}

}  // namespace

Result<User> IdentityService::create_user(const Principal& who, const TenantId& tenant,
                                          UserWrite write) {
  const TenantSettings* settings = this->tenant(tenant);
  if (auto e = check_access(who, tenant, settings, Access::write)) {
    return *e;
  }
  auto prepared =
      prepare_new_user(who, tenant, *settings, ports_.zones, ports_.passwords, std::move(write));
  if (!prepared) {
    return prepared.error();
  }
  NewUser& created = *prepared;
  try {
    auto tx = ports_.store.write();
    const Timestamp now = ports_.clock.now();
    if (auto e = check_new_user(*tx, ports_.ids, created, now)) {
      return *e;
    }
    if (auto e = intercept_create(ports_, *tx, who, created)) {
      return *e;
    }
    write_new_user(*tx, who, created);
    if (auto e = touch_all_users(*tx, tenant, now)) {
      return *e;
    }
    commit(ports_, *tx);
    return std::move(created.user);
  } catch (const StoreConstraintViolation& violation) {
    return from_constraint(violation);
  }
}

std::vector<Result<User>> IdentityService::create_users(const Principal& who,
                                                        const TenantId& tenant,
                                                        std::vector<UserWrite> writes,
                                                        const AfterCreate& after_create) {
  std::vector<Result<User>> results;
  results.reserve(writes.size());
  const TenantSettings* settings = this->tenant(tenant);
  if (auto e = check_access(who, tenant, settings, Access::write)) {
    results.assign(writes.size(), Result<User>(*e));
    return results;
  }
  // The store-free checks and the password hashes first, outside the write slot.
  std::vector<std::optional<NewUser>> prepared;
  prepared.reserve(writes.size());
  for (auto& write : writes) {
    auto one =
        prepare_new_user(who, tenant, *settings, ports_.zones, ports_.passwords, std::move(write));
    if (one) {
      prepared.emplace_back(std::move(*one));
      results.emplace_back(make_error(ErrorCode::invalid_value, "not created"));  // set below
    } else {
      prepared.emplace_back(std::nullopt);
      results.emplace_back(one.error());
    }
  }

  auto tx = ports_.store.write();
  const Timestamp now = ports_.clock.now();
  std::vector<std::size_t> created_indexes;
  // In order, each against the store as the writes before it left it: a name or the Account
  // Owner role taken earlier in the batch is found by the same lookups as one taken before it.
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    if (!prepared[i]) {
      continue;
    }
    NewUser& created = *prepared[i];
    if (auto e = check_new_user(*tx, ports_.ids, created, now)) {
      results[i] = *e;
      continue;
    }
    try {
      if (ports_.interceptor != nullptr) {
        // An interceptor may write to the transaction before it refuses; its own nested one keeps
        // a refusal from leaving anything behind. Without one, no savepoint per user is needed:
        // a refused insert writes nothing (the store's contract).
        auto scope = tx->nested();
        if (auto e = intercept_create(ports_, *scope, who, created)) {
          results[i] = *e;
          continue;
        }
        write_new_user(*scope, who, created);
        scope->commit();
      } else {
        write_new_user(*tx, who, created);
      }
    } catch (const StoreConstraintViolation& violation) {
      results[i] = from_constraint(violation);
      continue;
    }
    if (after_create) {
      after_create(i, created.user, *tx);
    }
    created_indexes.push_back(i);
  }
  if (created_indexes.empty()) {
    return results;
  }
  // One version bump for the batch: All Users' ETag must differ from before it, not per user.
  if (auto e = touch_all_users(*tx, tenant, now)) {
    for (const std::size_t i : created_indexes) {
      results[i] = *e;
    }
    return results;
  }
  commit(ports_, *tx);
  for (const std::size_t i : created_indexes) {
    results[i] = std::move(prepared[i]->user);
  }
  return results;
}

namespace {

// The slow half of a password write, done outside the write slot: whether the password is the
// one already stored (verified against `checked_against`, the stored hash at the time) and, if
// not, its new hash. A transaction uses it only if the stored hash is still `checked_against`.
struct PreparedPassword {
  std::string password;
  std::optional<std::string> checked_against;
  bool unchanged = false;
  std::string new_hash;
};

PreparedPassword prepare_password(PasswordHasher& hasher, const std::string& password,
                                  std::optional<std::string> stored_hash) {
  PreparedPassword prepared;
  prepared.password = password;
  prepared.checked_against = std::move(stored_hash);
  // A PUT that repeats the current password (what a provisioning client re-sending the whole
  // user does) is not a change: no new version, no change record.
  prepared.unchanged =
      prepared.checked_against && hasher.verify(password, *prepared.checked_against);
  if (!prepared.unchanged) {
    prepared.new_hash = hasher.hash(password);
  }
  return prepared;
}

// What one attempt of modify_user needs before it can commit: the password its change callback
// produced and the hash stored now, to be verified and hashed outside the write slot.
struct PasswordNeeded {
  std::string password;
  std::optional<std::string> stored_hash;
};

// The stored user a write is about, checked against If-Match and the principal's ceiling
// (`verb` names the write in the ceiling error: "modify", "delete").
Result<User> load_user_for_write(StoreReader& tx, const Principal& who, const TenantId& tenant,
                                 const UserId& id, std::optional<ResourceVersion> if_match,
                                 std::string_view verb) {
  auto existing = tx.find_user(tenant, id);
  if (!existing) {
    return not_found("user", id.str());
  }
  if (auto e = check_if_match(if_match, existing->version)) {
    return *e;
  }
  if (existing->role > who.ceiling) {
    return make_error(ErrorCode::role_ceiling,
                      "this credential may not " + std::string(verb) + " a user whose role is " +
                          std::string(to_string(existing->role)),
                      "role");
  }
  return *std::move(existing);
}

// The stored group a write is about, checked against If-Match.
Result<Group> load_group_for_write(StoreReader& tx, const TenantId& tenant, const GroupId& id,
                                   std::optional<ResourceVersion> if_match) {
  auto existing = tx.find_group(tenant, id);
  if (!existing) {
    return not_found("group", id.str());
  }
  if (auto e = check_if_match(if_match, existing->version)) {
    return *e;
  }
  return *std::move(existing);
}

enum class PasswordWork { outside_slot, inside_slot };

// One read-modify-write transaction of modify_user. With `prepared` matching the password the
// change produces, it commits; otherwise, with outside_slot, it abandons the transaction after
// every check has passed and says which password it needs.
std::variant<Result<User>, PasswordNeeded> modify_user_attempt(
    const IdentityService::Ports& ports, const TenantSettings& settings, const Principal& who,
    const TenantId& tenant, const UserId& id, const IdentityService::UserChange& change,
    std::optional<ResourceVersion> if_match, const PreparedPassword* prepared, PasswordWork work) {
  try {
    auto tx = ports.store.write();
    auto existing = load_user_for_write(*tx, who, tenant, id, if_match, "modify");
    if (!existing) {
      return existing.error();
    }
    std::optional<UserWrite> changed = change(*existing);
    if (!changed) {
      return make_error(ErrorCode::invalid_value, "the change was refused by the caller");
    }
    UserWrite write = *std::move(changed);
    User user = std::move(write.user);
    user.id = existing->id;
    user.tenant = tenant;
    user.version = existing->version;
    user.created = existing->created;
    user.last_modified = existing->last_modified;
    user.password_set = existing->password_set;
    normalise(user, existing->role);

    std::optional<User> previous_owner;
    if (user.role != existing->role) {
      if (who.ceiling != Role::account_owner) {
        return make_error(ErrorCode::role_change_not_allowed,
                          "only a credential allowed to act as Account Owner may change roles",
                          "role");
      }
      if (existing->role == Role::account_owner) {
        return make_error(ErrorCode::account_owner_required,
                          "the Account Owner keeps the role until it is assigned to another user",
                          "role");
      }
      if (user.role == Role::account_owner) {
        previous_owner = tx->find_account_owner(tenant);
      }
    }
    if (auto e = validate_values(user, settings, ports.zones)) {
      return *e;
    }
    if (write.password) {
      if (auto e = check_password(*write.password, user.user_name, settings.password_policy)) {
        return *e;
      }
    }
    if (auto e = validate_against_store(*tx, user, &*existing)) {
      return *e;
    }
    // Everything is valid; only now is a password worth the cost of scrypt.
    std::optional<PreparedPassword> computed_here;
    const PreparedPassword* password = nullptr;
    if (write.password) {
      auto stored_hash = tx->password_hash(tenant, id);
      if (prepared && prepared->password == *write.password &&
          prepared->checked_against == stored_hash) {
        password = prepared;
      } else if (work == PasswordWork::outside_slot) {
        return PasswordNeeded{*write.password, std::move(stored_hash)};
      } else {
        computed_here = prepare_password(ports.passwords, *write.password, std::move(stored_hash));
        password = &*computed_here;
      }
      if (password->unchanged) {
        password = nullptr;
      }
    }

    auto attributes = diff_users(&*existing, &user);
    if (password) {
      attributes.push_back(
          {"password",
           existing->password_set ? std::optional<std::string>(redacted_value) : std::nullopt,
           std::string(redacted_value)});
    }
    if (attributes.empty()) {
      return *existing;  // nothing changed: no new version, no change record
    }
    const Timestamp now = ports.clock.now();
    if (previous_owner) {
      // The transfer: the old owner becomes Administrator in this same transaction.
      User demoted = *previous_owner;
      assign_role(demoted, Role::administrator);
      demoted.version = previous_owner->version + 1;
      demoted.last_modified = now;
      if (auto e = intercept(ports, *tx, who,
                             {.resource_type = ResourceType::user,
                              .kind = ChangeKind::updated,
                              .tenant = tenant,
                              .before = &*previous_owner,
                              .after = &demoted})) {
        return *e;
      }
      if (!tx->update_user(demoted, *previous_owner)) {
        return make_error(ErrorCode::version_mismatch, "the Account Owner changed concurrently");
      }
      tx->append_change(make_record(who, tenant, ResourceType::user, demoted.id.str(),
                                    ChangeKind::updated, demoted.version, now,
                                    diff_users(&*previous_owner, &demoted)));
    }
    user.version = existing->version + 1;
    user.last_modified = now;
    if (password) {
      user.password_set = true;
    }
    if (auto e = intercept(ports, *tx, who,
                           {.resource_type = ResourceType::user,
                            .kind = ChangeKind::updated,
                            .tenant = tenant,
                            .before = &*existing,
                            .after = &user,
                            .new_password = password ? &*write.password : nullptr})) {
      return *e;
    }
    if (password) {
      tx->set_password_hash(tenant, user.id, password->new_hash);
    }
    if (!tx->update_user(user, *existing)) {
      return make_error(ErrorCode::version_mismatch, "the user changed concurrently");
    }
    tx->append_change(make_record(who, tenant, ResourceType::user, user.id.str(),
                                  ChangeKind::updated, user.version, now, std::move(attributes)));
    commit(ports, *tx);
    return user;
  } catch (const StoreConstraintViolation& violation) {
    return from_constraint(violation);
  }
}

// modify_user without holding the write slot during scrypt. The password, when the change sets
// one, comes out of the change callback, which runs inside the transaction on the stored state.
// So a first attempt runs every check, finds the password and abandons the transaction; the
// password is verified against the stored hash and hashed with no lock held; a second attempt
// re-runs the callback on the state as it is then and commits with that result. Only if the
// callback then produces another password, or the stored hash changed in between (a concurrent
// password write), does a last attempt do the work inside the slot: slow, but never wrong and
// never looping.
Result<User> modify_user_hashing_outside(const IdentityService::Ports& ports,
                                         const TenantSettings& settings, const Principal& who,
                                         const TenantId& tenant, const UserId& id,
                                         const IdentityService::UserChange& change,
                                         std::optional<ResourceVersion> if_match,
                                         std::optional<PreparedPassword> prepared) {
  constexpr int attempts_outside_slot = 2;
  for (int attempt = 1;; ++attempt) {
    const PasswordWork work =
        attempt <= attempts_outside_slot ? PasswordWork::outside_slot : PasswordWork::inside_slot;
    auto outcome = modify_user_attempt(ports, settings, who, tenant, id, change, if_match,
                                       prepared ? &*prepared : nullptr, work);
    if (auto* done = std::get_if<Result<User>>(&outcome)) {
      return std::move(*done);
    }
    auto& needed = std::get<PasswordNeeded>(outcome);
    prepared = prepare_password(ports.passwords, needed.password, std::move(needed.stored_hash));
  }
}

}  // namespace

Result<User> IdentityService::replace_user(const Principal& who, const TenantId& tenant,
                                           const UserId& id, UserWrite write,
                                           std::optional<ResourceVersion> if_match) {
  const TenantSettings* settings = this->tenant(tenant);
  if (auto e = check_access(who, tenant, settings, Access::write)) {
    return *e;
  }
  // The password is known before the transaction, so it is verified against the stored hash
  // and hashed before it (after the cheap policy check, so an obviously bad one costs no scrypt).
  // Should the stored hash change meanwhile, the transaction sees it and redoes this work.
  std::optional<PreparedPassword> prepared;
  if (write.password) {
    if (auto e = check_password(*write.password, write.user.user_name, settings->password_policy)) {
      return *e;
    }
    prepared = prepare_password(ports_.passwords, *write.password,
                                ports_.store.read()->password_hash(tenant, id));
  }
  // The callback copies: a retry calls it again.
  return modify_user_hashing_outside(
      ports_, *settings, who, tenant, id,
      [&write](const User&) -> std::optional<UserWrite> { return write; }, if_match,
      std::move(prepared));
}

Result<User> IdentityService::modify_user(const Principal& who, const TenantId& tenant,
                                          const UserId& id, const UserChange& change,
                                          std::optional<ResourceVersion> if_match) {
  const TenantSettings* settings = this->tenant(tenant);
  if (auto e = check_access(who, tenant, settings, Access::write)) {
    return *e;
  }
  return modify_user_hashing_outside(ports_, *settings, who, tenant, id, change, if_match,
                                     std::nullopt);
}

Result<void> IdentityService::delete_user(const Principal& who, const TenantId& tenant,
                                          const UserId& id,
                                          std::optional<ResourceVersion> if_match) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::write)) {
    return *e;
  }
  auto tx = ports_.store.write();
  auto existing = load_user_for_write(*tx, who, tenant, id, if_match, "delete");
  if (!existing) {
    return existing.error();
  }
  const Timestamp now = ports_.clock.now();
  const MemberRef as_member{MemberType::user, id.str()};
  auto attributes = diff_users(&*existing, nullptr);
  for (const GroupId& group : tx->groups_containing(tenant, as_member)) {
    attributes.push_back({"groups", group.str(), std::nullopt});
  }
  // The groups' records come first, so a log reader never sees a membership of a user it was
  // already told is gone.
  if (auto e = remove_from_parents(*tx, who, tenant, as_member, now)) {
    return *e;
  }
  if (auto e = touch_all_users(*tx, tenant, now)) {
    return *e;
  }
  // Before the delete: the interceptor still finds the user's directory links.
  if (auto e = intercept(ports_, *tx, who,
                         {.resource_type = ResourceType::user,
                          .kind = ChangeKind::deleted,
                          .tenant = tenant,
                          .before = &*existing})) {
    return *e;
  }
  tx->delete_user(tenant, id);
  tx->append_change(make_record(who, tenant, ResourceType::user, id.str(), ChangeKind::deleted,
                                existing->version + 1, now, std::move(attributes)));
  commit(ports_, *tx);
  return {};
}

Result<User> IdentityService::transfer_account_ownership(const Principal& who,
                                                         const TenantId& tenant,
                                                         const UserId& new_owner) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::write)) {
    return *e;
  }
  if (who.ceiling != Role::account_owner) {
    return make_error(ErrorCode::role_change_not_allowed,
                      "only a credential allowed to act as Account Owner may change roles", "role");
  }
  auto current = get_user(who, tenant, new_owner);
  if (!current) {
    return current;
  }
  if (current->role == Role::account_owner) {
    return current;
  }
  UserWrite write{*current, std::nullopt};
  write.user.role = Role::account_owner;
  return replace_user(who, tenant, new_owner, std::move(write), current->version);
}

namespace {

// Every referenced member must be a user or group of the tenant; a group member must not make
// `group` contain itself.
std::optional<Error> validate_new_members(StoreReader& tx, const TenantId& tenant,
                                          const GroupId& group,
                                          const std::vector<MemberRef>& members) {
  for (const auto& member : members) {
    if (member.type == MemberType::user) {
      if (!tx.find_user(tenant, UserId(member.id))) {
        return make_error(ErrorCode::member_unknown,
                          "member " + member.id + " is not a user of this tenant", "members");
      }
      continue;
    }
    if (!tx.find_group(tenant, GroupId(member.id))) {
      return make_error(ErrorCode::member_unknown,
                        "member " + member.id + " is not a group of this tenant", "members");
    }
    // Walk up from `group`: if the new member is `group` or one of its ancestors, adding it
    // closes a cycle.
    std::set<std::string> seen;
    std::vector<GroupId> frontier{group};
    while (!frontier.empty()) {
      GroupId current = std::move(frontier.back());
      frontier.pop_back();
      if (current.str() == member.id) {
        return make_error(ErrorCode::group_cycle, "group " + member.id + " would contain itself",
                          "members");
      }
      if (!seen.insert(current.str()).second) {
        continue;
      }
      for (auto& parent : tx.groups_containing(tenant, {MemberType::group, current.str()})) {
        frontier.push_back(std::move(parent));
      }
    }
  }
  return std::nullopt;
}

std::optional<Error> check_group_name(StoreReader& tx, const TenantId& tenant,
                                      const std::string& display_name,
                                      const std::optional<GroupId>& self) {
  if (display_name.empty()) {
    return make_error(ErrorCode::required, "displayName is required", "displayName");
  }
  if (!is_valid_utf8(display_name)) {
    return make_error(ErrorCode::invalid_value, "displayName is not valid UTF-8", "displayName");
  }
  if (auto other = tx.find_group_by_display_name(tenant, display_name);
      other && (!self || other->id != *self)) {
    return make_error(ErrorCode::group_name_taken,
                      "a group named \"" + display_name + "\" already exists in this tenant",
                      "displayName");
  }
  return std::nullopt;
}

std::vector<MemberRef> all_stored_members(StoreReader& tx, const TenantId& tenant,
                                          const GroupId& group) {
  std::vector<MemberRef> members;
  PageRequest page{0, 1000};
  while (true) {
    auto chunk = tx.list_members(tenant, group, page);
    members.insert(members.end(), chunk.items.begin(), chunk.items.end());
    if (chunk.items.empty() || static_cast<std::int64_t>(members.size()) >= chunk.total) {
      return members;
    }
    page.offset += static_cast<std::int64_t>(chunk.items.size());
  }
}

Error system_group_error(std::string what) {
  return make_error(ErrorCode::system_group_immutable,
                    "All Users is a system group: " + std::move(what));
}

}  // namespace

Result<Group> IdentityService::create_group(const Principal& who, const TenantId& tenant,
                                            GroupWrite write) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::write)) {
    return *e;
  }
  try {
    auto tx = ports_.store.write();
    if (auto e = check_group_name(*tx, tenant, write.display_name, std::nullopt)) {
      return *e;
    }
    Group group;
    group.id = GroupId(ports_.ids.next());
    group.tenant = tenant;
    group.display_name = std::move(write.display_name);
    group.external_id = write.external_id && !write.external_id->empty()
                            ? std::move(write.external_id)
                            : std::nullopt;
    group.kind = write.kind;
    if (auto e = validate_new_members(*tx, tenant, group.id, write.members)) {
      return *e;
    }
    const Timestamp now = ports_.clock.now();
    group.version = 1;
    group.created = now;
    group.last_modified = now;
    if (auto e = intercept(ports_, *tx, who,
                           {.resource_type = ResourceType::group,
                            .kind = ChangeKind::created,
                            .tenant = tenant,
                            .group = &group,
                            .members_added = write.members})) {
      return *e;
    }
    tx->insert_group(group);
    auto attributes = diff_groups(nullptr, &group);
    for (const auto& member : write.members) {
      if (tx->add_member(tenant, group.id, member)) {
        attributes.push_back({"members", std::nullopt, member_text(member)});
      }
    }
    tx->append_change(make_record(who, tenant, ResourceType::group, group.id.str(),
                                  ChangeKind::created, group.version, now, std::move(attributes)));
    commit(ports_, *tx);
    return group;
  } catch (const StoreConstraintViolation& violation) {
    return from_constraint(violation);
  }
}

Result<Group> IdentityService::replace_group(const Principal& who, const TenantId& tenant,
                                             const GroupId& id, GroupWrite write,
                                             std::optional<ResourceVersion> if_match) {
  return modify_group(
      who, tenant, id,
      [&write](const Group&, const std::vector<MemberRef>&) -> std::optional<GroupWrite> {
        return std::move(write);
      },
      if_match);
}

Result<Group> IdentityService::modify_group(const Principal& who, const TenantId& tenant,
                                            const GroupId& id, const GroupChange& change,
                                            std::optional<ResourceVersion> if_match) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::write)) {
    return *e;
  }
  try {
    auto tx = ports_.store.write();
    auto existing = load_group_for_write(*tx, tenant, id, if_match);
    if (!existing) {
      return existing.error();
    }
    if (existing->system) {
      return system_group_error("it cannot be renamed or have its members replaced");
    }
    const auto current = all_stored_members(*tx, tenant, id);
    std::optional<GroupWrite> changed = change(*existing, current);
    if (!changed) {
      return make_error(ErrorCode::invalid_value, "the change was refused by the caller");
    }
    GroupWrite write = *std::move(changed);
    if (auto e = check_group_name(*tx, tenant, write.display_name, id)) {
      return *e;
    }
    Group group = *existing;
    group.display_name = std::move(write.display_name);
    group.external_id = write.external_id && !write.external_id->empty()
                            ? std::move(write.external_id)
                            : std::nullopt;
    group.kind = write.kind;

    const std::set<MemberRef> current_set(current.begin(), current.end());
    const std::set<MemberRef> wanted(write.members.begin(), write.members.end());
    std::vector<MemberRef> to_add;
    std::vector<MemberRef> to_remove;
    std::set_difference(wanted.begin(), wanted.end(), current_set.begin(), current_set.end(),
                        std::back_inserter(to_add));
    std::set_difference(current_set.begin(), current_set.end(), wanted.begin(), wanted.end(),
                        std::back_inserter(to_remove));
    if (auto e = validate_new_members(*tx, tenant, id, to_add)) {
      return *e;
    }
    if (auto e = intercept(ports_, *tx, who,
                           {.resource_type = ResourceType::group,
                            .kind = ChangeKind::updated,
                            .tenant = tenant,
                            .group = &*existing,
                            .members_added = to_add,
                            .members_removed = to_remove})) {
      return *e;
    }
    auto attributes = diff_groups(&*existing, &group);
    for (const auto& member : to_remove) {
      tx->remove_member(tenant, id, member);
      attributes.push_back({"members", member_text(member), std::nullopt});
    }
    for (const auto& member : to_add) {
      tx->add_member(tenant, id, member);
      attributes.push_back({"members", std::nullopt, member_text(member)});
    }
    if (attributes.empty()) {
      return *existing;
    }
    const Timestamp now = ports_.clock.now();
    group.version = existing->version + 1;
    group.last_modified = now;
    if (!tx->update_group(group, existing->version)) {
      return make_error(ErrorCode::version_mismatch, "the group changed concurrently");
    }
    tx->append_change(make_record(who, tenant, ResourceType::group, id.str(), ChangeKind::updated,
                                  group.version, now, std::move(attributes)));
    commit(ports_, *tx);
    return group;
  } catch (const StoreConstraintViolation& violation) {
    return from_constraint(violation);
  }
}

Result<Group> IdentityService::change_members(const Principal& who, const TenantId& tenant,
                                              const GroupId& id, const MembershipChange& change,
                                              std::optional<ResourceVersion> if_match) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::write)) {
    return *e;
  }
  auto tx = ports_.store.write();
  auto existing = load_group_for_write(*tx, tenant, id, if_match);
  if (!existing) {
    return existing.error();
  }
  if (auto e = validate_new_members(*tx, tenant, id, change.add)) {
    return *e;
  }
  if (existing->system) {
    // Every user already belongs to All Users, so adding a user is a no-op; anything else would
    // change a membership no one may change.
    if (!change.remove.empty()) {
      return system_group_error("no one can be removed from it");
    }
    for (const auto& member : change.add) {
      if (member.type == MemberType::group) {
        return system_group_error("its members are exactly the tenant's users");
      }
    }
    return *existing;
  }
  if (auto e = intercept(ports_, *tx, who,
                         {.resource_type = ResourceType::group,
                          .kind = ChangeKind::updated,
                          .tenant = tenant,
                          .group = &*existing,
                          .members_added = change.add,
                          .members_removed = change.remove})) {
    return *e;
  }
  std::vector<AttributeChange> attributes;
  for (const auto& member : change.remove) {
    if (tx->remove_member(tenant, id, member)) {
      attributes.push_back({"members", member_text(member), std::nullopt});
    }
  }
  for (const auto& member : change.add) {
    if (tx->add_member(tenant, id, member)) {
      attributes.push_back({"members", std::nullopt, member_text(member)});
    }
  }
  if (attributes.empty()) {
    return *existing;
  }
  const Timestamp now = ports_.clock.now();
  Group group = *existing;
  group.version = existing->version + 1;
  group.last_modified = now;
  if (!tx->update_group(group, existing->version)) {
    return make_error(ErrorCode::version_mismatch, "the group changed concurrently");
  }
  tx->append_change(make_record(who, tenant, ResourceType::group, id.str(), ChangeKind::updated,
                                group.version, now, std::move(attributes)));
  commit(ports_, *tx);
  return group;
}

Result<void> IdentityService::delete_group(const Principal& who, const TenantId& tenant,
                                           const GroupId& id,
                                           std::optional<ResourceVersion> if_match) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::write)) {
    return *e;
  }
  auto tx = ports_.store.write();
  auto existing = load_group_for_write(*tx, tenant, id, if_match);
  if (!existing) {
    return existing.error();
  }
  if (existing->system) {
    return system_group_error("it cannot be deleted");
  }
  const Timestamp now = ports_.clock.now();
  auto attributes = diff_groups(&*existing, nullptr);
  for (const auto& member : all_stored_members(*tx, tenant, id)) {
    attributes.push_back({"members", member_text(member), std::nullopt});
  }
  if (auto e = remove_from_parents(*tx, who, tenant, {MemberType::group, id.str()}, now)) {
    return *e;
  }
  if (auto e = intercept(ports_, *tx, who,
                         {.resource_type = ResourceType::group,
                          .kind = ChangeKind::deleted,
                          .tenant = tenant,
                          .group = &*existing})) {
    return *e;
  }
  tx->delete_group(tenant, id);
  tx->append_change(make_record(who, tenant, ResourceType::group, id.str(), ChangeKind::deleted,
                                existing->version + 1, now, std::move(attributes)));
  commit(ports_, *tx);
  return {};
}

Result<Page<MemberRef>> IdentityService::list_members(const Principal& who, const TenantId& tenant,
                                                      const GroupId& id, const PageRequest& page) {
  if (auto e = check_access(who, tenant, this->tenant(tenant), Access::read)) {
    return *e;
  }
  auto reader = ports_.store.read();
  auto group = reader->find_group(tenant, id);
  if (!group) {
    return not_found("group", id.str());
  }
  if (!group->system) {
    return reader->list_members(tenant, id, page);
  }
  auto users = reader->list_users(tenant, page);
  Page<MemberRef> members;
  members.total = users.total;
  for (const auto& user : users.items) {
    members.items.push_back({MemberType::user, user.id.str()});
  }
  return members;
}

TenantHealth IdentityService::health(const TenantId& tenant) {
  auto reader = ports_.store.read();
  TenantHealth health;
  health.tenant = tenant;
  health.users = reader->count_users(tenant);
  health.has_account_owner = reader->find_account_owner(tenant).has_value();
  return health;
}

}  // namespace idbridge::core
