// Directory entries as read (protocol-neutral) and the config rules that map them onto a
// tenant's users: attribute templates, the one role by precedence, profiles, tenant groups and the
// disabled state. Pure: ldap/ reads entries, this decides what they mean.
#pragma once

#include "idbridge/core/model.hpp"
#include "idbridge/core/sync/state.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::core::sync {

// One directory object. Attribute names are matched case-insensitively; values are raw strings
// (binary values such as objectGUID arrive already hex-encoded in `anchor`).
struct DirectoryEntry {
  std::string anchor;  // entryUUID (OpenLDAP) or objectGUID as hex (AD): stable across renames
  std::string dn;
  std::map<std::string, std::vector<std::string>> attributes;
  // Groups the entry belongs to, by DN (nested ones included when the reader resolved them).
  std::vector<std::string> groups;
};

// Whether a read saw everything. Only a complete read may lead to disables and deletes.
struct Completeness {
  bool complete = false;
  std::string reason;  // why not, e.g. "size limit exceeded on ou=people (page 7)"
};

// A full read holds every user entry. An incremental read holds the entries changed since the
// stored cursor, the anchors the directory reported deleted and, when the directory answered
// with the set of every present object instead (RFC 4533 present phase), that set: linked users
// not in it are gone. Linked users an incremental read does not mention are left alone.
struct Snapshot {
  enum class Kind { full, incremental };
  std::string directory;  // the directory's name in the config
  Kind kind = Kind::full;
  std::vector<DirectoryEntry> users;
  std::vector<DirectoryEntry> groups;
  std::vector<std::string> deleted_anchors;                 // incremental only
  std::optional<std::vector<std::string>> present_anchors;  // incremental only, sorted
  // The position after this read (RFC 4533 cookie; AD invocationId and highest uSNChanged), to
  // be stored once the plan made from it is applied. "" when the directory offers none.
  std::string cursor;
  Completeness completeness;
  // The groups the rules name with their members, as this read saw them: stored with `cursor`
  // (never without it), so that the next incremental read can work out who joined and who left
  // them. Null when the read did not read them (no change detection, a persist batch, whose
  // cursor keeps the digest of what is stored): the stored ones stay. Shared: a snapshot is
  // copied (persist batches), and an "all staff" group has every user as a member.
  std::shared_ptr<const std::vector<RuleGroupMembers>> rule_groups = {};
};

// `target` is a tenant-model attribute path (see mapping_targets()); `value` a template such as
// "{givenName} {sn}" whose {attr} are replaced by the entry's first value of attr.
struct AttributeMapping {
  std::string target;
  std::string value;
};

// Directory group (DN or cn, case-insensitive) -> something in the tenant.
struct RoleRule {
  std::string group;
  Role role = Role::standard_user;
  int precedence = 0;  // higher wins; equal precedence with different roles is a reported tie
};
struct ProfileRule {
  std::string group;
  std::string profile;
};
struct GroupRule {
  std::string group;
  std::string tenant_group;  // displayName of the tenant group
  GroupKind kind = GroupKind::access;
};

struct DisabledRule {
  enum class Kind { none, ad_account_disabled, attribute_equals, attribute_present };
  Kind kind = Kind::none;
  std::string attribute;  // attribute_equals / attribute_present
  std::string value;      // attribute_equals
};

struct MappingRules {
  std::vector<AttributeMapping> attributes;  // must map userName
  Role default_role = Role::standard_user;
  std::vector<RoleRule> roles;
  std::vector<ProfileRule> profiles;
  std::vector<GroupRule> groups;
  DisabledRule disabled;
  // Mapped targets another side owns (write-back authority scim or tenant, and "active"): taken
  // from the directory when a user is created, never updated from it afterwards.
  std::vector<std::string> set_on_create_only = {};
  // SCIM-owned targets that write-back can modify in the directory: when a linked entry holds
  // another value than the tenant, the tenant's value is written back (the owner wins) and the
  // directory's recorded as a conflict, instead of being ignored for ever.
  std::vector<std::string> corrected_in_directory = {};
};

// The attribute paths a mapping may target.
const std::vector<std::string>& mapping_targets();

// What the directory says one user should be. `role` is nullopt when the rules could not decide
// (a tie): the planner then leaves the current role alone.
struct DesiredUser {
  std::string anchor;
  std::string dn;
  User user;  // the mapped attributes; id, tenant, version unset
  std::optional<Role> role;
  std::vector<std::string> profiles;       // from profile rules, sorted
  std::vector<std::string> tenant_groups;  // from group rules, sorted
  // mapped_digest() of all the above with the rules' fingerprint, set by the mapper: stored with
  // the link, it lets an unchanged user be left alone without reading it (DirectoryLink).
  std::string digest = {};
};

struct Diagnostic {
  std::string anchor;  // "" for a diagnostic about the whole run
  std::string dn;
  std::string message;
};

struct MappingResult {
  // Sorted by anchor. A deque: plan(MappingResult&&) frees each user as it plans it.
  std::deque<DesiredUser> users;
  std::vector<Diagnostic> problems;  // entries skipped or decisions not taken, never guessed
  // Sorted: entries mapped and found settled as they were read (UserMapper::leave_out_settled),
  // not kept in `users`. Their linked users need no operation and are not read from the store.
  std::vector<std::string> settled_anchors = {};
};

// Applies the rules to every user entry. An entry without a userName value is skipped and
// reported. Account Owner is given only when exactly one user matches its rule; otherwise no one
// gets it from that rule (they fall back to their next rule) and it is reported.
MappingResult map_users(const Snapshot& snapshot, const MappingRules& rules);

// Maps entries one at a time, as a reader delivers them, so that a sync keeps the mapped users
// and never every entry's attributes at once (memory that grows with the directory). finish()
// gives exactly what map_users gives for the same entries in the same order.
class UserMapper {
 public:
  explicit UserMapper(const MappingRules& rules);  // `rules` must outlive the mapper
  ~UserMapper();
  UserMapper(UserMapper&&) noexcept;
  UserMapper& operator=(UserMapper&&) noexcept;

  void add(const DirectoryEntry& entry);
  MappingResult finish() &&;

  // From now on, a mapped user `settled` accepts (asked with its digest set) is not kept: only its
  // anchor (MappingResult::settled_anchors) and what finish() needs to find userNames mapped
  // twice. An unchanged re-sync of 100,000 users so never holds 100,000 mapped users. Ignored
  // with an Account Owner rule, which settles roles only once every entry is mapped.
  void leave_out_settled(std::function<bool(const DesiredUser&)> settled);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A fingerprint of everything in the rules that decides a plan (templates, role, profile, group
// and disabled rules, set-on-create-only targets), with the version of the planner's logic: a
// change of either makes every stored digest differ, so every user is compared again.
std::string rules_fingerprint(const MappingRules& rules);

// A digest of what the mapping made of one entry (every mapped attribute, active, role, profiles,
// tenant groups) and `fingerprint` (rules_fingerprint): 32 hex digits, the same for the same
// inputs on every run and build.
std::string mapped_digest(const DesiredUser& desired, std::string_view fingerprint);

// The SHA-1 behind the mapping digests: `digest` (20 bytes) of `size` bytes at `data`. Core
// computes it with Boost's portable SHA-1, which was a sixth of the mapping thread's time in a
// 100,000-user re-sync; a process may install an implementation of the very same function that
// uses the CPU's SHA instructions (crypto::sha1, OpenSSL). Install it before any sync runs:
// the digests do not change, only their speed.
using Sha1Function = void (*)(const void* data, std::size_t size, unsigned char* digest);
void use_sha1(Sha1Function sha1);

// Once the users are mapped, the planner needs only which anchors were read (presence) and how
// many: this frees every entry's DN, attributes and groups (about 150 MB at 100,000 users) before
// the tenant's view is loaded next to the mapped users.
void keep_anchors_only(Snapshot& snapshot);

// "{givenName} {sn}" with the entry's values; missing attributes expand to "" and the result is
// trimmed with inner runs of spaces collapsed. "{{" and "}}" are literal braces.
std::string expand_template(const std::string& text, const DirectoryEntry& entry);

// The attribute names the rules read from an entry: every {attr} of every template and the
// disabled rule's attribute (userAccountControl for ad_account_disabled), in first-seen order
// without case-insensitive repeats. The reader asks the directory for these only.
std::vector<std::string> attributes_read_by(const MappingRules& rules);

// The directory groups the role, profile and group rules name (a DN or a cn, as written), each
// once (compared as the rules compare them). A change of their members changes users whose entries
// may not show it (memberOf is maintained by the server), so the reader watches them.
std::vector<std::string> groups_named_by(const MappingRules& rules);

}  // namespace idbridge::core::sync
