// The write-back outbox: directory writes queued in the same transaction as the tenant change
// they come from, delivered in order per object, and the conflicts found on the way. Plain
// values; the Store port keeps them (store.hpp), the daemon's delivery worker consumes them.
#pragma once

#include "idbridge/core/change.hpp"
#include "idbridge/core/ids.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core::writeback {

enum class WriteKind {
  create_user,    // add the entry; `changes` holds every written-back target's value
  modify_user,    // replace the changed targets' values (a rename when the naming one changes)
  disable_user,   // active became false
  enable_user,    // active became true
  delete_user,    // delete (or move) the entry
  add_member,     // add the user's entry to `group_dn`
  remove_member,  // remove it
  set_password,   // `secret` holds the sealed new password
};
std::string_view to_string(WriteKind kind);  // "createUser", "modifyUser", ...
std::optional<WriteKind> parse_write_kind(std::string_view text);

struct OutboxItem {
  std::int64_t id = 0;  // assigned by the store; delivery order within an object
  std::string directory;
  TenantId tenant;
  UserId user;         // the user the write is about (every kind is about one user's entry)
  std::string anchor;  // the entry's anchor when known at enqueue time ("" before it exists)
  WriteKind kind = WriteKind::modify_user;
  // Per target: the value the directory is believed to hold (before) and the one to write
  // (after). Delivery asserts `before` so that a concurrent directory edit is detected, not
  // overwritten.
  std::vector<AttributeChange> changes;
  std::string group_dn;  // add_member / remove_member
  std::string secret;    // set_password: sealed (never plaintext), "" otherwise
  Actor actor;           // who made the tenant change (for conflict records and logs)
  Timestamp enqueued{};
  int attempts = 0;
  std::optional<Timestamp> next_attempt;  // not before; none: now
  std::string last_error;                 // the last delivery failure (client-safe)
  std::optional<Timestamp> parked;        // set: stopped retrying, needs an admin
  friend bool operator==(const OutboxItem&, const OutboxItem&) = default;
};

struct OutboxStats {
  std::int64_t pending = 0;  // not parked
  std::int64_t parked = 0;
  std::optional<Timestamp> oldest_pending;  // enqueue time of the oldest pending item
  friend bool operator==(const OutboxStats&, const OutboxStats&) = default;
};

// An attribute both sides changed between two syncs. The owner's value was kept; the loser's
// is recorded here so that nothing is silently dropped.
struct Conflict {
  std::int64_t id = 0;  // assigned by the store
  std::string directory;
  TenantId tenant;
  UserId user;
  std::string target;  // the tenant attribute ("title")
  Authority owner = Authority::directory;
  std::string kept;     // the owner's value, now on both sides
  std::string lost;     // the other side's value
  std::string lost_by;  // who wrote the lost value: "directory" or the SCIM actor
  Timestamp detected{};
  friend bool operator==(const Conflict&, const Conflict&) = default;
};

}  // namespace idbridge::core::writeback
