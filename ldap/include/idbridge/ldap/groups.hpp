// Nested group membership resolved on the client: the groups read under the group base DNs, with
// their `member` values, form a graph; a user's groups are the groups that list it (and its
// memberOf values) plus every group those are members of, transitively. Works the same on
// OpenLDAP and Active Directory (where LDAP_MATCHING_RULE_IN_CHAIN would ask the server, one query
// per user, and slapd cannot emulate it). Cycles end: every group is visited once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace idbridge::ldap {

// A DN compared the way the mapper compares rule groups: ASCII lower case, no spaces after commas.
std::string normalise_dn(std::string_view dn);

// The digest of one group's membership, as GroupGraph keeps it: FNV-1a 64 over the group's
// normalised DN and its members' normalised DNs, which must be sorted and each once.
std::uint64_t membership_digest(std::string_view normalised_dn,
                                const std::vector<std::string>& sorted_normalised_members);

// The digest of a set of groups from their membership digests, in any order (GroupGraph::digest).
std::uint64_t combined_digest(std::vector<std::uint64_t> digests);

class GroupGraph {
 public:
  // Adds a group as read: its DN and the DNs of its members (users and groups alike). A group
  // read twice (overlapping bases) counts once.
  void add_group(std::string_view dn, const std::vector<std::string>& members);

  // Computes, for every group, the groups it is nested in. Call once, after the last add_group
  // and before groups_of.
  void finish();

  // Every group `member_dn` belongs to: those listing it as a member, those named in
  // `direct_groups` (memberOf values, which may lie outside the group bases and are kept as they
  // are), and every group any of them is nested in. DNs as the directory spelled them, sorted by
  // normalised DN, each once.
  std::vector<std::string> groups_of(std::string_view member_dn,
                                     const std::vector<std::string>& direct_groups) const;

  // The groups `group_dn` is nested in (directly or not), itself excluded.
  std::vector<std::string> ancestors_of(std::string_view group_dn) const;

  // A digest of every group and its members, independent of read order: two reads with the same
  // digest saw the same memberships (FNV-1a 64 over sorted, normalised DNs).
  std::uint64_t digest() const;

  std::size_t group_count() const { return groups_.size(); }
  std::size_t membership_count() const { return memberships_; }

 private:
  struct Group {
    std::string dn;            // as read
    std::uint64_t digest = 0;  // of its normalised DN and sorted normalised members
  };
  std::vector<Group> groups_;
  std::unordered_map<std::string, std::uint32_t> group_by_dn_;  // normalised DN -> index
  // Normalised member DN -> the groups listing it. Members are interned once, however many
  // groups list them (100k users and 270k memberships stay in tens of MB).
  std::unordered_map<std::string, std::vector<std::uint32_t>> groups_by_member_;
  std::vector<std::vector<std::uint32_t>> closure_;  // group -> itself and its ancestors, sorted
  std::size_t memberships_ = 0;
};

}  // namespace idbridge::ldap
