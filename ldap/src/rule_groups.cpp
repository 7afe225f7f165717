// The groups the rules name, watched for membership changes: adding a user to a group changes
// only the user's memberOf, which the server maintains without reporting the user as changed
// (slapd 2.5's memberof overlay keeps the user's entryCSN and modifyTimestamp, so neither
// syncprov nor a modifyTimestamp filter sees it; AD keeps uSNChanged). The groups themselves do
// change, so every read with change detection reads their members and keeps a digest.
#include "idbridge/ldap/escape.hpp"
#include "idbridge/ldap/groups.hpp"
#include "reader_internal.hpp"

#include <algorithm>
#include <map>
#include <unordered_set>

namespace idbridge::ldap::reading {
namespace {

// "cn=Sales,ou=groups,..." -> {"cn", "Sales"}; nullopt for a multi-valued or escaped RDN (the
// filter then matches every group, and the DN comparison narrows it).
std::optional<std::pair<std::string, std::string>> simple_first_rdn(std::string_view dn) {
  const auto equals = dn.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return std::nullopt;
  }
  const auto end = std::min(dn.find(','), dn.size());
  const auto value = dn.substr(equals + 1, end - equals - 1);
  if (value.empty() || value.find_first_of("\\+") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{std::string(dn.substr(0, equals)), std::string(value)};
}

std::string fold(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

// The first RDN value, folded, as core::sync compares a rule's cn with a group DN.
std::string first_rdn_value(std::string_view dn) {
  const auto equals = dn.find('=');
  if (equals == std::string_view::npos) {
    return fold(dn);
  }
  std::size_t end = equals + 1;
  while (end < dn.size() && dn[end] != ',') {
    end += dn[end] == '\\' ? 2 : 1;
  }
  return fold(dn.substr(equals + 1, std::min(end, dn.size()) - equals - 1));
}

// A named group as read: members sorted by normalised DN, each once, and their digest.
core::sync::RuleGroupMembers members_of(std::string normalised_dn,
                                        const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, const std::string*>> keyed;
  keyed.reserve(values.size());
  for (const auto& value : values) {
    keyed.emplace_back(normalise_dn(value), &value);
  }
  std::sort(keyed.begin(), keyed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  keyed.erase(std::unique(keyed.begin(), keyed.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              keyed.end());
  core::sync::RuleGroupMembers group;
  group.members.reserve(keyed.size());
  std::vector<std::string> normalised;
  normalised.reserve(keyed.size());
  for (auto& [key, value] : keyed) {
    group.members.push_back(*value);
    normalised.push_back(std::move(key));
  }
  group.digest = membership_digest(normalised_dn, normalised);
  group.group = std::move(normalised_dn);
  return group;
}

// `group` with its digest computed again from its members (what was stored may be damaged).
core::sync::RuleGroupMembers checked(const core::sync::RuleGroupMembers& group) {
  return members_of(group.group, group.members);
}

}  // namespace

RuleGroups::RuleGroups(const ReadSettings& settings) {
  std::string alternatives;
  bool every_group = false;
  for (const auto& group : settings.rule_groups) {
    if (group.find('=') != std::string::npos) {
      dns_.push_back(normalise_dn(group));
      if (const auto rdn = simple_first_rdn(group)) {
        alternatives += "(" + rdn->first + "=" + escape_filter_value(rdn->second) + ")";
      } else {
        every_group = true;
      }
    } else {
      names_.push_back(fold(group));
      alternatives += "(cn=" + escape_filter_value(group) + ")";
    }
  }
  if (dns_.empty() && names_.empty()) {
    return;
  }
  filter_ = every_group ? settings.group_filter
                        : "(&" + settings.group_filter + "(|" + alternatives + "))";
}

bool RuleGroups::named(std::string_view dn) const {
  return std::find(dns_.begin(), dns_.end(), normalise_dn(dn)) != dns_.end() ||
         std::find(names_.begin(), names_.end(), first_rdn_value(dn)) != names_.end();
}

Result<std::vector<std::string>> naming_contexts(Connection& connection) {
  auto root = connection.read("", {"namingContexts", "defaultNamingContext"});
  if (!root) {
    return root.error();
  }
  // AD lists its configuration, schema and DNS partitions too; its groups are in the domain.
  if (const auto* domain = root->first_value("defaultNamingContext")) {
    return std::vector<std::string>{*domain};
  }
  const Attribute* contexts = root->find("namingContexts");
  if (contexts == nullptr || contexts->values.empty()) {
    return Error{ErrorCode::operation_failed, "the root DSE lists no namingContexts", 0};
  }
  return contexts->values;
}

RuleGroupRead read_rule_groups(Connection& connection, const ReadSettings& settings) {
  RuleGroupRead result;
  const RuleGroups groups(settings);
  if (groups.empty()) {
    return result;
  }
  auto bases = naming_contexts(connection);
  if (!bases) {
    result.problem =
        "cannot find the groups the rules name: " + std::string(to_string(bases.error().code)) +
        ": " + bases.error().message;
    return result;
  }
  // Normalised DNs of the groups kept (two naming contexts may both hold a group).
  std::unordered_set<std::string> found;
  for (const auto& base : *bases) {
    SearchRequest request;
    request.base_dn = base;
    request.filter = groups.filter();
    request.attributes = {"member"};
    request.page_size = settings.page_size;
    // AD domain roots refer to their DNS and configuration partitions, which hold no users.
    request.referrals = ReferralPolicy::count_and_ignore;
    SearchOutcome outcome;
    try {
      outcome = connection.search(request, [&](const std::vector<Entry>& page) {
        for (const Entry& entry : page) {
          if (!groups.named(entry.dn)) {
            continue;
          }
          auto key = normalise_dn(entry.dn);
          if (found.count(key) != 0) {
            continue;
          }
          found.insert(key);
          static const std::vector<std::string> none;
          const Attribute* members = entry.find("member");
          result.groups.push_back(members_of(std::move(key), members ? members->values : none));
        }
      });
    } catch (const std::exception& e) {
      result.problem = "reading the groups the rules name under " + base + " failed: " + e.what();
      result.connection_dead = true;
      return result;
    }
    if (!outcome.complete()) {
      result.problem = std::string(to_string(outcome.completeness)) + " on " + base +
                       " (the groups the rules name)" +
                       (outcome.detail.empty() ? "" : ": " + outcome.detail);
      result.connection_dead = outcome.completeness == Completeness::connection_lost ||
                               outcome.completeness == Completeness::timeout;
      return result;
    }
  }
  std::sort(result.groups.begin(), result.groups.end(),
            [](const auto& a, const auto& b) { return a.group < b.group; });
  std::vector<std::uint64_t> digests;
  digests.reserve(result.groups.size());
  for (const auto& group : result.groups) {
    digests.push_back(group.digest);
  }
  // The same value as a GroupGraph of these groups, so cursors of earlier versions still match.
  result.digest = combined_digest(std::move(digests));
  return result;
}

MovedMembers members_moved_since(const ReadSettings& settings, std::uint64_t cursor_digest,
                                 const std::vector<core::sync::RuleGroupMembers>& now) {
  constexpr const char* changed = "groups the rules name changed since the cursor";
  MovedMembers result;
  const auto& stored = settings.stored_rule_groups;
  if (!stored.digests || !stored.find) {
    result.full_read_reason = std::string(changed) + ", and their earlier members are not known";
    return result;
  }
  auto before = stored.digests();
  std::sort(before.begin(), before.end(),
            [](const auto& a, const auto& b) { return a.group < b.group; });
  std::vector<std::uint64_t> digests;
  for (const auto& group : before) {
    digests.push_back(group.digest);
  }
  if (combined_digest(std::move(digests)) != cursor_digest) {
    result.full_read_reason =
        std::string(changed) +
        ", and the member lists stored with it do not match it (none stored yet: the first run "
        "since an upgrade, or a run that stored its cursor without them)";
    return result;
  }
  // Normalised DN -> as read; ordered, so the DNs read come out in a stable order.
  std::map<std::string, std::string> moved;
  const auto difference = [&](const std::vector<std::string>& old_members,
                              const std::vector<std::string>& new_members) {
    std::vector<std::pair<std::string, const std::string*>> old_keys;
    std::vector<std::pair<std::string, const std::string*>> new_keys;
    for (const auto& member : old_members) {
      old_keys.emplace_back(normalise_dn(member), &member);
    }
    for (const auto& member : new_members) {
      new_keys.emplace_back(normalise_dn(member), &member);
    }
    std::sort(old_keys.begin(), old_keys.end());
    std::sort(new_keys.begin(), new_keys.end());
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < old_keys.size() || j < new_keys.size()) {
      if (j == new_keys.size() || (i < old_keys.size() && old_keys[i].first < new_keys[j].first)) {
        moved.emplace(old_keys[i].first, *old_keys[i].second);  // left
        ++i;
      } else if (i == old_keys.size() || new_keys[j].first < old_keys[i].first) {
        moved.emplace(new_keys[j].first, *new_keys[j].second);  // joined
        ++j;
      } else {
        ++i;
        ++j;
      }
    }
  };
  static const std::vector<std::string> none;
  std::size_t b = 0;
  std::size_t n = 0;
  while (b < before.size() || n < now.size()) {
    const bool take_before =
        n == now.size() || (b < before.size() && before[b].group <= now[n].group);
    const bool take_now = b == before.size() || (n < now.size() && now[n].group <= before[b].group);
    const auto* was = take_before ? &before[b] : nullptr;
    const auto* is = take_now ? &now[n] : nullptr;
    b += take_before ? 1 : 0;
    n += take_now ? 1 : 0;
    if (was != nullptr && is != nullptr && was->digest == is->digest) {
      continue;
    }
    std::optional<core::sync::RuleGroupMembers> old_group;
    if (was != nullptr) {
      old_group = stored.find(was->group);
      if (!old_group || checked(*old_group).digest != was->digest) {
        result.full_read_reason = std::string(changed) + ", and the member list stored for " +
                                  was->group + " does not match its digest";
        return result;
      }
    }
    difference(old_group ? old_group->members : none, is != nullptr ? is->members : none);
    if (moved.size() > settings.max_moved_members) {
      result.full_read_reason = std::string(changed) + ": more than " +
                                std::to_string(settings.max_moved_members) +
                                " members joined or left them, reading everything costs less";
      return result;
    }
  }
  result.dns.reserve(moved.size());
  for (auto& [key, dn] : moved) {
    result.dns.push_back(std::move(dn));
  }
  return result;
}

bool is_under(std::string_view normalised_dn, std::string_view normalised_base) {
  if (normalised_base.empty()) {
    return true;  // the root: every DN
  }
  if (normalised_dn.size() < normalised_base.size() ||
      normalised_dn.substr(normalised_dn.size() - normalised_base.size()) != normalised_base) {
    return false;
  }
  return normalised_dn.size() == normalised_base.size() ||
         normalised_dn[normalised_dn.size() - normalised_base.size() - 1] == ',';
}

}  // namespace idbridge::ldap::reading
