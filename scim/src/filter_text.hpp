// Small text helpers shared by the filter parser, printer and evaluator (private to scim/).
#pragma once

#include <string>
#include <string_view>

namespace idbridge::scim::filter_detail {

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

inline bool ascii_istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && ascii_iequals(text.substr(0, prefix.size()), prefix);
}

inline bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 7644 nameChar, plus '$' so that RFC 7643's "$ref" is a name.
inline bool is_name_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '$';
}

// Appends `text` JSON-escaped (quotes, backslash, control characters); other bytes stay as they
// are, so UTF-8 passes through.
void append_json_string(std::string& out, std::string_view text);

// `text` shortened and with bytes outside printable ASCII written as \xNN, for error messages
// that may end up in JSON and logs.
std::string printable(std::string_view text, std::size_t max_length = 24);

}  // namespace idbridge::scim::filter_detail
