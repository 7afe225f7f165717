// Change records: the ordered log of every committed change to a user or group, written in the
// same transaction as the change. Write-back, audit and metrics read this log.
#pragma once

#include "idbridge/core/ids.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/principal.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core {

enum class ResourceType { user, group };
std::string_view to_string(ResourceType type);
std::optional<ResourceType> parse_resource_type(std::string_view text);

enum class ChangeKind { created, updated, deleted };
std::string_view to_string(ChangeKind kind);
std::optional<ChangeKind> parse_change_kind(std::string_view text);

inline constexpr std::string_view redacted_value = "[redacted]";

// One attribute's before and after, each as canonical text (JSON for complex and multi-valued
// attributes, the plain value for strings). nullopt means absent. A secret is recorded as
// changed with both sides replaced by redacted_value. Group membership is recorded one entry per
// member added ("members", nullopt, "user:<id>") or removed ("members", "user:<id>", nullopt),
// so a change to a 10,000-member group stays small.
struct AttributeChange {
  std::string path;  // SCIM-style attribute path: "userName", "name.givenName", "emails"
  std::optional<std::string> before;
  std::optional<std::string> after;
  friend bool operator==(const AttributeChange&, const AttributeChange&) = default;
};

struct ChangeRecord {
  ChangeSequence sequence = 0;  // assigned by the store on append; strictly increasing
  TenantId tenant;
  ResourceType resource_type = ResourceType::user;
  std::string resource_id;
  ChangeKind kind = ChangeKind::updated;
  ResourceVersion version = 0;  // the resource's version after the change
  Actor actor;
  Origin origin;
  Timestamp at{};
  std::vector<AttributeChange> attributes;
  friend bool operator==(const ChangeRecord&, const ChangeRecord&) = default;
};

// Per-attribute difference between two states of a user. `before` or `after` may be null for a
// create or delete; the password is never compared here (the service adds a redacted entry).
std::vector<AttributeChange> diff_users(const User* before, const User* after);
std::vector<AttributeChange> diff_groups(const Group* before, const Group* after);

}  // namespace idbridge::core
