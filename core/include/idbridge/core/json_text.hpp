// JSON string literals written exactly as nlohmann's serializer writes them, for the code that
// writes JSON text directly instead of dumping an nlohmann tree (the store's documents, SCIM
// responses) and must stay byte for byte equal to the dump.
#pragma once

#include <string>
#include <string_view>

namespace idbridge::core {

// Appends `text` quoted and escaped as nlohmann's dump() (ensure_ascii false) escapes it: the
// quote, backslash, backspace, form feed, newline, return and tab as two-character escapes, other
// control characters as a six-character \u00xx escape (lowercase hex), everything else as is.
// Returns false when `text` is not valid UTF-8, which nlohmann refuses with an exception; `out`
// is then left with a partial literal and must not be used.
bool append_json_string_literal(std::string& out, std::string_view text);

}  // namespace idbridge::core
