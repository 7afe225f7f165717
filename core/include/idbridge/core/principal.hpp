// Who acts on the tenant model (a SCIM credential, a sync run, the CLI) and with which limits.
#pragma once

#include "idbridge/core/ids.hpp"
#include "idbridge/core/model.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace idbridge::core {

enum class ActorKind { credential, sync_run, cli, system };
std::string_view to_string(ActorKind kind);
std::optional<ActorKind> parse_actor_kind(std::string_view text);

// Recorded on every change; `id` names the credential, the sync run or the OS user.
struct Actor {
  ActorKind kind = ActorKind::system;
  std::string id;
  friend bool operator==(const Actor&, const Actor&) = default;
};

// Where a change came from. Write-back skips changes whose origin is the directory itself, so
// the source string names it ("scim", "ldap:corp-ad", "cli", "system").
enum class OriginKind { scim, directory_sync, cli, system };
std::string_view to_string(OriginKind kind);
std::optional<OriginKind> parse_origin_kind(std::string_view text);

struct Origin {
  OriginKind kind = OriginKind::system;
  std::string source;  // directory name for directory_sync, otherwise ""
  friend bool operator==(const Origin&, const Origin&) = default;
};

struct Principal {
  Actor actor;
  Origin origin;
  // The highest role this principal may create or assign (DOMAIN.md: role ceilings). Only a
  // principal whose ceiling is account_owner may change the role of an existing user.
  Role ceiling = Role::standard_user;
  // nullopt: provider-scoped, may act on every tenant. Otherwise the one tenant it may touch.
  std::optional<TenantId> tenant_scope;
  bool read_only = false;

  bool may_access(const TenantId& tenant) const {
    return !tenant_scope.has_value() || *tenant_scope == tenant;
  }
};

// A principal with every right, for bootstrapping tenants and for tests.
Principal system_principal();

}  // namespace idbridge::core
