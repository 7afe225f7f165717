// Active Directory range retrieval: AD returns at most 1,500 values of a multi-valued attribute
// per read (MaxValRange) and labels them `member;range=0-1499`; the rest must be fetched with
// further reads of `member;range=1500-*` until a range ends in `*`. Reading only the first chunk
// silently loses members (pg-ldap-sync revoked every membership of a 1,501-member group), so
// the algorithm here reports anything short of the `*` end marker as incomplete.
#pragma once

#include "idbridge/ldap/entry.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::ldap {

// `member;range=1500-2999` -> {"member", 1500, 2999}; `member;range=3000-*` -> high nullopt.
// Other options are kept in `base` (`member;binary;range=0-9` -> base "member;binary").
struct RangedDescription {
  std::string base;
  std::uint64_t low = 0;
  std::optional<std::uint64_t> high;  // nullopt: `*`, the last chunk
};

// nullopt when `description` has no well-formed `range=low-high` option.
std::optional<RangedDescription> parse_ranged_description(std::string_view description);

// What one follow-up read returned: the attributes of the entry (empty when the read found
// nothing), or `failed` with a reason when the read itself did not succeed.
struct RangeFetchResult {
  bool failed = false;
  std::string error;
  std::vector<Attribute> attributes;
};

// Performs one base-scope read of the entry asking for exactly `requested`
// (e.g. "member;range=1500-*").
using RangeFetch = std::function<RangeFetchResult(const std::string& requested)>;

enum class RangeStatus {
  complete,       // the chunks are contiguous and the last one ends in `*`
  fetch_failed,   // a follow-up read failed
  missing_chunk,  // a follow-up read did not return the attribute with a range option
  inconsistent,   // a chunk does not start where asked, or its value count does not match
  not_ranged,     // the first description has no range option (a caller bug)
};

struct RangeResult {
  RangeStatus status = RangeStatus::not_ranged;
  std::string base;                 // the description without the range option, e.g. "member"
  std::vector<std::string> values;  // every value fetched, in order (all of them when complete)
  std::size_t reads = 0;            // follow-up reads performed
  std::string detail;               // why it is incomplete, for the sync report
  bool complete() const { return status == RangeStatus::complete; }
};

// Starts from the first chunk (`first` as the entry carried it) and fetches the rest.
RangeResult retrieve_ranges(const Attribute& first, const RangeFetch& fetch);

std::string_view to_string(RangeStatus status);

}  // namespace idbridge::ldap
