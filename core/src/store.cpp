// Default implementations of the Store port's derived reads.
#include "idbridge/core/store.hpp"

#include <unordered_map>

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

std::vector<sync::LinkState> StoreReader::link_states(std::string_view directory,
                                                      const TenantId& tenant) {
  std::unordered_map<std::string, ResourceVersion> versions;
  for_each_user_where(
      tenant,
      [&](const UserRowKey& row) {
        versions.emplace(std::string(row.id), row.version);
        return false;
      },
      [](User&) {});
  std::vector<sync::LinkState> states;
  for (auto& link : list_links(directory)) {
    if (link.tenant != tenant) {
      continue;
    }
    const auto version = versions.find(link.user.str());
    const bool settled = !link.disabled_by_sync_at && !link.mapped_digest.empty() &&
                         version != versions.end() && version->second == link.settled_version;
    states.push_back(
        {std::move(link.anchor), std::move(link.user), std::move(link.mapped_digest), settled});
  }
  return states;
}

}  // namespace idbridge::core
