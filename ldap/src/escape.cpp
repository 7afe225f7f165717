// RFC 4515 filter value and RFC 4514 DN value escaping.
#include "idbridge/ldap/escape.hpp"

#include <stdexcept>

namespace idbridge::ldap {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, unsigned char byte) {
  out += '\\';
  out += hex_digits[byte >> 4];
  out += hex_digits[byte & 0x0f];
}

}  // namespace

std::string escape_filter_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0 || byte >= 0x80 || c == '*' || c == '(' || c == ')' || c == '\\') {
      append_hex(out, byte);
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_dn_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const auto byte = static_cast<unsigned char>(c);
    const bool first = i == 0;
    const bool last = i + 1 == value.size();
    if (byte < 0x20 || byte == 0x7f) {
      append_hex(out, byte);
    } else if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
               c == '=' || (c == ' ' && (first || last)) || (c == '#' && first)) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string binary_equality_filter(std::string_view attribute, std::string_view value) {
  std::string out = "(";
  out.reserve(attribute.size() + 3 * value.size() + 3);
  out += attribute;
  out += '=';
  for (const char c : value) {
    append_hex(out, static_cast<unsigned char>(c));
  }
  out += ')';
  return out;
}

std::string object_guid_filter(std::string_view guid) {
  if (guid.size() != 16) {
    throw std::invalid_argument("objectGUID must be 16 bytes, got " + std::to_string(guid.size()));
  }
  return binary_equality_filter("objectGUID", guid);
}

}  // namespace idbridge::ldap
