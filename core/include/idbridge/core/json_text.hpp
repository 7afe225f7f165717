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
// With `pass_through`, bytes of 0x80 and above are copied unchecked and the call always succeeds
// (text that only needs to read back as it came in, such as a filter printed for a message).
// The length of the longest prefix of `text` that a JSON string holds as it is: printable ASCII
// (and DEL) other than '"' and '\\'. Scans a word at a time: SCIM text is almost all such bytes.
std::size_t json_plain_prefix(std::string_view text);

enum class Utf8Check { refuse_invalid, pass_through };
bool append_json_string_literal(std::string& out, std::string_view text,
                                Utf8Check check = Utf8Check::refuse_invalid);
// The same without the quotes around it: the escapes of a concatenation are the concatenation
// of the escapes of its parts, as long as no part ends inside a UTF-8 sequence.
bool append_json_string_content(std::string& out, std::string_view text,
                                Utf8Check check = Utf8Check::refuse_invalid);

}  // namespace idbridge::core
