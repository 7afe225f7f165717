// Query-string decoding (RFC 3986 percent-encoding with '+' as space, as Entra sends it) and
// the `attributes` / `excludedAttributes` projection of RFC 7644 §3.4.2.5.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::scim {

// Keys are matched case-insensitively by the caller; later duplicates win.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// "userName,name.givenName" -> {"userName", "name.givenName"} (trimmed, empty items dropped).
std::vector<std::string> split_attribute_list(std::string_view list);

// Keeps `attributes` (plus id, schemas and meta, which are always returned) or removes
// `excludedAttributes`. Names may carry a schema URN prefix and one sub-attribute level.
void project(nlohmann::json& resource, const std::vector<std::string>& attributes,
             const std::vector<std::string>& excluded);

}  // namespace idbridge::scim
