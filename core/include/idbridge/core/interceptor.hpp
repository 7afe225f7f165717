// A port through which another part of the core sees every user and group change inside the
// transaction that makes it, before anything is written, and may refuse it or add its own writes
// to that transaction. Directory write-back uses it to refuse SCIM writes to directory-owned
// attributes and to queue the directory writes in the same commit as the change (a transactional
// outbox: a change is never committed without its write-back, nor the other way round).
#pragma once

#include "idbridge/core/change.hpp"
#include "idbridge/core/error.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/principal.hpp"

#include <optional>
#include <string>
#include <vector>

namespace idbridge::core {

class StoreWriter;

// One change about to be written. For users `before`/`after` are the whole user (nullptr for a
// create or a delete); for groups `group` is the group as it is before the change and the member
// lists say what is added and removed.
struct PendingChange {
  ResourceType resource_type = ResourceType::user;
  ChangeKind kind = ChangeKind::updated;
  TenantId tenant;
  const User* before = nullptr;
  const User* after = nullptr;
  // The new plaintext password, when the change sets one. Only a write-back that is configured
  // to deliver passwords keeps it, and then only sealed (never in a change record or a log).
  const std::string* new_password = nullptr;
  const Group* group = nullptr;
  std::vector<MemberRef> members_added = {};
  std::vector<MemberRef> members_removed = {};
};

class ChangeInterceptor {
 public:
  virtual ~ChangeInterceptor() = default;
  // Called inside the change's transaction, after the service's own rules passed and before the
  // change is written. An Error refuses the change (nothing is written); writes made through
  // `tx` commit or roll back with the change.
  virtual std::optional<Error> before_write(StoreWriter& tx, const Principal& who,
                                            const PendingChange& change) = 0;
  // Called on the same thread once the transaction in which before_write ran has committed
  // durably (never for a nested transaction, nor for one rolled back): what the interceptor
  // wrote with the change is now visible to everyone. Write-back wakes its delivery here.
  virtual void after_commit() {}
};

}  // namespace idbridge::core
