// Default implementations of the Store port's derived reads.
#include "idbridge/core/store.hpp"

namespace idbridge::core {

bool StoreWriter::update_user(const User& user, const User& stored) {
  return update_user(user, stored.version);
}

std::vector<GroupName> StoreReader::group_names_of_user(const TenantId& tenant,
                                                        const UserId& user) {
  std::vector<GroupName> names;
  if (auto all = find_system_group(tenant)) {
    names.push_back({all->id, all->display_name});
  }
  for (auto& id : groups_containing(tenant, {MemberType::user, user.str()})) {
    if (auto group = find_group(tenant, id)) {
      names.push_back({std::move(id), std::move(group->display_name)});
    }
  }
  return names;
}

}  // namespace idbridge::core
