// Private to idbridge_ldap: what the directory reader (reader.cpp) and the persistent sync
// (persist.cpp) share.
#pragma once

#include "idbridge/ldap/reader.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::ldap::reading {

bool is_binary_anchor(std::string_view attribute);
// An entry as the mapper sees it: anchor (hex when binary), attributes, memberOf as groups.
core::sync::DirectoryEntry to_directory_entry(const Entry& entry, const std::string& anchor,
                                              bool binary_anchor);
// The same, taking the entry's strings instead of copying them.
core::sync::DirectoryEntry to_directory_entry(Entry&& entry, const std::string& anchor,
                                              bool binary_anchor);
// What a users search asks for: the rules' attributes, the anchor, memberOf (and
// modifyTimestamp for that profile).
std::vector<std::string> user_attributes(const ReadSettings& settings);
// Settings no read can work with (no users base; content sync without entryUUID anchors).
std::optional<std::string> settings_problem(const ReadSettings& settings);
extern const SleepFunction real_sleep;

// The groups ReadSettings::rule_groups names (rule_groups.cpp).
class RuleGroups {
 public:
  explicit RuleGroups(const ReadSettings& settings);
  bool empty() const { return filter_.empty(); }
  // group_filter narrowed to the named cns and first RDNs: a superset of the named groups.
  const std::string& filter() const { return filter_; }
  // Whether the group `dn` is one the rules name (by DN, or by its first RDN value for a cn).
  bool named(std::string_view dn) const;

 private:
  std::vector<std::string> dns_;    // normalised
  std::vector<std::string> names_;  // folded
  std::string filter_;
};

// Where the named groups are searched: the root DSE's defaultNamingContext (AD), else its
// namingContexts.
Result<std::vector<std::string>> naming_contexts(Connection& connection);

struct RuleGroupRead {
  std::optional<std::string> problem;  // the read is incomplete
  bool connection_dead = false;
  std::uint64_t digest = 0;  // of the named groups and their members; 0 when none is named
  // Each named group found, by normalised DN, with its members as read (sorted by normalised DN,
  // each once) and its membership_digest.
  std::vector<core::sync::RuleGroupMembers> groups;
};
RuleGroupRead read_rule_groups(Connection& connection, const ReadSettings& settings);

// Who joined or left the groups the rules name: the member DNs (as read, each once) in which
// the groups `now` differ from those stored with the cursor (ReadSettings::stored_rule_groups),
// or why that cannot be told (nothing stored, stored lists whose digest is not the cursor's
// `cursor_digest` or not their own, more than max_moved_members): the read must then be full.
struct MovedMembers {
  std::vector<std::string> dns;
  std::optional<std::string> full_read_reason;
};
MovedMembers members_moved_since(const ReadSettings& settings, std::uint64_t cursor_digest,
                                 const std::vector<core::sync::RuleGroupMembers>& now);

// Whether `dn` is `base` or under it (both normalised with normalise_dn).
bool is_under(std::string_view normalised_dn, std::string_view normalised_base);
std::string cannot_connect(const ReadSettings& settings, const Error& error);

}  // namespace idbridge::ldap::reading
