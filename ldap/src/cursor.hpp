// The reader's cursor: what Snapshot::cursor holds between runs. Text, one line:
//   v2;<change detection>;<settings fingerprint>;<group digest>;<rule group digest>;<position>
// with the position per profile: content_sync, the cookie of each users base as hex, comma
// separated; modify_timestamp, the newest modifyTimestamp read; usn_changed,
// "<invocationId hex>:<highestCommittedUSN>". The fingerprint covers every setting that changes
// what a read returns (bases, filters, anchor, attributes), so a cursor is never applied to a
// different read; the group digests (of the groups under the group base DNs, and of the groups the
// rules name) detect membership changes that no user entry shows.
#pragma once

#include "idbridge/ldap/reader.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::ldap {

struct Cursor {
  ChangeDetection detection = ChangeDetection::full;
  std::uint64_t fingerprint = 0;
  std::uint64_t group_digest = 0;       // 0 without group base DNs
  std::uint64_t rule_group_digest = 0;  // 0 when no rule names a group
  std::vector<std::string> cookies;     // content_sync: one per users base, in order
  std::string timestamp;                // modify_timestamp
  std::string invocation_id;            // usn_changed
  std::uint64_t usn = 0;                // usn_changed
};

std::string format_cursor(const Cursor& cursor);
// nullopt when `text` is not a cursor format_cursor wrote.
std::optional<Cursor> parse_cursor(const std::string& text);
std::uint64_t settings_fingerprint(const ReadSettings& settings);

}  // namespace idbridge::ldap
