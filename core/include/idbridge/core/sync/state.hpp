// What directory sync keeps between runs: the link from each synced tenant user to its directory
// object, each directory's incremental position (with the members of the groups its rules name),
// and a record of every run. Plain values; the Store port (store.hpp) persists them in the same
// transactions as the users they describe.
#pragma once

#include "idbridge/core/ids.hpp"
#include "idbridge/core/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::core::sync {

// A tenant user synced from one directory object. Unique by (directory, anchor), and a user is
// linked at most once per directory.
struct DirectoryLink {
  std::string directory;  // the directory's name in the config
  std::string anchor;     // entryUUID (OpenLDAP) or objectGUID as hex (AD)
  TenantId tenant;
  UserId user;
  // Set when a sync disabled the user because its object left the directory: the user is
  // deleted once the retention has passed, and restored if the anchor comes back first.
  std::optional<Timestamp> disabled_by_sync_at;
  // What the user was last settled to, so that a full read can leave an unchanged user alone
  // without reading it: the digest of the entry's mapping (mapped_digest(), rules included) and
  // the user's version when a sync wrote it or found it already as mapped. A user changed since
  // (another version), a changed entry or changed rules (another digest) is compared in full.
  // Empty and 0 when unknown: links from before schema 5, disables.
  std::string mapped_digest = {};
  ResourceVersion settled_version = 0;
  friend bool operator==(const DirectoryLink&, const DirectoryLink&) = default;
};

// A link as a full read judges it before reading any user (StoreReader::link_states): whether
// its user may be left unread when the entry maps to the recorded digest again.
struct LinkState {
  std::string anchor;
  UserId user;
  std::string mapped_digest;
  // Not disabled by sync, a digest recorded, and the user still at the version it was settled
  // at: nothing but the entry or the rules can have moved it from what the digest describes.
  bool settled = false;
  friend bool operator==(const LinkState&, const LinkState&) = default;
};

// A group the directory's rules name, with its members as the read that wrote the directory's
// cursor saw them. Stored with the cursor, in the same transaction, so that the next incremental
// read can tell who joined and who left it: a membership change shows on no user entry (the
// server maintains memberOf without a change stamp on the user), and a user who left a group keeps
// no trace of it. The reader defines the key and the digest; the store keeps them as given.
struct RuleGroupMembers {
  std::string group;                 // the group's DN as the reader normalises it: the key
  std::uint64_t digest = 0;          // of `group` and `members`, computed by the reader
  std::vector<std::string> members;  // member DNs as read, each once, in the reader's order
  friend bool operator==(const RuleGroupMembers&, const RuleGroupMembers&) = default;
};

// A stored RuleGroupMembers without its members: what tells which groups changed.
struct RuleGroupDigest {
  std::string group;
  std::uint64_t digest = 0;
  friend bool operator==(const RuleGroupDigest&, const RuleGroupDigest&) = default;
};

enum class RunKind { full, incremental, apply_plan };
std::string_view to_string(RunKind kind);  // "full", "incremental", "applyPlan"
std::optional<RunKind> parse_run_kind(std::string_view text);

enum class RunOutcome {
  running,     // started, not finished (or the process died: a later run resumes or replaces it)
  applied,     // every planned operation was applied (failed ones are counted in `failed`)
  unchanged,   // the plan was empty
  held,        // over a safety threshold: saved to `plan_file`, waiting for approval
  incomplete,  // the read was incomplete; creates and updates were applied, nothing disabled
  failed,      // the run could not read or plan; nothing was applied
};
std::string_view to_string(RunOutcome outcome);  // "running", "applied", ...
std::optional<RunOutcome> parse_run_outcome(std::string_view text);

// One sync run, as `idbridged sync --runs` and /status show it.
struct SyncRun {
  std::int64_t id = 0;  // assigned by the store
  std::string directory;
  RunKind kind = RunKind::full;
  Timestamp started{};
  std::optional<Timestamp> finished;
  RunOutcome outcome = RunOutcome::running;
  std::int64_t read = 0;     // directory entries read
  std::int64_t planned = 0;  // operations in the plan
  std::int64_t applied = 0;  // operations applied so far (committed with them: resumable)
  std::int64_t failed = 0;   // operations refused by a tenant rule (each in `error` or the log)
  std::string plan_id;       // the plan's fingerprint (apply runs and held plans)
  std::string plan_file;     // where a held plan was saved
  std::string error;         // the first error, client-safe (never a secret)
  friend bool operator==(const SyncRun&, const SyncRun&) = default;
};

}  // namespace idbridge::core::sync
