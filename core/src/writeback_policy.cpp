// Write-back policy values: authority names, bindings, and a user's value of a mapping target.
#include "idbridge/core/writeback/outbox.hpp"
#include "idbridge/core/writeback/policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace idbridge::core::writeback {
namespace {

constexpr std::array<std::pair<Authority, std::string_view>, 3> authority_names{{
    {Authority::directory, "directory"},
    {Authority::scim, "scim"},
    {Authority::tenant, "tenant"},
}};

constexpr std::array<std::pair<WriteKind, std::string_view>, 8> write_kind_names{{
    {WriteKind::create_user, "createUser"},
    {WriteKind::modify_user, "modifyUser"},
    {WriteKind::disable_user, "disableUser"},
    {WriteKind::enable_user, "enableUser"},
    {WriteKind::delete_user, "deleteUser"},
    {WriteKind::add_member, "addMember"},
    {WriteKind::remove_member, "removeMember"},
    {WriteKind::set_password, "setPassword"},
}};

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum e) {
  for (const auto& [value, name] : names) {
    if (value == e) {
      return name;
    }
  }
  return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                             std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

std::string contact(const std::vector<ContactValue>& list, bool primary, std::string_view type) {
  for (const auto& value : list) {
    if (primary ? value.primary : (!value.primary && (type.empty() || value.type == type))) {
      return value.value;
    }
  }
  return {};
}

std::string phone(const std::vector<ContactValue>& list, std::string_view type) {
  for (const auto& value : list) {
    if (value.type == type) {
      return value.value;
    }
  }
  return {};
}

}  // namespace

std::string_view to_string(Authority authority) {
  return name_of(authority_names, authority);
}
std::optional<Authority> parse_authority(std::string_view text) {
  return value_of(authority_names, text);
}
std::string_view to_string(WriteKind kind) {
  return name_of(write_kind_names, kind);
}
std::optional<WriteKind> parse_write_kind(std::string_view text) {
  return value_of(write_kind_names, text);
}

const AttributeBinding* Policy::binding(std::string_view target) const {
  const auto it = std::find_if(attributes.begin(), attributes.end(),
                               [&](const AttributeBinding& b) { return b.target == target; });
  return it == attributes.end() ? nullptr : &*it;
}

AttributeBinding* Policy::binding(std::string_view target) {
  return const_cast<AttributeBinding*>(std::as_const(*this).binding(target));
}

const GroupBinding* Policy::group_binding(std::string_view tenant_group) const {
  const auto it =
      std::find_if(group_bindings.begin(), group_bindings.end(),
                   [&](const GroupBinding& b) { return b.tenant_group == tenant_group; });
  return it == group_bindings.end() ? nullptr : &*it;
}

std::string target_value(const User& user, std::string_view target) {
  if (target == "userName")
    return user.user_name;
  if (target == "externalId")
    return user.external_id.value_or("");
  if (target == "displayName")
    return user.display_name;
  if (target == "name.givenName")
    return user.name.given_name;
  if (target == "name.familyName")
    return user.name.family_name;
  if (target == "name.middleName")
    return user.name.middle_name;
  if (target == "name.formatted")
    return user.name.formatted;
  if (target == "nickName")
    return user.nick_name;
  if (target == "title")
    return user.title;
  if (target == "userType")
    return user.user_type;
  if (target == "preferredLanguage")
    return user.preferred_language;
  if (target == "locale")
    return user.locale;
  if (target == "timezone")
    return user.timezone;
  if (target == "emails.primary")
    return contact(user.emails, true, "");
  if (target == "emails.backup")
    return contact(user.emails, false, "");
  if (target == "phoneNumbers.work")
    return phone(user.phone_numbers, "work");
  if (target == "phoneNumbers.mobile")
    return phone(user.phone_numbers, "mobile");
  if (target == "enterprise.employeeNumber")
    return user.enterprise.employee_number;
  if (target == "enterprise.costCenter")
    return user.enterprise.cost_center;
  if (target == "enterprise.organization")
    return user.enterprise.organization;
  if (target == "enterprise.division")
    return user.enterprise.division;
  if (target == "enterprise.department")
    return user.enterprise.department;
  if (target == "active")
    return user.active ? "true" : "false";
  return {};
}

}  // namespace idbridge::core::writeback
