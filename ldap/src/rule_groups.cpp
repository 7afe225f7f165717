// The groups the rules name, watched for membership changes: adding a user to a group changes
// only the user's memberOf, which the server maintains without reporting the user as changed
// (slapd 2.5's memberof overlay keeps the user's entryCSN and modifyTimestamp, so neither
// syncprov nor a modifyTimestamp filter sees it; AD keeps uSNChanged). The groups themselves do
// change, so every read with change detection reads their members and keeps a digest.
#include "idbridge/ldap/escape.hpp"
#include "idbridge/ldap/groups.hpp"
#include "reader_internal.hpp"

#include <algorithm>

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
  GroupGraph graph;
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
          if (groups.named(entry.dn)) {
            static const std::vector<std::string> none;
            const Attribute* members = entry.find("member");
            graph.add_group(entry.dn, members != nullptr ? members->values : none);
          }
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
  result.digest = graph.digest();
  return result;
}

}  // namespace idbridge::ldap::reading
