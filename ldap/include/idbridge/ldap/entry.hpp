// A directory entry as read from the wire: its DN and its attributes, every value kept as raw
// bytes (objectGUID and other binary attributes are not text).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace idbridge::ldap {

struct Attribute {
  std::string description;          // as the server sent it, options included ("member;range=0-9")
  std::vector<std::string> values;  // raw bytes, binary-safe
};

struct Entry {
  std::string dn;
  std::vector<Attribute> attributes;

  // The attribute whose description equals `description` ignoring case, or nullptr.
  const Attribute* find(std::string_view description) const;
  // Its first value, or nullptr when the attribute is absent or empty.
  const std::string* first_value(std::string_view description) const;
};

// ASCII case-insensitive equality: attribute descriptions are case-insensitive (RFC 4512).
bool equal_ignoring_case(std::string_view a, std::string_view b);

}  // namespace idbridge::ldap
