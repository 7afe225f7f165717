// Private to idbridge_core: what the planner (sync_plan.cpp) decides about one linked user, shared
// with load_tenant_view (sync_apply.cpp) so that it can leave out the users a plan would not touch.
#pragma once

#include "idbridge/core/sync/plan.hpp"

#include <set>
#include <string>
#include <vector>

namespace idbridge::core::sync::detail {

// What the directory owns, worked out once per plan rather than once per user (at 100,000 users
// the per-user lookups were a measurable share of an unchanged run).
struct Ownership {
  // `creating`: for a new user, whose every mapped attribute comes from the directory; otherwise
  // the attributes the write-back authority sets on create only are left to SCIM or the tenant.
  Ownership(const MappingRules& rules, bool creating);
  bool user_name, external_id, display_name, nick_name, title, user_type, preferred_language,
      locale, timezone, given_name, family_name, middle_name, formatted, employee_number,
      cost_center, organization, division, department, emails, phone_numbers, active;
  std::set<std::string> managed_profiles;  // profiles named by profile rules
  // Existing users only: MappingRules::corrected_in_directory.
  std::vector<std::string> corrected_in_directory;
};

// The tenant user as the directory wants it: only directory-owned attributes (the mapped ones,
// the role, the rule-managed profiles, and `active` when a disabled rule exists) are taken from
// the directory; everything else the tenant holds is kept.
User target_user(const User& current, const DesiredUser& desired, const Ownership& owns);

// The attributes SCIM owns whose value in the entry (as mapped into `desired`) differs from the
// tenant's: before = the directory's value, after = the tenant's. Empty for users disabled by
// sync, whose entry is gone or returning.
std::vector<AttributeChange> directory_corrections(const LinkedUser& current,
                                                   const DesiredUser& desired,
                                                   const Ownership& owns);

// Whether plan() gives no operation for this linked user and the entry read for it: not disabled
// by sync, every directory-owned attribute and every rule-managed group as the directory wants,
// and no SCIM-owned value to correct in the directory.
// `owns` is the ownership of existing users (creating = false), as plan() uses for them.
bool leaves_unchanged(const LinkedUser& current, const DesiredUser& desired, const Ownership& owns);

}  // namespace idbridge::core::sync::detail
