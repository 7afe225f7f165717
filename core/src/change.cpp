// Per-attribute differences between two states of a user or group, as canonical text.
#include "idbridge/core/change.hpp"

#include "canonical_text.hpp"

#include <utility>

namespace idbridge::core {
namespace {

using Flat = std::vector<std::pair<std::string, std::optional<std::string>>>;

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
  return {
      {"userName", text_or_absent(u.user_name)},
      {"externalId", u.external_id},
      {"name.formatted", text_or_absent(u.name.formatted)},
      {"name.familyName", text_or_absent(u.name.family_name)},
      {"name.givenName", text_or_absent(u.name.given_name)},
      {"name.middleName", text_or_absent(u.name.middle_name)},
      {"name.honorificPrefix", text_or_absent(u.name.honorific_prefix)},
      {"name.honorificSuffix", text_or_absent(u.name.honorific_suffix)},
      {"displayName", text_or_absent(u.display_name)},
      {"nickName", text_or_absent(u.nick_name)},
      {"profileUrl", text_or_absent(u.profile_url)},
      {"title", text_or_absent(u.title)},
      {"userType", text_or_absent(u.user_type)},
      {"preferredLanguage", text_or_absent(u.preferred_language)},
      {"locale", text_or_absent(u.locale)},
      {"timezone", text_or_absent(u.timezone)},
      {"active", bool_text(u.active)},
      {"emails", contacts_text(u.emails)},
      {"phoneNumbers", contacts_text(u.phone_numbers)},
      {"addresses", addresses_text(u.addresses)},
      {"role", std::string(to_string(u.role))},
      {"profiles", strings_text(u.profiles)},
      {"extensions", extensions_text(u.extensions)},
      {"mfa", mfa_text(u.mfa)},
      {"mustChangePassword", bool_text(u.must_change_password)},
      {"enterprise.employeeNumber", text_or_absent(u.enterprise.employee_number)},
      {"enterprise.costCenter", text_or_absent(u.enterprise.cost_center)},
      {"enterprise.organization", text_or_absent(u.enterprise.organization)},
      {"enterprise.division", text_or_absent(u.enterprise.division)},
      {"enterprise.department", text_or_absent(u.enterprise.department)},
      {"enterprise.manager", u.enterprise.manager
                                 ? std::optional<std::string>(u.enterprise.manager->str())
                                 : std::nullopt},
  };
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
  const Flat b = before != nullptr ? flatten(*before) : Flat{};
  const Flat a = after != nullptr ? flatten(*after) : Flat{};
  const Flat& paths = before != nullptr ? b : a;
  std::vector<AttributeChange> changes;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::optional<std::string> old_value = b.empty() ? std::nullopt : b[i].second;
    std::optional<std::string> new_value = a.empty() ? std::nullopt : a[i].second;
    if (old_value != new_value) {
      changes.push_back({paths[i].first, std::move(old_value), std::move(new_value)});
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
