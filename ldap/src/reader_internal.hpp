// Private to idbridge_ldap: what the directory reader (reader.cpp) and the persistent sync
// (persist.cpp) share.
#pragma once

#include "idbridge/ldap/reader.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::ldap::reading {

bool is_binary_anchor(std::string_view attribute);
// An entry as the mapper sees it: anchor (hex when binary), attributes, memberOf as groups.
core::sync::DirectoryEntry to_directory_entry(const Entry& entry, const std::string& anchor,
                                              bool binary_anchor);
// What a users search asks for: the rules' attributes, the anchor, memberOf (and
// modifyTimestamp for that profile).
std::vector<std::string> user_attributes(const ReadSettings& settings);
// Settings no read can work with (no users base; content sync without entryUUID anchors).
std::optional<std::string> settings_problem(const ReadSettings& settings);
extern const SleepFunction real_sleep;
std::string cannot_connect(const ReadSettings& settings, const Error& error);

}  // namespace idbridge::ldap::reading
