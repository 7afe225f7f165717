// Cursor text: format, parse, and the fingerprint of the settings it was written for.
#include "cursor.hpp"

#include <charconv>

namespace idbridge::ldap {
namespace {

constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

void mix(std::uint64_t& hash, std::string_view text) {
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= fnv_prime;
  }
  hash ^= 0xff;  // a byte no text here contains: "ab","c" and "a","bc" differ
  hash *= fnv_prime;
}

std::string hex64(std::uint64_t value) {
  constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) {
    out[static_cast<std::size_t>(i)] = digits[value & 0xf];
  }
  return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view text, int base) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::string to_hex(std::string_view bytes) {
  return hex_anchor(bytes);
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const auto byte = parse_u64(hex.substr(i, 2), 16);
    if (!byte) {
      return std::nullopt;
    }
    out += static_cast<char>(*byte);
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

std::optional<ChangeDetection> detection_from(std::string_view name) {
  for (const auto detection : {ChangeDetection::full, ChangeDetection::content_sync,
                               ChangeDetection::modify_timestamp, ChangeDetection::usn_changed}) {
    if (to_string(detection) == name) {
      return detection;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string format_cursor(const Cursor& cursor) {
  std::string position;
  switch (cursor.detection) {
    case ChangeDetection::content_sync:
      for (std::size_t i = 0; i < cursor.cookies.size(); ++i) {
        position += (i == 0 ? "" : ",") + to_hex(cursor.cookies[i]);
      }
      break;
    case ChangeDetection::modify_timestamp: position = cursor.timestamp; break;
    case ChangeDetection::usn_changed:
      position = cursor.invocation_id + ":" + std::to_string(cursor.usn);
      break;
    case ChangeDetection::full: break;
  }
  return "v2;" + std::string(to_string(cursor.detection)) + ";" + hex64(cursor.fingerprint) + ";" +
         hex64(cursor.group_digest) + ";" + hex64(cursor.rule_group_digest) + ";" + position;
}

std::optional<Cursor> parse_cursor(const std::string& text) {
  const auto parts = split(text, ';');
  // v1 cursors (no rule group digest) are refused: the next read is a full one.
  if (parts.size() != 6 || parts[0] != "v2") {
    return std::nullopt;
  }
  Cursor cursor;
  const auto detection = detection_from(parts[1]);
  const auto fingerprint = parse_u64(parts[2], 16);
  const auto digest = parse_u64(parts[3], 16);
  const auto rule_digest = parse_u64(parts[4], 16);
  if (!detection || !fingerprint || !digest || !rule_digest) {
    return std::nullopt;
  }
  cursor.detection = *detection;
  cursor.fingerprint = *fingerprint;
  cursor.group_digest = *digest;
  cursor.rule_group_digest = *rule_digest;
  const auto position = parts[5];
  switch (cursor.detection) {
    case ChangeDetection::content_sync:
      for (const auto hex : split(position, ',')) {
        auto cookie = from_hex(hex);
        if (!cookie) {
          return std::nullopt;
        }
        cursor.cookies.push_back(std::move(*cookie));
      }
      break;
    case ChangeDetection::modify_timestamp:
      if (position.empty()) {
        return std::nullopt;
      }
      cursor.timestamp = std::string(position);
      break;
    case ChangeDetection::usn_changed: {
      const auto colon = position.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return std::nullopt;
      }
      const auto usn = parse_u64(position.substr(colon + 1), 10);
      if (!usn) {
        return std::nullopt;
      }
      cursor.invocation_id = std::string(position.substr(0, colon));
      cursor.usn = *usn;
      break;
    }
    case ChangeDetection::full: return std::nullopt;
  }
  return cursor;
}

std::uint64_t settings_fingerprint(const ReadSettings& settings) {
  std::uint64_t hash = fnv_offset;
  mix(hash, to_string(settings.change_detection));
  for (const auto& base : settings.user_base_dns) {
    mix(hash, "users:" + base);
  }
  mix(hash, settings.user_filter);
  mix(hash, settings.anchor_attribute);
  for (const auto& attribute : settings.attributes) {
    mix(hash, "attribute:" + attribute);
  }
  for (const auto& base : settings.group_base_dns) {
    mix(hash, "groups:" + base);
  }
  mix(hash, settings.group_filter);
  for (const auto& group : settings.rule_groups) {
    mix(hash, "rule group:" + group);
  }
  return hash;
}

}  // namespace idbridge::ldap
