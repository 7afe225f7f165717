// List filtering: indexed lookups for the equality filters provisioning clients send (userName,
// externalId, id; displayName for groups), in-memory evaluation for everything else.
#include "filter_eval.hpp"
#include "handlers.hpp"
#include "idbridge/core/rules.hpp"
#include "idbridge/scim/filter.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>
#include <vector>

namespace idbridge::scim {
namespace {

constexpr std::int64_t scan_chunk = 1000;

// The string an indexed equality looks up, when `filter` (or one conjunct of a top-level
// `and`) is `<attribute> eq "<string>"` for `attribute`.
std::optional<std::string> indexed_equality(const Filter& filter, std::string_view attribute) {
  if (const auto* comparison = std::get_if<Comparison>(&filter.node)) {
    const auto* text = std::get_if<std::string>(&comparison->value);
    const bool core_schema = !comparison->path.schema ||
                             iequals(*comparison->path.schema, user_schema_urn) ||
                             iequals(*comparison->path.schema, group_schema_urn);
    if (comparison->op == CompareOp::eq && text != nullptr && core_schema &&
        !comparison->path.sub_attribute && iequals(comparison->path.attribute, attribute)) {
      return *text;
    }
    return std::nullopt;
  }
  if (const auto* logical = std::get_if<Logical>(&filter.node);
      logical != nullptr && logical->op == LogicalOp::and_) {
    for (const auto& operand : logical->operands) {
      if (auto value = indexed_equality(operand, attribute)) {
        return value;
      }
    }
  }
  return std::nullopt;
}

// The address an email lookup can answer: `emails eq`, `emails.value eq`, `emails[value eq]`
// and Entra's `emails[type eq "work"].value eq` (parsed as `emails[type eq "work" and value eq]`).
std::optional<std::string> email_equality(const Filter& filter) {
  if (const auto* comparison = std::get_if<Comparison>(&filter.node)) {
    const auto* text = std::get_if<std::string>(&comparison->value);
    const bool core_schema =
        !comparison->path.schema || iequals(*comparison->path.schema, user_schema_urn);
    const bool value_of_emails =
        !comparison->path.sub_attribute || iequals(*comparison->path.sub_attribute, "value");
    if (comparison->op == CompareOp::eq && text != nullptr && core_schema && value_of_emails &&
        iequals(comparison->path.attribute, "emails")) {
      return *text;
    }
    return std::nullopt;
  }
  if (const auto* value_path = std::get_if<ValuePathFilter>(&filter.node)) {
    if (iequals(value_path->path.attribute, "emails")) {
      return indexed_equality(*value_path->filter, "value");
    }
    return std::nullopt;
  }
  if (const auto* logical = std::get_if<Logical>(&filter.node);
      logical != nullptr && logical->op == LogicalOp::and_) {
    for (const auto& operand : logical->operands) {
      if (auto value = email_equality(operand)) {
        return value;
      }
    }
  }
  return std::nullopt;
}

// Whether any comparison or value path of `filter` is on `attribute` (values are not looked at:
// `displayName eq "Board members"` does not name members).
bool names_attribute(const Filter& filter, std::string_view attribute) {
  return std::visit(
      [&](const auto& node) -> bool {
        using Node = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<Node, Comparison>) {
          return iequals(node.path.attribute, attribute);
        } else if constexpr (std::is_same_v<Node, Logical>) {
          return std::any_of(
              node.operands.begin(), node.operands.end(),
              [&](const Filter& operand) { return names_attribute(operand, attribute); });
        } else if constexpr (std::is_same_v<Node, Negation>) {
          return names_attribute(*node.operand, attribute);
        } else {
          return iequals(node.path.attribute, attribute);
        }
      },
      filter.node);
}

using ParsedFilter = boost::system::result<Filter, ParseError>;

// `filter` is parse_filter's answer for the query's text.
ScimResult<Filter> validated(ParsedFilter filter) {
  if (!filter) {
    return invalid_filter(filter.error().message);
  }
  if (auto valid = validate(*filter, default_attribute_rules()); !valid) {
    return invalid_filter(valid.error().message);
  }
  return *std::move(filter);
}

// One indexed lookup: which value of the filter it answers, and the candidates for that value.
template <class T>
struct IndexedLookup {
  std::function<std::optional<std::string>(const Filter&)> key;
  std::function<std::vector<T>(const std::string&)> find;
};

template <class T>
std::vector<T> as_list(std::optional<T> item) {
  std::vector<T> out;
  if (item) {
    out.push_back(*std::move(item));
  }
  return out;
}

std::function<std::optional<std::string>(const Filter&)> equality_on(std::string_view attribute) {
  return [attribute](const Filter& filter) { return indexed_equality(filter, attribute); };
}

// The value a resource sorts by (RFC 7644 §3.4.2.3): the attribute at `path`; for a
// multi-valued attribute its primary value, else its first. nullopt sorts last.
std::optional<nlohmann::json> sort_value(const nlohmann::json& resource,
                                         const AttributePath& path) {
  const nlohmann::json* container = &resource;
  if (path.schema && !iequals(*path.schema, user_schema_urn) &&
      !iequals(*path.schema, group_schema_urn)) {
    const auto it = resource.find(*path.schema);
    if (it == resource.end()) {
      return std::nullopt;
    }
    container = &*it;
  }
  const nlohmann::json* value = nullptr;
  for (auto it = container->begin(); it != container->end(); ++it) {
    if (iequals(it.key(), path.attribute)) {
      value = &*it;
    }
  }
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_array()) {
    if (value->empty()) {
      return std::nullopt;
    }
    const nlohmann::json* chosen = &value->front();
    for (const auto& element : *value) {
      if (element.is_object() && element.value("primary", false)) {
        chosen = &element;
      }
    }
    value = chosen;
  }
  const std::string sub = path.sub_attribute.value_or(value->is_object() ? "value" : "");
  if (!sub.empty()) {
    if (!value->is_object()) {
      return std::nullopt;
    }
    const nlohmann::json* found = nullptr;
    for (auto it = value->begin(); it != value->end(); ++it) {
      if (iequals(it.key(), sub)) {
        found = &*it;
      }
    }
    if (found == nullptr) {
      return std::nullopt;
    }
    value = found;
  }
  if (value->is_string()) {
    // Sorting follows the same case rule as filtering (caseExact only for ids).
    const auto traits = default_attribute_rules().traits(path);
    if (!traits || !traits->case_exact) {
      return nlohmann::json(core::fold_case(value->get<std::string>()));
    }
  }
  return *value;
}

// Shared by users and groups: without a filter or sort one store page; with an indexed equality
// the candidates, re-checked against the whole filter; otherwise a scan in creation order.
// `parsed` is parse_filter(query.filter) when the caller has it already (nullopt: parsed here).
template <class T>
ScimResult<Selection<T>> select(const ListQuery& query,
                                const std::function<core::Page<T>(const core::PageRequest&)>& page,
                                const std::vector<IndexedLookup<T>>& lookups,
                                const std::function<nlohmann::json(const T&)>& to_json,
                                std::optional<ParsedFilter> parsed_filter = std::nullopt) {
  if (query.filter.empty() && query.sort_by.empty()) {
    auto items = page({query.offset, query.count});
    return Selection<T>{std::move(items.items), items.total};
  }
  std::optional<Filter> filter;
  if (!query.filter.empty()) {
    auto parsed = validated(parsed_filter ? *std::move(parsed_filter) : parse_filter(query.filter));
    if (!parsed) {
      return parsed.error();
    }
    filter = *std::move(parsed);
  }
  std::optional<AttributePath> sort_path;
  if (!query.sort_by.empty()) {
    auto parsed = parse_path(query.sort_by);
    if (!parsed || parsed->value_filter || parsed->sub_attribute) {
      return invalid_value("sortBy \"" + query.sort_by + "\" is not an attribute path");
    }
    sort_path = parsed->attribute;
  }
  const auto keep = [&](const T& item) {
    return !filter || matches(*filter, to_json(item), default_attribute_rules());
  };
  std::vector<T> matched;
  std::optional<std::string> key;
  const auto lookup = std::find_if(lookups.begin(), lookups.end(), [&](const auto& l) {
    key = filter ? l.key(*filter) : std::nullopt;
    return key.has_value();
  });
  if (lookup != lookups.end()) {
    // The candidates themselves, in their order, without those the whole filter rejects.
    matched = lookup->find(*key);
    std::erase_if(matched, [&](const T& candidate) { return !keep(candidate); });
  } else {
    for (std::int64_t position = 0;; position += scan_chunk) {
      auto chunk = page({position, scan_chunk});
      for (auto& item : chunk.items) {
        if (keep(item)) {
          matched.push_back(std::move(item));
        }
      }
      if (static_cast<std::int64_t>(chunk.items.size()) < scan_chunk) {
        break;
      }
    }
  }
  if (sort_path) {
    std::vector<std::pair<std::optional<nlohmann::json>, std::size_t>> keys;
    keys.reserve(matched.size());
    for (std::size_t i = 0; i < matched.size(); ++i) {
      keys.emplace_back(sort_value(to_json(matched[i]), *sort_path), i);
    }
    // Stable, missing values last in both directions (RFC 7644 §3.4.2.3).
    std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
      if (!a.first || !b.first) {
        return a.first.has_value() && !b.first.has_value();
      }
      return query.descending ? *b.first < *a.first : *a.first < *b.first;
    });
    std::vector<T> sorted;
    sorted.reserve(matched.size());
    for (const auto& [value, index] : keys) {
      sorted.push_back(std::move(matched[index]));
    }
    matched = std::move(sorted);
  }
  const auto total = static_cast<std::int64_t>(matched.size());
  const auto begin = std::min(query.offset, total);
  const auto end = std::min(total, begin + query.count);
  if (begin == 0 && end == total) {
    return Selection<T>{std::move(matched), total};  // the usual page: every match, not copied
  }
  return Selection<T>{std::vector<T>(std::make_move_iterator(matched.begin() + begin),
                                     std::make_move_iterator(matched.begin() + end)),
                      total};
}

}  // namespace

ScimResult<UserSelection> select_users(core::StoreReader& reader, const core::TenantId& tenant,
                                       const ListQuery& query) {
  // A user's groups are not part of the evaluated document (they live in other rows): refused
  // rather than answered with an empty result that looks true.
  // The hot `userName eq "..."` re-checks its candidate against userName alone: the whole
  // resource would be built as a DOM for one comparison.
  bool user_name_only = false;
  std::optional<ParsedFilter> filter;
  if (!query.filter.empty()) {
    filter = parse_filter(query.filter);
    if (*filter && names_attribute(**filter, "groups")) {
      return invalid_filter("filtering users on groups is not supported; filter the group instead");
    }
    if (*filter && query.sort_by.empty()) {
      const auto* comparison = std::get_if<Comparison>(&(*filter)->node);
      user_name_only = comparison != nullptr && !comparison->path.schema &&
                       !comparison->path.sub_attribute &&
                       iequals(comparison->path.attribute, "userName");
    }
  }
  const std::vector<IndexedLookup<core::User>> lookups{
      {equality_on("userName"),
       [&](const std::string& name) {
         // userName is unique across tenants; a hit in another tenant is no hit here.
         auto user = reader.find_user_by_user_name(name);
         return as_list(user && user->tenant == tenant ? user : std::nullopt);
       }},
      {equality_on("externalId"),
       [&](const std::string& id) { return reader.find_users_by_external_id(tenant, id); }},
      {equality_on("id"),
       [&](const std::string& id) { return as_list(reader.find_user(tenant, core::UserId(id))); }},
      {email_equality,
       [&](const std::string& email) { return reader.find_users_by_email(tenant, email); }},
  };
  return select<core::User>(
      query, [&](const core::PageRequest& request) { return reader.list_users(tenant, request); },
      lookups,
      [user_name_only](const core::User& user) {
        if (user_name_only) {
          nlohmann::json resource = nlohmann::json::object();
          resource["userName"] = user.user_name;
          return resource;
        }
        return user_to_json(user, "", {});
      },
      std::move(filter));
}

ScimResult<GroupSelection> select_groups(core::StoreReader& reader, const core::TenantId& tenant,
                                         const ListQuery& query) {
  // Members are not part of the evaluated document: filtering on them is refused rather than
  // answered wrongly.
  if (!query.filter.empty()) {
    if (auto filter = parse_filter(query.filter); filter && names_attribute(*filter, "members")) {
      return invalid_filter("filtering groups on members is not supported");
    }
  }
  const std::vector<IndexedLookup<core::Group>> lookups{
      {equality_on("displayName"),
       [&](const std::string& name) {
         return as_list(reader.find_group_by_display_name(tenant, name));
       }},
      {equality_on("externalId"),
       [&](const std::string& id) { return reader.find_groups_by_external_id(tenant, id); }},
      {equality_on("id"),
       [&](const std::string& id) {
         return as_list(reader.find_group(tenant, core::GroupId(id)));
       }},
  };
  return select<core::Group>(
      query, [&](const core::PageRequest& request) { return reader.list_groups(tenant, request); },
      lookups, [](const core::Group& group) { return group_to_json(group, "", nullptr); });
}

}  // namespace idbridge::scim
