// The SCIM side of write-back: every change to a tenant that has write-back or directory-owned
// attributes passes here inside its transaction. A change to what a directory owns is refused
// (owned_by_directory, which SCIM answers as 400 mutability); an accepted change that the
// directory takes is queued in the outbox in the same commit.
#pragma once

#include "idbridge/core/interceptor.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/core/writeback/outbox.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include <vector>

namespace idbridge::core::writeback {

class WriteBackInterceptor final : public ChangeInterceptor {
 public:
  // `sealer` may be null: then passwords are never written back (and the config refuses
  // `password` write-back without one).
  WriteBackInterceptor(std::vector<Policy> policies, const Clock& clock, SecretSealer* sealer);

  // Changes whose origin is a directory sync are neither refused nor written back: a directory's
  // own changes must not echo back to it, and sync applies only what the directory owns.
  std::optional<Error> before_write(StoreWriter& tx, const Principal& who,
                                    const PendingChange& change) override;

  const std::vector<Policy>& policies() const { return policies_; }

 private:
  std::optional<Error> user_change(StoreWriter& tx, const Principal& who, const Policy& policy,
                                   const PendingChange& change);
  std::optional<Error> group_change(StoreWriter& tx, const Principal& who, const Policy& policy,
                                    const PendingChange& change);

  std::vector<Policy> policies_;
  const Clock& clock_;
  SecretSealer* sealer_;
};

}  // namespace idbridge::core::writeback
