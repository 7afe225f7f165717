// List filtering: indexed lookups for the equality filters provisioning clients send (userName,
// externalId, id; displayName for groups), in-memory evaluation for everything else.
#include "filter_eval.hpp"
#include "handlers.hpp"
#include "idbridge/scim/filter.hpp"

#include <algorithm>
#include <functional>

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

ScimResult<Filter> parse_and_validate(const std::string& text) {
  auto filter = parse_filter(text);
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

// Shared by users and groups: without a filter one store page; with an indexed equality at most
// one candidate, re-checked against the whole filter; otherwise a scan in creation order.
template <class T>
ScimResult<Selection<T>> select(const std::string& filter_text, std::int64_t offset,
                                std::int64_t count,
                                const std::function<core::Page<T>(const core::PageRequest&)>& page,
                                const std::vector<IndexedLookup<T>>& lookups,
                                const std::function<nlohmann::json(const T&)>& to_json) {
  if (filter_text.empty()) {
    auto items = page({offset, count});
    return Selection<T>{std::move(items.items), items.total};
  }
  auto filter = parse_and_validate(filter_text);
  if (!filter) {
    return filter.error();
  }
  const auto keep = [&](const T& item) {
    return matches(*filter, to_json(item), default_attribute_rules());
  };
  std::vector<T> matched;
  std::optional<std::string> key;
  const auto lookup = std::find_if(lookups.begin(), lookups.end(), [&](const auto& l) {
    key = l.key(*filter);
    return key.has_value();
  });
  if (lookup != lookups.end()) {
    for (auto& candidate : lookup->find(*key)) {
      if (keep(candidate)) {
        matched.push_back(std::move(candidate));
      }
    }
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
  const auto total = static_cast<std::int64_t>(matched.size());
  const auto begin = std::min(offset, total);
  const auto end = std::min(total, begin + count);
  return Selection<T>{std::vector<T>(matched.begin() + begin, matched.begin() + end), total};
}

}  // namespace

ScimResult<UserSelection> select_users(core::StoreReader& reader, const core::TenantId& tenant,
                                       const std::string& filter_text, std::int64_t offset,
                                       std::int64_t count) {
  const std::vector<IndexedLookup<core::User>> lookups{
      {equality_on("userName"),
       [&](const std::string& name) {
         // userName is unique across tenants; a hit in another tenant is no hit here.
         auto user = reader.find_user_by_user_name(name);
         return as_list(user && user->tenant == tenant ? user : std::nullopt);
       }},
      {equality_on("externalId"),
       [&](const std::string& id) { return as_list(reader.find_user_by_external_id(tenant, id)); }},
      {equality_on("id"),
       [&](const std::string& id) { return as_list(reader.find_user(tenant, core::UserId(id))); }},
      {email_equality,
       [&](const std::string& email) { return reader.find_users_by_email(tenant, email); }},
  };
  return select<core::User>(
      filter_text, offset, count,
      [&](const core::PageRequest& request) { return reader.list_users(tenant, request); }, lookups,
      [](const core::User& user) { return user_to_json(user, "", {}); });
}

ScimResult<GroupSelection> select_groups(core::StoreReader& reader, const core::TenantId& tenant,
                                         const std::string& filter_text, std::int64_t offset,
                                         std::int64_t count) {
  // Members are not part of the evaluated document: filtering on them is refused rather than
  // answered wrongly.
  if (!filter_text.empty()) {
    if (auto filter = parse_filter(filter_text);
        filter && to_string(*filter).find("members") != std::string::npos) {
      return invalid_filter("filtering groups on members is not supported");
    }
  }
  const std::vector<IndexedLookup<core::Group>> lookups{
      {equality_on("displayName"),
       [&](const std::string& name) {
         return as_list(reader.find_group_by_display_name(tenant, name));
       }},
      {equality_on("externalId"),
       [&](const std::string& id) {
         return as_list(reader.find_group_by_external_id(tenant, id));
       }},
      {equality_on("id"),
       [&](const std::string& id) {
         return as_list(reader.find_group(tenant, core::GroupId(id)));
       }},
  };
  return select<core::Group>(
      filter_text, offset, count,
      [&](const core::PageRequest& request) { return reader.list_groups(tenant, request); },
      lookups, [](const core::Group& group) { return group_to_json(group, "", nullptr); });
}

}  // namespace idbridge::scim
