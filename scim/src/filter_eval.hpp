// In-memory evaluation of a parsed SCIM filter against a resource's JSON (RFC 7644 §3.4.2.2).
#pragma once

#include "idbridge/scim/filter.hpp"

#include <nlohmann/json.hpp>

namespace idbridge::scim {

// True when `resource` (a User or Group in its SCIM JSON form) matches `filter`. Attribute
// names match case-insensitively; string values compare case-insensitively unless the rules
// say caseExact; a multi-valued attribute matches when any value does; a complex attribute
// without a sub-attribute compares its `value`; `pr` is false for missing, null, "" and empty
// arrays and objects; dateTime values compare in time order. Run validate() first: a
// combination it refuses (gt on a boolean) simply does not match here. Never throws.
bool matches(const Filter& filter, const nlohmann::json& resource, const AttributeRules& rules);

// True when one value of the multi-valued attribute `attribute` (an element of `emails`)
// matches the value filter of a `emails[...]` path; for PATCH target selection.
bool matches_value(const Filter& value_filter, const nlohmann::json& element,
                   const AttributePath& attribute, const AttributeRules& rules);

}  // namespace idbridge::scim
