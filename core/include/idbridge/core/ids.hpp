// Strong identifier types for the tenant model, so a user id can never be passed as a tenant id.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace idbridge::core {

template <class Tag>
class Id {
 public:
  Id() = default;
  explicit Id(std::string value) : value_(std::move(value)) {}

  const std::string& str() const { return value_; }
  // The text itself, for a caller done with the id (no copy).
  std::string release() && { return std::move(value_); }
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const Id&, const Id&) = default;
  friend bool operator==(const Id&, const Id&) = default;

 private:
  std::string value_;
};

using TenantId = Id<struct TenantIdTag>;
using UserId = Id<struct UserIdTag>;
using GroupId = Id<struct GroupIdTag>;

// Incremented on every committed change of one resource; the SCIM layer turns it into an ETag.
using ResourceVersion = std::int64_t;

// Position of a change record in the store's single, gap-free-in-order change log.
using ChangeSequence = std::int64_t;

}  // namespace idbridge::core

template <class Tag>
struct std::hash<idbridge::core::Id<Tag>> {
  std::size_t operator()(const idbridge::core::Id<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
