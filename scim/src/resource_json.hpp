// Users and groups to and from their SCIM JSON form. Input is first normalised against the
// schema table (canonical attribute names, type checks, Entra's "True"/"False" booleans, null as
// absent, readOnly and unknown attributes ignored), then mapped onto the tenant model.
#pragma once

#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/model.hpp"
#include "schema.hpp"
#include "scim_error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::scim {

using nlohmann::json;

enum class ResourceKind { user, group };

// Deepest nesting of arrays and objects a request body may have. Real SCIM bodies nest four or
// five levels; nlohmann's copy and dump recurse, so a hostile 500,000-level body would overflow
// the stack of whichever thread handles it and take every tenant down.
inline constexpr std::size_t max_json_depth = 64;

// Parses a request body. Errors: invalidSyntax for malformed JSON or nesting beyond
// max_json_depth (checked before parsing, without recursion).
ScimResult<json> parse_json_body(std::string_view text);

// The member of `object` whose key equals `key` ignoring ASCII case (RFC 7643 §2.1), or null
// (also when `object` is not an object).
const json* find_member(const json& object, std::string_view key);

// Canonical JSON of a resource body: every known attribute under its schema spelling, values of
// the schema's type. Errors: invalidSyntax (not an object, `schemas` not a string array),
// invalidValue (a value of the wrong type).
ScimResult<json> normalise_resource(const json& input, ResourceKind kind);

// Normalises one attribute value against its definition (used by PATCH for path targets).
ScimResult<json> normalise_value(const json& value, const AttributeDef& def,
                                 const std::string& path);

// From normalised JSON. Errors: invalidValue for values the model cannot hold (unknown role, …).
ScimResult<core::UserWrite> user_from_json(const json& normalised);
struct GroupInput {
  std::string display_name;
  std::optional<std::string> external_id;
  std::optional<core::GroupKind> kind;  // absent: keep (replace) or access (create)
  // Members as given: id plus the type when the client said it ("User"/"Group").
  std::vector<std::pair<std::string, std::optional<core::MemberType>>> members;
};
ScimResult<GroupInput> group_from_json(const json& normalised);

struct GroupRef {
  std::string id;
  std::string display;
};

// Full representations, with meta (location under base_url). `groups` are the user's groups.
json user_to_json(const core::User& user, const std::string& base_url,
                  const std::vector<GroupRef>& groups);
json group_to_json(const core::Group& group, const std::string& base_url,
                   const std::vector<core::MemberRef>* members);

// The hot read path's serialisation: user_to_json(...).dump() written straight to text, without
// building the DOM, byte for byte the same (keys in the DOM's sorted order, nlohmann's escaping).
// nullopt when a stored string is not valid UTF-8; the caller then goes through the DOM, whose
// dump replaces such bytes.
std::optional<std::string> user_to_json_text(const core::User& user, const std::string& base_url,
                                             const std::vector<GroupRef>& groups);
// The same appended to `out`; false (and `out` holding a partial text) instead of nullopt.
bool append_user_json_text(std::string& out, const core::User& user, const std::string& base_url,
                           const std::vector<GroupRef>& groups);

// A ListResponse's text around already serialised resources, as list_response(...).dump() gives.
std::string list_response_text(const std::vector<std::string>& resources, std::int64_t total,
                               std::int64_t start_index);
// The same around resources appended to `out` in between, separated by commas.
void begin_list_response_text(std::string& out);
void end_list_response_text(std::string& out, std::size_t items, std::int64_t total,
                            std::int64_t start_index);

std::string format_timestamp(core::Timestamp at);  // RFC 3339, UTC, milliseconds
std::string etag(core::ResourceVersion version);   // W/"<version>"

}  // namespace idbridge::scim
