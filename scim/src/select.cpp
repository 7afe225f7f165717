// List filtering: indexed lookups for the equality filters provisioning clients send (userName,
// externalId, id; displayName for groups), in-memory evaluation for everything else.
#include "filter_eval.hpp"
#include "handlers.hpp"
#include "idbridge/scim/filter.hpp"

#include <algorithm>

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

template <class T>
void slice(std::vector<T>& items, std::int64_t offset, std::int64_t count) {
  const auto size = static_cast<std::int64_t>(items.size());
  const auto begin = std::min(offset, size);
  const auto end = std::min(size, begin + count);
  items = std::vector<T>(items.begin() + begin, items.begin() + end);
}

}  // namespace

ScimResult<UserSelection> select_users(core::StoreReader& reader, const core::TenantId& tenant,
                                       const std::string& filter_text, std::int64_t offset,
                                       std::int64_t count) {
  if (filter_text.empty()) {
    auto page = reader.list_users(tenant, {offset, count});
    return UserSelection{std::move(page.items), page.total};
  }
  auto filter = parse_and_validate(filter_text);
  if (!filter) {
    return filter.error();
  }
  const AttributeRules& rules = default_attribute_rules();
  const auto keep = [&](const core::User& user) {
    return matches(*filter, user_to_json(user, "", {}), rules);
  };
  std::vector<core::User> matched;
  std::optional<core::User> candidate;
  bool indexed = true;
  if (auto user_name = indexed_equality(*filter, "userName")) {
    // userName is unique across tenants; a hit in another tenant is no hit here.
    candidate = reader.find_user_by_user_name(*user_name);
    if (candidate && candidate->tenant != tenant) {
      candidate.reset();
    }
  } else if (auto external_id = indexed_equality(*filter, "externalId")) {
    candidate = reader.find_user_by_external_id(tenant, *external_id);
  } else if (auto id = indexed_equality(*filter, "id")) {
    candidate = reader.find_user(tenant, core::UserId(*id));
  } else {
    indexed = false;
  }
  if (indexed) {
    if (candidate && keep(*candidate)) {
      matched.push_back(*std::move(candidate));
    }
  } else {
    for (std::int64_t position = 0;; position += scan_chunk) {
      auto page = reader.list_users(tenant, {position, scan_chunk});
      for (auto& user : page.items) {
        if (keep(user)) {
          matched.push_back(std::move(user));
        }
      }
      if (static_cast<std::int64_t>(page.items.size()) < scan_chunk) {
        break;
      }
    }
  }
  const auto total = static_cast<std::int64_t>(matched.size());
  slice(matched, offset, count);
  return UserSelection{std::move(matched), total};
}

ScimResult<GroupSelection> select_groups(core::StoreReader& reader, const core::TenantId& tenant,
                                         const std::string& filter_text, std::int64_t offset,
                                         std::int64_t count) {
  if (filter_text.empty()) {
    auto page = reader.list_groups(tenant, {offset, count});
    return GroupSelection{std::move(page.items), page.total};
  }
  auto filter = parse_and_validate(filter_text);
  if (!filter) {
    return filter.error();
  }
  const AttributeRules& rules = default_attribute_rules();
  // Members are not part of the evaluated document: filtering on members is refused below
  // rather than answered wrongly.
  const auto keep = [&](const core::Group& group) {
    return matches(*filter, group_to_json(group, "", nullptr), rules);
  };
  if (to_string(*filter).find("members") != std::string::npos) {
    return invalid_filter("filtering groups on members is not supported");
  }
  std::vector<core::Group> matched;
  std::optional<core::Group> candidate;
  bool indexed = true;
  if (auto name = indexed_equality(*filter, "displayName")) {
    candidate = reader.find_group_by_display_name(tenant, *name);
  } else if (auto external_id = indexed_equality(*filter, "externalId")) {
    candidate = reader.find_group_by_external_id(tenant, *external_id);
  } else if (auto id = indexed_equality(*filter, "id")) {
    candidate = reader.find_group(tenant, core::GroupId(*id));
  } else {
    indexed = false;
  }
  if (indexed) {
    if (candidate && keep(*candidate)) {
      matched.push_back(*std::move(candidate));
    }
  } else {
    for (std::int64_t position = 0;; position += scan_chunk) {
      auto page = reader.list_groups(tenant, {position, scan_chunk});
      for (auto& group : page.items) {
        if (keep(group)) {
          matched.push_back(std::move(group));
        }
      }
      if (static_cast<std::int64_t>(page.items.size()) < scan_chunk) {
        break;
      }
    }
  }
  const auto total = static_cast<std::int64_t>(matched.size());
  slice(matched, offset, count);
  return GroupSelection{std::move(matched), total};
}

}  // namespace idbridge::scim
