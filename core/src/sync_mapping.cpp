// Mapping of directory entries onto desired tenant users (sync/mapping.hpp).
#include "idbridge/core/rules.hpp"
#include "idbridge/core/sync/mapping.hpp"

#include <boost/uuid/name_generator_sha1.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
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
  out.reserve(dn.size());
  bool after_comma = false;
  for (const char c : dn) {
    if (after_comma && c == ' ') {
      continue;
    }
    after_comma = c == ',';
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;  // as fold_case
  }
  return out;
}

// An entry's groups in the two forms rules compare with (normalised DN, folded first RDN value),
// worked out once per entry instead of once per rule and value.
struct EntryGroups {
  // `by_dn`, `by_name`: whether any rule compares that form (the other is not worked out).
  EntryGroups(const DirectoryEntry& entry, bool by_dn, bool by_name) {
    if (by_dn) {
      dns.reserve(entry.groups.size());
      for (const auto& dn : entry.groups) {
        dns.push_back(normalise_dn(dn));
      }
    }
    if (by_name) {
      names.reserve(entry.groups.size());
      for (const auto& dn : entry.groups) {
        names.push_back(first_rdn_value(dn));
      }
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
             std::any_of(values->begin(), values->end(),
                         [&](const std::string& v) { return same_ignoring_case(v, rule.value); });
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

// The User field a mapping target sets, resolved once per mapper instead of once per entry.
enum class Target {
  user_name,
  external_id,
  display_name,
  given_name,
  family_name,
  middle_name,
  formatted,
  nick_name,
  title,
  user_type,
  preferred_language,
  locale,
  timezone,
  email_primary,
  email_backup,
  phone_work,
  phone_mobile,
  employee_number,
  cost_center,
  organization,
  division,
  department,
  unknown,
};

Target target_of(std::string_view target) {
  static const std::pair<std::string_view, Target> known[] = {
      {"userName", Target::user_name},
      {"externalId", Target::external_id},
      {"displayName", Target::display_name},
      {"name.givenName", Target::given_name},
      {"name.familyName", Target::family_name},
      {"name.middleName", Target::middle_name},
      {"name.formatted", Target::formatted},
      {"nickName", Target::nick_name},
      {"title", Target::title},
      {"userType", Target::user_type},
      {"preferredLanguage", Target::preferred_language},
      {"locale", Target::locale},
      {"timezone", Target::timezone},
      {"emails.primary", Target::email_primary},
      {"emails.backup", Target::email_backup},
      {"phoneNumbers.work", Target::phone_work},
      {"phoneNumbers.mobile", Target::phone_mobile},
      {"enterprise.employeeNumber", Target::employee_number},
      {"enterprise.costCenter", Target::cost_center},
      {"enterprise.organization", Target::organization},
      {"enterprise.division", Target::division},
      {"enterprise.department", Target::department},
  };
  for (const auto& [name, value] : known) {
    if (name == target) {
      return value;
    }
  }
  return Target::unknown;
}

void assign(User& user, Target target, std::string&& value) {
  switch (target) {
    case Target::user_name: user.user_name = std::move(value); break;
    case Target::external_id:
      user.external_id =
          value.empty() ? std::nullopt : std::optional<std::string>(std::move(value));
      break;
    case Target::display_name: user.display_name = std::move(value); break;
    case Target::given_name: user.name.given_name = std::move(value); break;
    case Target::family_name: user.name.family_name = std::move(value); break;
    case Target::middle_name: user.name.middle_name = std::move(value); break;
    case Target::formatted: user.name.formatted = std::move(value); break;
    case Target::nick_name: user.nick_name = std::move(value); break;
    case Target::title: user.title = std::move(value); break;
    case Target::user_type: user.user_type = std::move(value); break;
    case Target::preferred_language: user.preferred_language = std::move(value); break;
    case Target::locale: user.locale = std::move(value); break;
    case Target::timezone: user.timezone = std::move(value); break;
    case Target::email_primary: set_contact(user.emails, true, "work", value); break;
    case Target::email_backup: set_contact(user.emails, false, "other", value); break;
    case Target::phone_work:
      set_contact(user.phone_numbers, user.phone_numbers.empty(), "work", value);
      break;
    case Target::phone_mobile:
      set_contact(user.phone_numbers, user.phone_numbers.empty(), "mobile", value);
      break;
    case Target::employee_number: user.enterprise.employee_number = std::move(value); break;
    case Target::cost_center: user.enterprise.cost_center = std::move(value); break;
    case Target::organization: user.enterprise.organization = std::move(value); break;
    case Target::division: user.enterprise.division = std::move(value); break;
    case Target::department: user.enterprise.department = std::move(value); break;
    case Target::unknown: break;
  }
}

// Appends `text` as expand_template's output is built: no leading space, runs of spaces as one
// (the trailing one is trimmed by the caller).
void append_collapsed(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) {
      continue;
    }
    out += c;
  }
}

// A template cut once into literal text and {attribute} references: expanding it per entry then
// parses nothing. expand() gives exactly expand_template's result.
class CompiledTemplate {
 public:
  explicit CompiledTemplate(const std::string& text) {
    std::string literal;
    const auto flush = [&] {
      if (!literal.empty()) {
        pieces_.push_back({std::move(literal), false});
        literal.clear();
      }
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
        literal += '{';
        ++i;
      } else if (text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
      } else if (text[i] == '{') {
        const auto close = text.find('}', i);
        if (close == std::string::npos) {
          literal += text.substr(i);
          break;
        }
        flush();
        pieces_.push_back({text.substr(i + 1, close - i - 1), true});
        i = close;
      } else {
        literal += text[i];
      }
    }
    flush();
  }

  std::string expand(const DirectoryEntry& entry) const {
    std::string out;
    for (const auto& piece : pieces_) {
      if (!piece.attribute) {
        append_collapsed(out, piece.text);
      } else if (const auto* values = find_values(entry, piece.text);
                 values != nullptr && !values->empty()) {
        append_collapsed(out, values->front());
      }
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    return out;
  }

 private:
  struct Piece {
    std::string text;  // literal text, or the attribute's name
    bool attribute = false;
  };
  std::vector<Piece> pieces_;
};

struct CompiledMapping {
  Target target;
  CompiledTemplate value;
};

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
  return CompiledTemplate(text).expand(entry);
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
        owner_rule(has_owner_rule(r)),
        fingerprint(rules_fingerprint(r)) {
    mappings.reserve(r.attributes.size());
    for (const auto& mapping : r.attributes) {
      mappings.push_back({target_of(mapping.target), CompiledTemplate(mapping.value)});
    }
    for (const auto* list : {&role_groups, &profile_groups, &group_groups}) {
      for (const auto& group : *list) {
        (group.by_dn ? groups_by_dn : groups_by_name) = true;
      }
    }
  }

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
  std::string fingerprint;
  std::vector<CompiledMapping> mappings;  // parallel to rules.attributes
  bool groups_by_dn = false;              // whether a rule names a group by DN
  bool groups_by_name = false;            // ...or by cn
  std::size_t owner_candidates = 0;
  std::deque<DesiredUser> users;
  std::function<bool(const DesiredUser&)> settled;
  // Users left out as settled: what finish() needs to report a userName mapped twice.
  struct LeftOut {
    std::string anchor;
    std::string dn;
    std::string user_name;
  };
  std::vector<LeftOut> left_out;
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
  for (const auto& mapping : s.mappings) {
    assign(desired.user, mapping.target, mapping.value.expand(entry));
  }
  const bool named = !desired.user.user_name.empty();
  if (!named && !s.owner_rule) {
    s.problems.push_back({{entry.anchor, entry.dn, "no userName value: entry skipped"}, "", false});
    return;
  }
  const EntryGroups groups(entry, s.groups_by_dn, s.groups_by_name);
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
  // Sorted and unique, as a std::set would give them, without a node per value.
  const auto sorted_unique = [](std::vector<std::string>& values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  };
  for (std::size_t i = 0; i < rules.profiles.size(); ++i) {
    if (s.profile_groups[i].matches(groups)) {
      desired.profiles.push_back(rules.profiles[i].profile);
    }
  }
  sorted_unique(desired.profiles);
  for (std::size_t i = 0; i < rules.groups.size(); ++i) {
    if (s.group_groups[i].matches(groups)) {
      desired.tenant_groups.push_back(rules.groups[i].tenant_group);
    }
  }
  sorted_unique(desired.tenant_groups);
  if (s.settled && !s.owner_rule) {
    desired.digest = mapped_digest(desired, s.fingerprint);
    if (s.settled(desired)) {
      s.left_out.push_back(
          {std::move(desired.anchor), std::move(desired.dn), std::move(desired.user.user_name)});
      return;
    }
  }
  s.users.push_back(std::move(desired));
}

void UserMapper::leave_out_settled(std::function<bool(const DesiredUser&)> settled) {
  state_->settled = std::move(settled);
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
  // would be a guess: both are left out and reported, settled ones too. Sorted folded names find
  // them in O(n log n) without a node per user; ties in anchor order, as the diagnostics are.
  const std::size_t kept_count = result.users.size();
  const auto anchor_of = [&](std::size_t i) -> const std::string& {
    return i < kept_count ? result.users[i].anchor : s.left_out[i - kept_count].anchor;
  };
  std::vector<std::pair<std::string, std::size_t>> by_name;
  by_name.reserve(kept_count + s.left_out.size());
  for (std::size_t i = 0; i < kept_count; ++i) {
    by_name.emplace_back(fold_case(result.users[i].user.user_name), i);
  }
  for (std::size_t j = 0; j < s.left_out.size(); ++j) {
    by_name.emplace_back(fold_case(s.left_out[j].user_name), kept_count + j);
  }
  std::sort(by_name.begin(), by_name.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) {
      return a.first < b.first;
    }
    return anchor_of(a.second) < anchor_of(b.second);
  });
  std::vector<bool> drop(kept_count + s.left_out.size(), false);
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
      const bool kept = i < kept_count;
      const std::string& dn = kept ? result.users[i].dn : s.left_out[i - kept_count].dn;
      const std::string& name =
          kept ? result.users[i].user.user_name : s.left_out[i - kept_count].user_name;
      result.problems.push_back({anchor_of(i), dn,
                                 "userName \"" + name + "\" is mapped from " +
                                     std::to_string(last - first) +
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
  // A settled entry whose userName another entry also maps is no longer settled: its user is
  // read and left alone like the others' (it has no mapped user any more).
  result.settled_anchors.reserve(s.left_out.size());
  for (std::size_t j = 0; j < s.left_out.size(); ++j) {
    if (!drop[kept_count + j]) {
      result.settled_anchors.push_back(std::move(s.left_out[j].anchor));
    }
  }
  std::sort(result.settled_anchors.begin(), result.settled_anchors.end());
  // Once the roles are settled: the digest is of what the planner will be given.
  for (auto& user : result.users) {
    if (user.digest.empty()) {
      user.digest = mapped_digest(user, s.fingerprint);
    }
  }
  return result;
}

namespace {

// The text a digest is taken of: length-prefixed fields, so that no value can pass for a
// separator or for two values.
class CanonicalText {
 public:
  CanonicalText() { text_.reserve(512); }
  void field(std::string_view value) {
    char length[24];
    const auto end = std::to_chars(length, length + sizeof length, value.size()).ptr;
    text_.append(length, end);
    text_ += ':';
    text_ += value;
  }
  void number(long long value) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    field(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  void list(const std::vector<std::string>& values) {
    number(static_cast<long long>(values.size()));
    for (const auto& value : values) {
      field(value);
    }
  }
  void contacts(const std::vector<ContactValue>& values) {
    number(static_cast<long long>(values.size()));
    for (const auto& value : values) {
      field(value.value);
      field(value.type);
      number(value.primary ? 1 : 0);
    }
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// The namespace of idbridge's mapping digests (a random UUID, fixed forever).
constexpr std::array<unsigned char, 16> digest_namespace{
    0x6b, 0x1f, 0x2c, 0x4e, 0x93, 0x5a, 0x4d, 0x0b, 0x8e, 0x71, 0x3c, 0x92, 0xd4, 0x05, 0xa7, 0x18};

std::atomic<Sha1Function> installed_sha1{nullptr};

// A name-based UUID (RFC 4122 version 5: SHA-1) of the text in idbridge's namespace, as 32 hex
// digits: stable across runs and builds. Boost's name generator unless a process installed a
// faster SHA-1 (use_sha1), which yields the same bytes: SHA-1 of namespace and text, its first
// 16 bytes with the version (5) and variant bits set as RFC 4122 §4.3 says.
std::string digest_of(const std::string& text) {
  boost::uuids::uuid id;
  if (const Sha1Function sha1 = installed_sha1.load(std::memory_order_relaxed)) {
    std::string input;
    input.reserve(digest_namespace.size() + text.size());
    input.append(reinterpret_cast<const char*>(digest_namespace.data()), digest_namespace.size());
    input += text;
    std::array<unsigned char, 20> digest{};
    sha1(input.data(), input.size(), digest.data());
    std::copy_n(digest.begin(), 16, id.begin());
    id.data[6] = static_cast<std::uint8_t>((id.data[6] & 0x0f) | 0x50);
    id.data[8] = static_cast<std::uint8_t>((id.data[8] & 0xbf) | 0x80);
  } else {
    static const boost::uuids::name_generator_sha1 generator([] {
      boost::uuids::uuid ns;
      std::copy(digest_namespace.begin(), digest_namespace.end(), ns.begin());
      return ns;
    }());
    id = generator(text.data(), text.size());
  }
  constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(32);
  for (const auto byte : id) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0x0f];
  }
  return hex;
}

// Bump when what the planner makes of a mapped user changes (detail::target_user, Ownership,
// leaves_unchanged): every stored digest then differs and every user is compared again once.
constexpr std::string_view planner_logic_version = "idbridge-sync-digest-1";

}  // namespace

std::string rules_fingerprint(const MappingRules& rules) {
  CanonicalText text;
  text.field(planner_logic_version);
  text.number(static_cast<long long>(rules.attributes.size()));
  for (const auto& mapping : rules.attributes) {
    text.field(mapping.target);
    text.field(mapping.value);
  }
  text.field(to_string(rules.default_role));
  text.number(static_cast<long long>(rules.roles.size()));
  for (const auto& rule : rules.roles) {
    text.field(rule.group);
    text.field(to_string(rule.role));
    text.number(rule.precedence);
  }
  text.number(static_cast<long long>(rules.profiles.size()));
  for (const auto& rule : rules.profiles) {
    text.field(rule.group);
    text.field(rule.profile);
  }
  text.number(static_cast<long long>(rules.groups.size()));
  for (const auto& rule : rules.groups) {
    text.field(rule.group);
    text.field(rule.tenant_group);
    text.field(to_string(rule.kind));
  }
  text.number(static_cast<long long>(rules.disabled.kind));
  text.field(rules.disabled.attribute);
  text.field(rules.disabled.value);
  text.list(rules.set_on_create_only);
  text.list(rules.corrected_in_directory);
  return digest_of(text.text());
}

void use_sha1(Sha1Function sha1) {
  installed_sha1.store(sha1, std::memory_order_relaxed);
}

std::string mapped_digest(const DesiredUser& desired, std::string_view fingerprint) {
  const User& user = desired.user;
  CanonicalText text;
  text.field(fingerprint);
  text.field(user.user_name);
  text.number(user.external_id ? 1 : 0);
  text.field(user.external_id.value_or(""));
  text.field(user.name.formatted);
  text.field(user.name.family_name);
  text.field(user.name.given_name);
  text.field(user.name.middle_name);
  text.field(user.name.honorific_prefix);
  text.field(user.name.honorific_suffix);
  text.field(user.display_name);
  text.field(user.nick_name);
  text.field(user.profile_url);
  text.field(user.title);
  text.field(user.user_type);
  text.field(user.preferred_language);
  text.field(user.locale);
  text.field(user.timezone);
  text.number(user.active ? 1 : 0);
  text.contacts(user.emails);
  text.contacts(user.phone_numbers);
  text.field(user.enterprise.employee_number);
  text.field(user.enterprise.cost_center);
  text.field(user.enterprise.organization);
  text.field(user.enterprise.division);
  text.field(user.enterprise.department);
  text.field(desired.role ? to_string(*desired.role) : std::string_view("(kept)"));
  text.list(desired.profiles);
  text.list(desired.tenant_groups);
  return digest_of(text.text());
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
