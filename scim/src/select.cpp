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

// One indexed lookup: the attribute it answers and how (the candidate, or nothing).
template <class T>
struct IndexedLookup {
  std::string_view attribute;
  std::function<std::optional<T>(const std::string&)> find;
};

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
  const auto lookup = std::find_if(lookups.begin(), lookups.end(), [&](const auto& l) {
    return indexed_equality(*filter, l.attribute).has_value();
  });
  if (lookup != lookups.end()) {
    if (auto candidate = lookup->find(*indexed_equality(*filter, lookup->attribute));
        candidate && keep(*candidate)) {
      matched.push_back(*std::move(candidate));
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
      {"userName",
       [&](const std::string& name) {
         // userName is unique across tenants; a hit in another tenant is no hit here.
         auto user = reader.find_user_by_user_name(name);
         return user && user->tenant == tenant ? user : std::nullopt;
       }},
      {"externalId",
       [&](const std::string& id) { return reader.find_user_by_external_id(tenant, id); }},
      {"id", [&](const std::string& id) { return reader.find_user(tenant, core::UserId(id)); }},
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
      {"displayName",
       [&](const std::string& name) { return reader.find_group_by_display_name(tenant, name); }},
      {"externalId",
       [&](const std::string& id) { return reader.find_group_by_external_id(tenant, id); }},
      {"id", [&](const std::string& id) { return reader.find_group(tenant, core::GroupId(id)); }},
  };
  return select<core::Group>(
      filter_text, offset, count,
      [&](const core::PageRequest& request) { return reader.list_groups(tenant, request); },
      lookups, [](const core::Group& group) { return group_to_json(group, "", nullptr); });
}

}  // namespace idbridge::scim
