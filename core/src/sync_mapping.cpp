// Mapping of directory entries onto desired tenant users (sync/mapping.hpp).
#include "idbridge/core/rules.hpp"
#include "idbridge/core/sync/mapping.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

namespace idbridge::core::sync {
namespace {

// ASCII case-insensitive equality, as fold_case compares, without building folded copies (this
// runs for every template attribute of every entry).
bool same_ignoring_case(std::string_view a, std::string_view b) {
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

const std::vector<std::string>* find_values(const DirectoryEntry& entry, std::string_view name) {
  for (const auto& [attribute, values] : entry.attributes) {
    if (same_ignoring_case(attribute, name)) {
      return &values;
    }
  }
  return nullptr;
}

std::string first_value(const DirectoryEntry& entry, std::string_view name) {
  const auto* values = find_values(entry, name);
  return values != nullptr && !values->empty() ? values->front() : std::string();
}

// "cn=Sales Team,ou=groups,dc=example,dc=com" -> "sales team"
std::string first_rdn_value(std::string_view dn) {
  const auto eq = dn.find('=');
  if (eq == std::string_view::npos) {
    return fold_case(dn);
  }
  std::size_t end = eq + 1;
  while (end < dn.size() && dn[end] != ',') {
    end += dn[end] == '\\' ? 2 : 1;
  }
  return fold_case(dn.substr(eq + 1, std::min(end, dn.size()) - eq - 1));
}

std::string normalise_dn(std::string_view dn) {
  std::string out;
  bool after_comma = false;
  for (const char c : dn) {
    if (after_comma && c == ' ') {
      continue;
    }
    after_comma = c == ',';
    out += c;
  }
  return fold_case(out);
}

// An entry's groups in the two forms rules compare with (normalised DN, folded first RDN value),
// worked out once per entry instead of once per rule and value.
struct EntryGroups {
  explicit EntryGroups(const DirectoryEntry& entry) {
    dns.reserve(entry.groups.size());
    names.reserve(entry.groups.size());
    for (const auto& dn : entry.groups) {
      dns.push_back(normalise_dn(dn));
      names.push_back(first_rdn_value(dn));
    }
  }
  std::vector<std::string> dns;
  std::vector<std::string> names;
};

// A rule's group names a DN (contains '=', compared normalised) or a group's cn (compared with
// the first RDN value of each memberOf DN).
struct RuleGroup {
  explicit RuleGroup(const std::string& group)
      : by_dn(group.find('=') != std::string::npos),
        key(by_dn ? normalise_dn(group) : fold_case(group)) {}
  bool matches(const EntryGroups& groups) const {
    const auto& list = by_dn ? groups.dns : groups.names;
    return std::find(list.begin(), list.end(), key) != list.end();
  }
  bool by_dn;
  std::string key;
};

void set_contact(std::vector<ContactValue>& list, bool primary, std::string type,
                 const std::string& value) {
  if (value.empty()) {
    return;
  }
  list.push_back({value, std::move(type), primary});
}

void assign(User& user, const std::string& target, const std::string& value) {
  if (target == "userName") {
    user.user_name = value;
  } else if (target == "externalId") {
    user.external_id = value.empty() ? std::nullopt : std::optional<std::string>(value);
  } else if (target == "displayName") {
    user.display_name = value;
  } else if (target == "name.givenName") {
    user.name.given_name = value;
  } else if (target == "name.familyName") {
    user.name.family_name = value;
  } else if (target == "name.middleName") {
    user.name.middle_name = value;
  } else if (target == "name.formatted") {
    user.name.formatted = value;
  } else if (target == "nickName") {
    user.nick_name = value;
  } else if (target == "title") {
    user.title = value;
  } else if (target == "userType") {
    user.user_type = value;
  } else if (target == "preferredLanguage") {
    user.preferred_language = value;
  } else if (target == "locale") {
    user.locale = value;
  } else if (target == "timezone") {
    user.timezone = value;
  } else if (target == "emails.primary") {
    set_contact(user.emails, true, "work", value);
  } else if (target == "emails.backup") {
    set_contact(user.emails, false, "other", value);
  } else if (target == "phoneNumbers.work") {
    set_contact(user.phone_numbers, user.phone_numbers.empty(), "work", value);
  } else if (target == "phoneNumbers.mobile") {
    set_contact(user.phone_numbers, user.phone_numbers.empty(), "mobile", value);
  } else if (target == "enterprise.employeeNumber") {
    user.enterprise.employee_number = value;
  } else if (target == "enterprise.costCenter") {
    user.enterprise.cost_center = value;
  } else if (target == "enterprise.organization") {
    user.enterprise.organization = value;
  } else if (target == "enterprise.division") {
    user.enterprise.division = value;
  } else if (target == "enterprise.department") {
    user.enterprise.department = value;
  }
}

bool is_disabled(const DirectoryEntry& entry, const DisabledRule& rule) {
  switch (rule.kind) {
    case DisabledRule::Kind::none: return false;
    case DisabledRule::Kind::ad_account_disabled: {
      // userAccountControl bit 0x2 is ACCOUNTDISABLE.
      const std::string text = first_value(entry, "userAccountControl");
      long long flags = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), flags);
      return ec == std::errc{} && ptr == text.data() + text.size() && (flags & 0x2) != 0;
    }
    case DisabledRule::Kind::attribute_equals: {
      const auto* values = find_values(entry, rule.attribute);
      return values != nullptr &&
             std::any_of(values->begin(), values->end(), [&](const std::string& v) {
               return fold_case(v) == fold_case(rule.value);
             });
    }
    case DisabledRule::Kind::attribute_present: {
      const auto* values = find_values(entry, rule.attribute);
      return values != nullptr && !values->empty();
    }
  }
  return false;
}

struct RoleDecision {
  std::optional<Role> role;
  std::string tie;  // description of a tie, when role is nullopt
};

// `role_groups` is parallel to rules.roles.
RoleDecision decide_role(const EntryGroups& groups, const MappingRules& rules,
                         const std::vector<RuleGroup>& role_groups, bool allow_account_owner) {
  std::optional<int> best;
  std::set<Role> roles_at_best;
  for (std::size_t i = 0; i < rules.roles.size(); ++i) {
    const auto& rule = rules.roles[i];
    if (!allow_account_owner && rule.role == Role::account_owner) {
      continue;
    }
    if (!role_groups[i].matches(groups)) {
      continue;
    }
    if (!best || rule.precedence > *best) {
      best = rule.precedence;
      roles_at_best = {rule.role};
    } else if (rule.precedence == *best) {
      roles_at_best.insert(rule.role);
    }
  }
  if (!best) {
    return {rules.default_role, ""};
  }
  if (roles_at_best.size() > 1) {
    std::string tie = "role rules of equal precedence " + std::to_string(*best) + " disagree (";
    bool first = true;
    for (const Role role : roles_at_best) {
      tie += (first ? "" : ", ") + std::string(to_string(role));
      first = false;
    }
    return {std::nullopt, tie + "); the current role is kept"};
  }
  return {*roles_at_best.begin(), ""};
}

}  // namespace

const std::vector<std::string>& mapping_targets() {
  static const std::vector<std::string> targets{"userName",
                                                "externalId",
                                                "displayName",
                                                "name.givenName",
                                                "name.familyName",
                                                "name.middleName",
                                                "name.formatted",
                                                "nickName",
                                                "title",
                                                "userType",
                                                "preferredLanguage",
                                                "locale",
                                                "timezone",
                                                "emails.primary",
                                                "emails.backup",
                                                "phoneNumbers.work",
                                                "phoneNumbers.mobile",
                                                "enterprise.employeeNumber",
                                                "enterprise.costCenter",
                                                "enterprise.organization",
                                                "enterprise.division",
                                                "enterprise.department"};
  return targets;
}

std::string expand_template(const std::string& text, const DirectoryEntry& entry) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (text[i] == '{') {
      const auto close = text.find('}', i);
      if (close == std::string::npos) {
        out += text.substr(i);
        break;
      }
      out += first_value(entry, text.substr(i + 1, close - i - 1));
      i = close;
    } else {
      out += text[i];
    }
  }
  std::string collapsed;
  for (const char c : out) {
    if (c == ' ' && (collapsed.empty() || collapsed.back() == ' ')) {
      continue;
    }
    collapsed += c;
  }
  while (!collapsed.empty() && collapsed.back() == ' ') {
    collapsed.pop_back();
  }
  return collapsed;
}

std::vector<std::string> attributes_read_by(const MappingRules& rules) {
  std::vector<std::string> names;
  const auto add = [&](const std::string& name) {
    if (name.empty()) {
      return;
    }
    const auto folded = fold_case(name);
    if (std::none_of(names.begin(), names.end(),
                     [&](const std::string& seen) { return fold_case(seen) == folded; })) {
      names.push_back(name);
    }
  };
  for (const auto& mapping : rules.attributes) {
    const std::string& text = mapping.value;
    // The same scan as expand_template: "{{" and "}}" are literal braces.
    for (std::size_t i = 0; i < text.size(); ++i) {
      if ((text[i] == '{' || text[i] == '}') && i + 1 < text.size() && text[i + 1] == text[i]) {
        ++i;
      } else if (text[i] == '{') {
        const auto close = text.find('}', i);
        if (close == std::string::npos) {
          break;
        }
        add(text.substr(i + 1, close - i - 1));
        i = close;
      }
    }
  }
  switch (rules.disabled.kind) {
    case DisabledRule::Kind::none: break;
    case DisabledRule::Kind::ad_account_disabled: add("userAccountControl"); break;
    case DisabledRule::Kind::attribute_equals:
    case DisabledRule::Kind::attribute_present: add(rules.disabled.attribute); break;
  }
  return names;
}

std::vector<std::string> groups_named_by(const MappingRules& rules) {
  std::vector<std::string> names;
  std::vector<std::string> keys;
  const auto add = [&](const std::string& group) {
    const RuleGroup rule(group);
    const std::string key = (rule.by_dn ? "dn:" : "cn:") + rule.key;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      keys.push_back(key);
      names.push_back(group);
    }
  };
  for (const auto& rule : rules.roles) {
    add(rule.group);
  }
  for (const auto& rule : rules.profiles) {
    add(rule.group);
  }
  for (const auto& rule : rules.groups) {
    add(rule.group);
  }
  return names;
}

namespace {

std::vector<RuleGroup> prepare_groups(const auto& list) {
  std::vector<RuleGroup> prepared;
  prepared.reserve(list.size());
  for (const auto& rule : list) {
    prepared.emplace_back(rule.group);
  }
  return prepared;
}

bool has_owner_rule(const MappingRules& rules) {
  return rules.default_role == Role::account_owner ||
         std::any_of(rules.roles.begin(), rules.roles.end(),
                     [](const RoleRule& rule) { return rule.role == Role::account_owner; });
}

}  // namespace

// Account Owner is granted only when exactly one user qualifies for it, which is known only once
// every entry is mapped: with an owner rule, each user's role is decided both ways as it is
// mapped, and finish() keeps the one that applies.
struct UserMapper::State {
  explicit State(const MappingRules& r)
      : rules(r),
        role_groups(prepare_groups(r.roles)),
        profile_groups(prepare_groups(r.profiles)),
        group_groups(prepare_groups(r.groups)),
        owner_rule(has_owner_rule(r)) {}

  // A diagnostic in read order; a role tie may depend on whether Account Owner is allowed.
  struct Problem {
    Diagnostic diagnostic;          // when Account Owner is allowed (or there is no owner rule)
    std::string tie_without_owner;  // owner rule only: the tie text when it is not allowed
    bool role_dependent = false;
  };
  // Owner rule only, parallel to `users`: the decision when Account Owner is not allowed.
  struct WithoutOwner {
    std::optional<Role> role;
  };

  const MappingRules& rules;
  std::vector<RuleGroup> role_groups;
  std::vector<RuleGroup> profile_groups;
  std::vector<RuleGroup> group_groups;
  bool owner_rule;
  std::size_t owner_candidates = 0;
  std::deque<DesiredUser> users;
  std::vector<WithoutOwner> without_owner;
  std::vector<Problem> problems;
};

UserMapper::UserMapper(const MappingRules& rules) : state_(std::make_unique<State>(rules)) {}
UserMapper::~UserMapper() = default;
UserMapper::UserMapper(UserMapper&&) noexcept = default;
UserMapper& UserMapper::operator=(UserMapper&&) noexcept = default;

void UserMapper::add(const DirectoryEntry& entry) {
  State& s = *state_;
  const MappingRules& rules = s.rules;
  DesiredUser desired;
  for (const auto& mapping : rules.attributes) {
    assign(desired.user, mapping.target, expand_template(mapping.value, entry));
  }
  const bool named = !desired.user.user_name.empty();
  if (!named && !s.owner_rule) {
    s.problems.push_back({{entry.anchor, entry.dn, "no userName value: entry skipped"}, "", false});
    return;
  }
  const EntryGroups groups(entry);
  const RoleDecision decision = decide_role(groups, rules, s.role_groups, true);
  // Every entry read counts as a candidate, named or not, as the rule is about the directory.
  if (s.owner_rule && decision.role == Role::account_owner) {
    ++s.owner_candidates;
  }
  if (!named) {
    s.problems.push_back({{entry.anchor, entry.dn, "no userName value: entry skipped"}, "", false});
    return;
  }
  desired.anchor = entry.anchor;
  desired.dn = entry.dn;
  desired.user.active = !is_disabled(entry, rules.disabled);
  desired.role = decision.role;
  if (s.owner_rule) {
    const RoleDecision without = decide_role(groups, rules, s.role_groups, false);
    s.without_owner.push_back({without.role});
    if (!decision.tie.empty() || !without.tie.empty()) {
      s.problems.push_back({{entry.anchor, entry.dn, decision.tie}, without.tie, true});
    }
  } else if (!decision.tie.empty()) {
    s.problems.push_back({{entry.anchor, entry.dn, decision.tie}, "", false});
  }
  std::set<std::string> profiles;
  for (std::size_t i = 0; i < rules.profiles.size(); ++i) {
    if (s.profile_groups[i].matches(groups)) {
      profiles.insert(rules.profiles[i].profile);
    }
  }
  desired.profiles.assign(profiles.begin(), profiles.end());
  std::set<std::string> tenant_groups;
  for (std::size_t i = 0; i < rules.groups.size(); ++i) {
    if (s.group_groups[i].matches(groups)) {
      tenant_groups.insert(rules.groups[i].tenant_group);
    }
  }
  desired.tenant_groups.assign(tenant_groups.begin(), tenant_groups.end());
  s.users.push_back(std::move(desired));
}

MappingResult UserMapper::finish() && {
  State& s = *state_;
  MappingResult result;
  const bool owner_allowed = s.owner_candidates == 1;
  if (s.owner_candidates > 1) {
    result.problems.push_back({"", "",
                               "the Account Owner rule matches " +
                                   std::to_string(s.owner_candidates) +
                                   " users; a tenant has one Account Owner, so none of them gets "
                                   "it from the directory"});
  }
  for (auto& problem : s.problems) {
    if (problem.role_dependent && !owner_allowed) {
      problem.diagnostic.message = std::move(problem.tie_without_owner);
    }
    if (!problem.diagnostic.message.empty()) {
      result.problems.push_back(std::move(problem.diagnostic));
    }
  }
  if (s.owner_rule && !owner_allowed) {
    for (std::size_t i = 0; i < s.users.size(); ++i) {
      s.users[i].role = s.without_owner[i].role;
    }
  }
  result.users = std::move(s.users);
  std::sort(result.users.begin(), result.users.end(),
            [](const DesiredUser& a, const DesiredUser& b) { return a.anchor < b.anchor; });
  // Two entries with one userName cannot both become the same user, and which one is meant
  // would be a guess: both are left out and reported. Sorted folded names find them in
  // O(n log n) without a node per user.
  std::vector<std::pair<std::string, std::size_t>> by_name;
  by_name.reserve(result.users.size());
  for (std::size_t i = 0; i < result.users.size(); ++i) {
    by_name.emplace_back(fold_case(result.users[i].user.user_name), i);
  }
  std::sort(by_name.begin(), by_name.end());
  std::vector<bool> drop(result.users.size(), false);
  bool any_dropped = false;
  for (std::size_t first = 0; first < by_name.size();) {
    std::size_t last = first + 1;
    while (last < by_name.size() && by_name[last].first == by_name[first].first) {
      ++last;
    }
    for (std::size_t k = first; last - first > 1 && k < last; ++k) {
      const std::size_t i = by_name[k].second;
      drop[i] = true;
      any_dropped = true;
      result.problems.push_back({result.users[i].anchor, result.users[i].dn,
                                 "userName \"" + result.users[i].user.user_name +
                                     "\" is mapped from " + std::to_string(last - first) +
                                     " entries: none of them is synced"});
    }
    first = last;
  }
  if (any_dropped) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < result.users.size(); ++i) {
      if (!drop[i]) {
        if (kept != i) {
          result.users[kept] = std::move(result.users[i]);
        }
        ++kept;
      }
    }
    result.users.erase(result.users.begin() + static_cast<std::ptrdiff_t>(kept),
                       result.users.end());
  }
  return result;
}

MappingResult map_users(const Snapshot& snapshot, const MappingRules& rules) {
  UserMapper mapper(rules);
  for (const auto& entry : snapshot.users) {
    mapper.add(entry);
  }
  return std::move(mapper).finish();
}

void keep_anchors_only(Snapshot& snapshot) {
  for (auto& entry : snapshot.users) {
    entry.dn = std::string();
    entry.attributes = {};
    entry.groups = std::vector<std::string>();
  }
}

}  // namespace idbridge::core::sync
