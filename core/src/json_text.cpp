#include "idbridge/core/json_text.hpp"

#include "idbridge/core/rules.hpp"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace idbridge::core {
namespace {

// Whether any of the 8 bytes of `word` needs a look: a control character, '"', '\\', or a byte
// of 0x80 and above. Word-at-a-time: the text of a SCIM resource is almost all plain ASCII, and
// testing byte by byte was most of the cost of writing it. (Each test is exact for "any byte",
// the classic has-zero-byte and has-byte-less-than tricks; which byte is left to the byte loop.)
bool needs_attention(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101U;
  constexpr std::uint64_t highs = 0x8080808080808080U;
  const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  const std::uint64_t below_space = (word - ones * 0x20U) & ~word & highs;
  return ((word & highs) | below_space | has_zero(word ^ (ones * '"')) |
          has_zero(word ^ (ones * '\\'))) != 0;
}

bool is_plain(unsigned char byte) {
  return byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\';
}

}  // namespace

std::size_t json_plain_prefix(std::string_view text) {
  std::size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes at a time where SSE2 is there (every x86-64): a signed compare below 0x20 finds
  // the control characters and, being signed, the bytes of 0x80 and above.
  for (; text.size() - i >= 16; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    const __m128i special = _mm_or_si128(_mm_cmplt_epi8(bytes, _mm_set1_epi8(0x20)),
                                         _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')),
                                                      _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
#endif
  for (; text.size() - i >= 8; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + i, sizeof word);
    if (needs_attention(word)) {
      break;
    }
  }
  while (i < text.size() && is_plain(static_cast<unsigned char>(text[i]))) {
    ++i;
  }
  return i;
}

bool append_json_string_literal(std::string& out, std::string_view text, Utf8Check check) {
  out += '"';
  if (!append_json_string_content(out, text, check)) {
    return false;
  }
  out += '"';
  return true;
}

bool append_json_string_content(std::string& out, std::string_view text, Utf8Check check) {
  std::size_t plain_from = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size();) {
    i += json_plain_prefix(text.substr(i));
    if (i == text.size()) {
      break;
    }
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
  return true;
}

}  // namespace idbridge::core
