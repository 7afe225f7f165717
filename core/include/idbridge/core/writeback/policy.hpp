// Write-back policy of one directory: who owns each synced attribute (the directory, SCIM
// clients or the tenant), which kinds of change are written back to the directory, and how a
// tenant user becomes a directory entry. Plain values built from the config; the decisions that
// use them are in interceptor.hpp (SCIM side) and delivery.hpp (directory side).
#pragma once

#include "idbridge/core/model.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idbridge::core::writeback {

// The owner of an attribute wins every conflict over it.
// - directory: sync sets it; a SCIM write is refused (400 mutability) unless the directory
//   accepts SCIM writes of it, in which case the write is accepted and written back.
// - scim: SCIM clients set it and the write is written back; sync fills it on create only, and
//   a directory edit of it is a conflict the SCIM value wins (it is written back again).
// - tenant: the tenant's own data; sync never sets it after create and write-back never writes it.
enum class Authority { directory, scim, tenant };
std::string_view to_string(Authority authority);  // "directory", "scim", "tenant"
std::optional<Authority> parse_authority(std::string_view text);

// The kinds of directory write a directory accepts. All off: read-only (the default).
struct Operations {
  bool create = false;    // add an entry for a user created through SCIM
  bool modify = false;    // replace attribute values
  bool rename = false;    // modRDN when the naming attribute's value changes
  bool disable = false;   // active=false/true through DisableMethod
  bool remove = false;    // delete the entry (or move it, see Policy::move_deleted_to)
  bool groups = false;    // add/remove members of directory groups bound to tenant groups
  bool password = false;  // set the password (RFC 3062 Password Modify, AD unicodePwd)
  bool any() const { return create || modify || rename || disable || remove || groups || password; }
  friend bool operator==(const Operations&, const Operations&) = default;
};

struct DisableMethod {
  enum class Kind {
    none,
    user_account_control,  // AD: bit 0x2 (ACCOUNTDISABLE) of userAccountControl
    ppolicy_lock,          // OpenLDAP ppolicy: pwdAccountLockedTime 000001010000Z (permanent)
    attribute,             // a configured attribute set to disabled_value / enabled_value
  };
  Kind kind = Kind::none;
  std::string attribute;
  std::string disabled_value;
  std::string enabled_value;  // "" removes the attribute on enable
  friend bool operator==(const DisableMethod&, const DisableMethod&) = default;
};

// A tenant attribute the sync maps from the directory, with its owner. Only a mapping from
// exactly one directory attribute ("{title}") can be written back; `attribute` is "" for a
// template of several ("{givenName} {sn}"), which the config refuses to give to SCIM.
struct AttributeBinding {
  std::string target;     // mapping target: "title", "name.givenName", "emails.primary", "active"
  std::string attribute;  // the directory attribute, "" when not a single-attribute mapping
  Authority owner = Authority::directory;
  bool accept_scim_writes =
      false;  // directory-owned, but SCIM writes are accepted and written back
  friend bool operator==(const AttributeBinding&, const AttributeBinding&) = default;
};

// A tenant group bound to one directory group (from a group rule naming the group by DN).
struct GroupBinding {
  std::string tenant_group;  // displayName
  std::string directory_dn;
  friend bool operator==(const GroupBinding&, const GroupBinding&) = default;
};

struct Policy {
  std::string directory;
  TenantId tenant;
  Operations operations;
  std::vector<AttributeBinding> attributes;  // one per mapped target
  // The role and the rule-managed profiles come from directory group rules: directory-owned
  // whenever such rules exist.
  bool role_from_directory = false;
  // Tenant groups that group rules fill: their membership of linked users is directory-owned
  // unless `groups` write-back binds them (then SCIM changes are written back).
  std::vector<std::string> rule_managed_groups;
  std::vector<GroupBinding> group_bindings;
  // Create: the new entry's DN, e.g. "uid={userName},ou=people,dc=example,dc=com". The {target}
  // values are escaped for the DN (RFC 4514) by the delivery, never pasted in raw.
  std::string user_dn_template;
  std::vector<std::string> object_classes;
  // Extra attributes of a new entry: directory attribute -> template over tenant targets
  // ("{name.familyName}") or a constant; a value that expands to "" is left out.
  std::vector<std::pair<std::string, std::string>> create_attributes;
  DisableMethod disable;
  std::string move_deleted_to;  // "" : delete the entry; else the parent DN it is moved under
  int max_attempts = 8;         // delivery attempts of one write before it is parked
  friend bool operator==(const Policy&, const Policy&) = default;

  const AttributeBinding* binding(std::string_view target) const;
  AttributeBinding* binding(std::string_view target);
  const GroupBinding* group_binding(std::string_view tenant_group) const;
};

// The tenant user's value of a mapping target as text ("" when absent), the inverse of the
// mapping's assignment: what write-back sends for that target. "active" is "true"/"false".
std::string target_value(const User& user, std::string_view target);

}  // namespace idbridge::core::writeback
