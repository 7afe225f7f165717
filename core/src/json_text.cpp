#include "idbridge/core/json_text.hpp"

#include "idbridge/core/rules.hpp"

namespace idbridge::core {

bool append_json_string_literal(std::string& out, std::string_view text, Utf8Check check) {
  out += '"';
  std::size_t plain_from = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x80) {
      if (check == Utf8Check::pass_through) {
        ++i;
        continue;
      }
      const std::size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        return false;
      }
      i += length;
      continue;
    }
    if (byte >= 0x20 && byte != '"' && byte != '\\') {
      ++i;
      continue;
    }
    out.append(text.data() + plain_from, i - plain_from);
    switch (byte) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        const char escaped[] = {'\\', 'u', '0', '0', hex[byte >> 4U], hex[byte & 15U]};
        out.append(escaped, sizeof escaped);
      }
    }
    plain_from = ++i;
  }
  out.append(text.data() + plain_from, text.size() - plain_from);
  out += '"';
  return true;
}

}  // namespace idbridge::core
