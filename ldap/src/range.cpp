// Range retrieval loop and the `range=low-high` option parser; Entry lookups.
#include "idbridge/ldap/range.hpp"

#include <charconv>

namespace idbridge::ldap {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equal_ignoring_case(text.substr(0, prefix.size()), prefix);
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

// The chunk of `base` among the attributes a follow-up read returned.
const Attribute* find_chunk(const std::vector<Attribute>& attributes, std::string_view base,
                            std::optional<RangedDescription>& parsed) {
  for (const auto& attribute : attributes) {
    auto candidate = parse_ranged_description(attribute.description);
    if (candidate && equal_ignoring_case(candidate->base, base)) {
      parsed = std::move(candidate);
      return &attribute;
    }
  }
  return nullptr;
}

}  // namespace

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

const Attribute* Entry::find(std::string_view description) const {
  for (const auto& attribute : attributes) {
    if (equal_ignoring_case(attribute.description, description)) {
      return &attribute;
    }
  }
  return nullptr;
}

const std::string* Entry::first_value(std::string_view description) const {
  const auto* attribute = find(description);
  return attribute == nullptr || attribute->values.empty() ? nullptr : &attribute->values.front();
}

std::optional<RangedDescription> parse_ranged_description(std::string_view description) {
  constexpr std::string_view option = "range=";
  std::string base;
  std::optional<RangedDescription> found;
  std::size_t start = 0;
  bool first = true;
  // Options are `;`-separated after the attribute type; exactly one may be the range option.
  while (start <= description.size()) {
    const auto end = std::min(description.find(';', start), description.size());
    const auto part = description.substr(start, end - start);
    if (!first && starts_with_ignoring_case(part, option)) {
      if (found) {
        return std::nullopt;
      }
      const auto bounds = part.substr(option.size());
      const auto dash = bounds.find('-');
      if (dash == std::string_view::npos) {
        return std::nullopt;
      }
      const auto low = parse_number(bounds.substr(0, dash));
      const auto high_text = bounds.substr(dash + 1);
      if (!low) {
        return std::nullopt;
      }
      RangedDescription parsed;
      parsed.low = *low;
      if (high_text != "*") {
        parsed.high = parse_number(high_text);
        if (!parsed.high || *parsed.high < *low) {
          return std::nullopt;
        }
      }
      found = std::move(parsed);
    } else {
      if (!first) {
        base += ';';
      }
      base += part;
    }
    first = false;
    start = end + 1;
  }
  if (!found || base.empty()) {
    return std::nullopt;
  }
  found->base = std::move(base);
  return found;
}

RangeResult retrieve_ranges(const Attribute& first, const RangeFetch& fetch) {
  RangeResult result;
  auto current = parse_ranged_description(first.description);
  if (!current) {
    result.detail = "'" + first.description + "' has no range option";
    return result;
  }
  result.base = current->base;
  const Attribute* chunk = &first;
  std::uint64_t expected_low = current->low;
  // Only a chunk starting at 0 is the start of the value list.
  if (current->low != 0) {
    result.status = RangeStatus::inconsistent;
    result.detail = "first chunk '" + first.description + "' does not start at 0";
    return result;
  }
  RangeFetchResult fetched;
  while (true) {
    if (current->low != expected_low) {
      result.status = RangeStatus::inconsistent;
      result.detail = "asked for " + result.base + " from " + std::to_string(expected_low) +
                      ", got '" + chunk->description + "'";
      return result;
    }
    // AD returns exactly high-low+1 values in a bounded chunk; fewer means values were lost.
    if (current->high && chunk->values.size() != *current->high - current->low + 1) {
      result.status = RangeStatus::inconsistent;
      result.detail = "'" + chunk->description + "' carries " +
                      std::to_string(chunk->values.size()) + " values";
      return result;
    }
    result.values.insert(result.values.end(), chunk->values.begin(), chunk->values.end());
    if (!current->high) {
      result.status = RangeStatus::complete;
      return result;
    }
    expected_low = *current->high + 1;
    const std::string requested = result.base + ";range=" + std::to_string(expected_low) + "-*";
    fetched = fetch(requested);
    ++result.reads;
    if (fetched.failed) {
      result.status = RangeStatus::fetch_failed;
      result.detail = "reading " + requested + " failed: " + fetched.error;
      return result;
    }
    std::optional<RangedDescription> next;
    chunk = find_chunk(fetched.attributes, result.base, next);
    if (chunk == nullptr) {
      result.status = RangeStatus::missing_chunk;
      result.detail = "reading " + requested + " returned no ranged " + result.base;
      return result;
    }
    current = std::move(next);
  }
}

std::string_view to_string(RangeStatus status) {
  switch (status) {
    case RangeStatus::complete: return "complete";
    case RangeStatus::fetch_failed: return "fetch_failed";
    case RangeStatus::missing_chunk: return "missing_chunk";
    case RangeStatus::inconsistent: return "inconsistent";
    case RangeStatus::not_ranged: return "not_ranged";
  }
  return "unknown";
}

}  // namespace idbridge::ldap
