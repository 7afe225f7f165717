// The Store conformance suite's fixture: every backend is one StoreBackend, instantiated with
// INSTANTIATE_TEST_SUITE_P(Name, StoreConformance, ValuesIn(...), backend_name), and must pass
// every TEST_P in conformance_test.cpp.
#pragma once

#include "idbridge/core/change.hpp"
#include "idbridge/core/error.hpp"
#include "idbridge/core/store.hpp"
#include "idbridge/core/sync/state.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

namespace idbridge::store_test {

struct StoreBackend {
  std::string name;
  // Opens (creating on first use) the store whose data belongs to `dir`; opening the same
  // `dir` again must reopen the same data.
  std::function<std::unique_ptr<core::Store>(const std::string& dir)> open;
};

inline std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

// Every test starts with a fresh store holding two tenants, acme and globex.
class StoreConformance : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;

  core::Store& store() { return *store_; }
  void reopen();
  // One write transaction holding only this insert.
  void insert(const core::User& user);
  void insert(const core::Group& group);
  std::optional<core::User> stored_user(const core::TenantId& tenant, const std::string& id);

  const core::TenantId acme{"acme"};
  const core::TenantId globex{"globex"};
  testing::TempDir dir_;
  std::unique_ptr<core::Store> store_;
};

core::Timestamp at_millis(std::int64_t millis);

// A user with the fields every stored user has; `version` 1.
core::User make_user(const std::string& tenant, const std::string& id,
                     const std::string& user_name);
// A user with every field set to a non-default value.
core::User full_user(const std::string& tenant, const std::string& id,
                     const std::string& user_name);
core::Group make_group(const std::string& tenant, const std::string& id,
                       const std::string& display_name);
core::ChangeRecord make_change(const std::string& tenant, const std::string& resource_id,
                               core::ResourceVersion version);

core::sync::DirectoryLink make_link(const std::string& directory, const std::string& anchor,
                                    const std::string& tenant, const std::string& user_id);
// A finished run with every field set to a non-default value.
core::sync::SyncRun make_run(const std::string& directory, std::int64_t started_millis);

// Expects `action` to throw StoreConstraintViolation for `code`.
template <class Action>
void expect_violation(core::ErrorCode code, Action&& action) {
  try {
    action();
    ADD_FAILURE() << "expected StoreConstraintViolation " << core::to_string(code);
  } catch (const core::StoreConstraintViolation& violation) {
    EXPECT_EQ(violation.rule(), code) << violation.what();
  }
}

}  // namespace idbridge::store_test
