// The directory reader: a full or incremental read of a directory's users (and, when group base
// DNs are configured, its groups, for nested memberships) into a core::sync::Snapshot, with the
// completeness proof the planner needs before any disable or delete; and a persistent content
// sync for near-real-time changes. Blocking (see client.hpp): run it off the daemon's I/O
// threads.
#pragma once

#include "idbridge/core/sync/mapping.hpp"
#include "idbridge/ldap/client.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace idbridge::ldap {

// How an incremental read finds what changed since the stored cursor.
enum class ChangeDetection {
  full,  // none: every read is a full read and the cursor stays ""
  // OpenLDAP with syncprov: RFC 4533 refreshOnly with the stored cookie (one per users base).
  // Deletions arrive as a delete phase, or as a present phase listing every user still there.
  content_sync,
  // Servers without syncprov: (modifyTimestamp>=last seen - timestamp_margin). Deletions are
  // found by full reads only.
  modify_timestamp,
  // Active Directory: (uSNChanged>=highestCommittedUSN+1) of the last read, on the same DC
  // database (invocationId); another invocationId (DC switch, restore) forces a full read.
  // Deletions are found by full reads only.
  usn_changed,
};

std::string_view to_string(ChangeDetection detection);

// What the store kept of the groups the rules name with the cursor (Snapshot::rule_groups of the
// read that wrote it; core::StoreReader::rule_group_digests and find_rule_group).
struct StoredRuleGroups {
  std::function<std::vector<core::sync::RuleGroupDigest>()> digests;
  std::function<std::optional<core::sync::RuleGroupMembers>(const std::string& group)> find;
};
// What to read and how to connect; built by the daemon from config::DirectoryConfig (ldap/ and
// config/ are peers and do not include each other).
struct ReadSettings {
  std::string directory;  // the directory's name in the config, copied into the Snapshot
  ConnectionSettings connection;
  std::vector<std::string> user_base_dns;
  std::string user_filter = "(objectClass=inetOrgPerson)";
  // entryUUID (text, taken as is) or objectGUID (16 binary bytes, turned into lower-case hex);
  // any other attribute is taken as text.
  std::string anchor_attribute = "entryUUID";
  // The attributes the rules read (core::sync::attributes_read_by); the anchor and memberOf are
  // always added. Empty: every user attribute ("*"), which on AD includes large values such as
  // thumbnailPhoto in every page.
  std::vector<std::string> attributes;
  int page_size = 500;
  int connect_attempts = 3;  // for transient failures; invalid credentials are never retried

  ChangeDetection change_detection = ChangeDetection::full;
  // Entries modified this long before the newest modifyTimestamp of the last read are read again
  // (modify_timestamp): covers writes committed while the last read was paging, and clock skew
  // between replicas.
  std::chrono::seconds timestamp_margin{300};

  // Non-empty: the groups under these bases (group_filter) are read with their `member` values
  // and every user's `groups` holds its nested groups too (resolved here, cycle-safe). A base
  // that cannot be read makes the snapshot incomplete.
  std::vector<std::string> group_base_dns;
  std::string group_filter = "(objectClass=groupOfNames)";

  // The groups the role/profile/group rules name (core::sync::groups_named_by): a DN, or a cn
  // (the first RDN value of a group DN). Adding a user to a group or removing it changes only the
  // user's memberOf, which neither syncprov, modifyTimestamp nor uSNChanged report on the user.
  // With change detection, every read therefore reads these groups' members (under the naming
  // context, with group_filter), keeps a digest in the cursor and returns the member lists
  // (Snapshot::rule_groups, to be stored with the cursor). When the digest changed, an
  // incremental read compares the lists with `stored_rule_groups` and also reads, by DN, the
  // users who joined or left a named group; when it cannot (nothing stored, or stored lists that
  // do not match the cursor, or more than max_moved_members moved) it becomes a full read. A
  // persistent sync ends with full_read_needed.
  std::vector<std::string> rule_groups;
  StoredRuleGroups stored_rule_groups;
  // Each user who joined or left a named group is read with its own base-scope search (a round
  // trip): beyond this many, the incremental read becomes a full read.
  std::size_t max_moved_members = 1000;

  // Called with each user entry as it is read, once (its nested groups already resolved when
  // group bases are read), before the snapshot keeps it: what the callback leaves of the entry
  // is what the snapshot holds. A sync maps the entry here and keeps only its anchor, so that
  // memory does not grow with every entry's attributes (100,000 users: hundreds of MB).
  std::function<void(core::sync::DirectoryEntry& entry)> on_user;

  // Called after each page (or content sync batch) with its base DN and the entries read from
  // that base so far: progress for logs and /status. What it throws ends the read, incomplete.
  std::function<void(const std::string& base, std::size_t entries)> progress;
};

// A read and, when it is a full read although a cursor was given, why.
struct DirectoryRead {
  core::sync::Snapshot snapshot;
  // "" for an incremental read (or a full read without a cursor). Otherwise: the cursor was
  // written for other settings or another profile, the server refused the cookie
  // (e-syncRefreshRequired), the DC's invocationId changed, the groups changed...
  std::string full_read_reason;
  // An incremental read: how many members joined or left the groups the rules name since the
  // cursor (each read by DN, when it is a user of the users bases).
  std::size_t moved_members = 0;
};

// Reads what changed since `cursor` (a Snapshot::cursor of an earlier read with the same
// settings) as a Snapshot of kind `incremental`: the changed users in full in `users`, the
// anchors reported deleted in `deleted_anchors`, and with content_sync's present phase the sorted
// anchors of every user still there in `present_anchors`. `cursor` of the result is the position
// to store once the plan made from it is applied.
//
// The users who joined or left a group the rules name since `cursor` are read too, by DN (a
// membership change does not touch the users it affects: see rule_groups).
//
// A full read (kind `full`, with a cursor for the next run) is made instead when `cursor` is ""
// or was written for other settings, when change_detection is `full`, when the server refuses the
// cookie (e-syncRefreshRequired) or does not offer content sync at all (then the cursor is ""),
// when the DC's invocationId changed, when any group under group_base_dns changed (nested
// memberships), or when a group the rules name changed and who moved cannot be told (see
// rule_groups). `full_read_reason` says which.
//
// Failures are never "fewer users": an incomplete read (see read_directory) reports no deletion
// and no present set, and its cursor is the one given (an incomplete read never advances it).
DirectoryRead read_directory_incremental(const ReadSettings& settings, const std::string& cursor,
                                         const SleepFunction& sleep = {});

// Why a persistent sync returned.
enum class PersistEnd {
  stopped,           // `stop` was requested
  failed,            // connection lost, server error...: `reason` says which
  full_read_needed,  // the cursor cannot be used (refresh required, groups changed...): read
                     // with read_directory_incremental, then persist again from its cursor
};

struct PersistOutcome {
  PersistEnd end = PersistEnd::failed;
  std::string reason;
  std::string cursor;  // the cursor of the last batch delivered (the one given when none)
};

// Near-real-time sync (content_sync only): keeps an RFC 4533 refreshAndPersist search open on
// every users base (and a change watch on every group base and on the groups the rules name) and
// calls `on_batch` with each batch
// of changes as an incremental Snapshot (changed users with their nested groups, deleted anchors,
// the cursor to store once the batch is applied). Batches are delivered on the calling thread, in
// order. Returns when `stop` is requested (within about a second), on an error, or when a full
// read is needed. Never throws for directory problems; rethrows what `on_batch` throws.
PersistOutcome persist_directory(const ReadSettings& settings, const std::string& cursor,
                                 const std::function<void(const core::sync::Snapshot&)>& on_batch,
                                 std::stop_token stop, const SleepFunction& sleep = {});

// Connects (connect_with_backoff) and pages through every users base DN in order, turning each
// entry into a DirectoryEntry: `anchor` from the anchor attribute, every attribute's values as
// strings (the anchor attribute hex-encoded when binary), `groups` from memberOf.
//
// Never throws for directory or network problems, and never returns them as an empty directory:
// a failed connect or bind, a search that is not complete (size limit, lost connection, missing
// base...), or an entry without its anchor gives a Snapshot whose completeness is false with the
// first reason, naming the base DN. Entries read before the problem are kept (the planner may
// still create and update from them, never disable or delete).
//
// With a change_detection other than `full`, the Snapshot's cursor is the position for the next
// incremental read (read_directory_incremental with cursor "" is the same read).
//
// Memory: the Snapshot holds every entry, as ReadSettings::on_user leaves it (a sync keeps the
// anchors only).
core::sync::Snapshot read_directory(const ReadSettings& settings, const SleepFunction& sleep = {});

// 16 bytes -> 32 lower-case hex digits (any length works; each byte gives two digits).
std::string hex_anchor(std::string_view bytes);

}  // namespace idbridge::ldap
