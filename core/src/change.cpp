// Per-attribute differences between two states of a user or group, as canonical text.
#include "idbridge/core/change.hpp"

#include "canonical_text.hpp"

#include <string_view>
#include <utility>

namespace idbridge::core {
namespace {

// Paths are literals: only the paths of attributes that changed are copied into the result.
using Flat = std::vector<std::pair<std::string_view, std::optional<std::string>>>;

std::optional<std::string> text_or_absent(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> contacts_text(const std::vector<ContactValue>& values) {
  if (values.empty()) {
    return std::nullopt;
  }
  detail::JsonWriter json;
  json.begin_array();
  for (const auto& v : values) {
    json.begin_object().field("value", v.value).field("type", v.type).field("primary", v.primary);
    json.end_object();
  }
  return json.end_array().take();
}

std::optional<std::string> addresses_text(const std::vector<Address>& values) {
  if (values.empty()) {
    return std::nullopt;
  }
  detail::JsonWriter json;
  json.begin_array();
  for (const auto& a : values) {
    json.begin_object()
        .field("type", a.type)
        .field("formatted", a.formatted)
        .field("streetAddress", a.street_address)
        .field("locality", a.locality)
        .field("region", a.region)
        .field("postalCode", a.postal_code)
        .field("country", a.country)
        .field("primary", a.primary)
        .end_object();
  }
  return json.end_array().take();
}

std::optional<std::string> strings_text(const std::vector<std::string>& values) {
  if (values.empty()) {
    return std::nullopt;
  }
  detail::JsonWriter json;
  json.begin_array();
  for (const auto& v : values) {
    json.value(v);
  }
  return json.end_array().take();
}

std::optional<std::string> extensions_text(const std::vector<Extension>& values) {
  if (values.empty()) {
    return std::nullopt;
  }
  detail::JsonWriter json;
  json.begin_array();
  for (const auto& e : values) {
    json.begin_object()
        .field("number", e.number)
        .field("e911Location", e.e911_location)
        .field("primary", e.primary)
        .end_object();
  }
  return json.end_array().take();
}

std::string mfa_text(const MfaSettings& mfa) {
  detail::JsonWriter json;
  json.begin_object().key("method").value(to_string(mfa.method));
  json.key("emailAddresses").begin_array();
  for (const auto& e : mfa.email_addresses) {
    json.value(e);
  }
  json.end_array().key("smsNumbers").begin_array();
  for (const auto& n : mfa.sms_numbers) {
    json.value(n);
  }
  return json.end_array().end_object().take();
}

std::string bool_text(bool flag) {
  return flag ? "true" : "false";
}

Flat flatten(const User& u) {
  Flat flat;
  flat.reserve(31);
  flat.emplace_back("userName", text_or_absent(u.user_name));
  flat.emplace_back("externalId", u.external_id);
  flat.emplace_back("name.formatted", text_or_absent(u.name.formatted));
  flat.emplace_back("name.familyName", text_or_absent(u.name.family_name));
  flat.emplace_back("name.givenName", text_or_absent(u.name.given_name));
  flat.emplace_back("name.middleName", text_or_absent(u.name.middle_name));
  flat.emplace_back("name.honorificPrefix", text_or_absent(u.name.honorific_prefix));
  flat.emplace_back("name.honorificSuffix", text_or_absent(u.name.honorific_suffix));
  flat.emplace_back("displayName", text_or_absent(u.display_name));
  flat.emplace_back("nickName", text_or_absent(u.nick_name));
  flat.emplace_back("profileUrl", text_or_absent(u.profile_url));
  flat.emplace_back("title", text_or_absent(u.title));
  flat.emplace_back("userType", text_or_absent(u.user_type));
  flat.emplace_back("preferredLanguage", text_or_absent(u.preferred_language));
  flat.emplace_back("locale", text_or_absent(u.locale));
  flat.emplace_back("timezone", text_or_absent(u.timezone));
  flat.emplace_back("active", bool_text(u.active));
  flat.emplace_back("emails", contacts_text(u.emails));
  flat.emplace_back("phoneNumbers", contacts_text(u.phone_numbers));
  flat.emplace_back("addresses", addresses_text(u.addresses));
  flat.emplace_back("role", std::string(to_string(u.role)));
  flat.emplace_back("profiles", strings_text(u.profiles));
  flat.emplace_back("extensions", extensions_text(u.extensions));
  flat.emplace_back("mfa", mfa_text(u.mfa));
  flat.emplace_back("mustChangePassword", bool_text(u.must_change_password));
  flat.emplace_back("enterprise.employeeNumber", text_or_absent(u.enterprise.employee_number));
  flat.emplace_back("enterprise.costCenter", text_or_absent(u.enterprise.cost_center));
  flat.emplace_back("enterprise.organization", text_or_absent(u.enterprise.organization));
  flat.emplace_back("enterprise.division", text_or_absent(u.enterprise.division));
  flat.emplace_back("enterprise.department", text_or_absent(u.enterprise.department));
  flat.emplace_back("enterprise.manager",
                    u.enterprise.manager ? std::optional<std::string>(u.enterprise.manager->str())
                                         : std::nullopt);
  return flat;
}

Flat flatten(const Group& g) {
  return {
      {"displayName", text_or_absent(g.display_name)},
      {"externalId", g.external_id},
      {"kind", std::string(to_string(g.kind))},
  };
}

// Both flattenings list the same paths in the same order, so a positional walk suffices.
template <class T>
std::vector<AttributeChange> diff(const T* before, const T* after) {
  Flat b = before != nullptr ? flatten(*before) : Flat{};
  Flat a = after != nullptr ? flatten(*after) : Flat{};
  const Flat& paths = before != nullptr ? b : a;
  std::vector<AttributeChange> changes;
  const std::optional<std::string> absent;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::optional<std::string>* old_value = b.empty() ? nullptr : &b[i].second;
    std::optional<std::string>* new_value = a.empty() ? nullptr : &a[i].second;
    if ((old_value != nullptr ? *old_value : absent) !=
        (new_value != nullptr ? *new_value : absent)) {
      changes.push_back({std::string(paths[i].first),
                         old_value != nullptr ? std::move(*old_value) : std::nullopt,
                         new_value != nullptr ? std::move(*new_value) : std::nullopt});
    }
  }
  return changes;
}

}  // namespace

std::vector<AttributeChange> diff_users(const User* before, const User* after) {
  return diff(before, after);
}

std::vector<AttributeChange> diff_groups(const Group* before, const Group* after) {
  return diff(before, after);
}

}  // namespace idbridge::core
