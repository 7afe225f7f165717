// Internal pieces shared by the SCIM handlers: filtering of list requests and PATCH.
#pragma once

#include "idbridge/core/store.hpp"
#include "idbridge/scim/service.hpp"
#include "resource_json.hpp"
#include "scim_error.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::scim {

// What a list request asks for (RFC 7644 §3.4.2): filter, sort and page.
struct ListQuery {
  std::string filter;   // "" for all
  std::string sort_by;  // "" for creation order
  bool descending = false;
  std::int64_t offset = 0;  // 0-based
  std::int64_t count = 100;
};

template <class T>
struct Selection {
  std::vector<T> items;    // the requested page
  std::int64_t total = 0;  // all matches
};
using UserSelection = Selection<core::User>;
using GroupSelection = Selection<core::Group>;

// The users / groups of `tenant` matching the query, in creation order unless sorted. Equality
// on userName, externalId, id and emails.value (users) or displayName, externalId and id
// (groups) is answered from the store's indexes; anything else is evaluated in memory. Sorting
// orders every match (sortBy is rare in provisioning traffic). Errors: invalidFilter,
// invalidValue (sortBy names no attribute).
ScimResult<UserSelection> select_users(core::StoreReader& reader, const core::TenantId& tenant,
                                       const ListQuery& query);
ScimResult<GroupSelection> select_groups(core::StoreReader& reader, const core::TenantId& tenant,
                                         const ListQuery& query);

// Applies a PatchOp body (RFC 7644 §3.5.2) to the normalised JSON of a resource and returns the
// new normalised JSON. Errors: invalidSyntax (not a PatchOp), invalidPath, noTarget,
// invalidValue, mutability (also for a path-less value that names another `id`).
ScimResult<nlohmann::json> apply_patch(const nlohmann::json& resource, const nlohmann::json& body,
                                       ResourceKind kind, const std::string& id);

// When a group PATCH only adds or removes members (the common, possibly huge, case) it is
// applied as a membership change without reading the member list. nullopt: use apply_patch.
struct MemberPatch {
  std::vector<std::pair<std::string, std::optional<core::MemberType>>> add;
  std::vector<std::string> remove;
};
std::optional<ScimResult<MemberPatch>> member_only_patch(const nlohmann::json& body);

// Runs a BulkRequest (RFC 7644 §3.7) by handing each operation to `run_one` in order.
// Errors of the request as a whole: 400 invalidSyntax, 413 over maxOperations/maxPayloadSize.
Response run_bulk(const Request& request, const Limits& limits,
                  const std::function<Response(const Request&)>& run_one);

}  // namespace idbridge::scim
