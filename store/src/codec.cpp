// JSON encoding of users, groups and change attributes. Decoding tolerates absent keys (they take
// the field's default) so a field added to the model later needs no rewrite of stored documents;
// a key of the wrong type is corruption.
#include "codec.hpp"

#include "idbridge/core/error.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <optional>
#include <utility>

namespace idbridge::store::codec {
namespace {

using nlohmann::json;

template <class Enum, std::size_t N>
using Names = std::array<std::pair<Enum, std::string_view>, N>;

constexpr Names<core::Role, 4> role_names{{
    {core::Role::limited_access_user, "limited_access_user"},
    {core::Role::standard_user, "standard_user"},
    {core::Role::administrator, "administrator"},
    {core::Role::account_owner, "account_owner"},
}};
constexpr Names<core::GroupKind, 4> group_kind_names{{
    {core::GroupKind::access, "access"},
    {core::GroupKind::team, "team"},
    {core::GroupKind::contact_type, "contact_type"},
    {core::GroupKind::distribution, "distribution"},
}};
constexpr Names<core::MfaMethod, 5> mfa_method_names{{
    {core::MfaMethod::none, "none"},
    {core::MfaMethod::email, "email"},
    {core::MfaMethod::sms, "sms"},
    {core::MfaMethod::totp, "totp"},
    {core::MfaMethod::webauthn, "webauthn"},
}};
constexpr Names<core::MemberType, 2> member_type_names{{
    {core::MemberType::user, "user"},
    {core::MemberType::group, "group"},
}};
constexpr Names<core::ResourceType, 2> resource_type_names{{
    {core::ResourceType::user, "user"},
    {core::ResourceType::group, "group"},
}};
constexpr Names<core::ChangeKind, 3> change_kind_names{{
    {core::ChangeKind::created, "created"},
    {core::ChangeKind::updated, "updated"},
    {core::ChangeKind::deleted, "deleted"},
}};
constexpr Names<core::ActorKind, 4> actor_kind_names{{
    {core::ActorKind::credential, "credential"},
    {core::ActorKind::sync_run, "sync_run"},
    {core::ActorKind::cli, "cli"},
    {core::ActorKind::system, "system"},
}};
constexpr Names<core::OriginKind, 4> origin_kind_names{{
    {core::OriginKind::scim, "scim"},
    {core::OriginKind::directory_sync, "directory_sync"},
    {core::OriginKind::cli, "cli"},
    {core::OriginKind::system, "system"},
}};
constexpr Names<core::sync::RunKind, 3> run_kind_names{{
    {core::sync::RunKind::full, "full"},
    {core::sync::RunKind::incremental, "incremental"},
    {core::sync::RunKind::apply_plan, "apply_plan"},
}};
constexpr Names<core::sync::RunOutcome, 6> run_outcome_names{{
    {core::sync::RunOutcome::running, "running"},
    {core::sync::RunOutcome::applied, "applied"},
    {core::sync::RunOutcome::unchanged, "unchanged"},
    {core::sync::RunOutcome::held, "held"},
    {core::sync::RunOutcome::incomplete, "incomplete"},
    {core::sync::RunOutcome::failed, "failed"},
}};

constexpr Names<core::writeback::WriteKind, 8> write_kind_names{{
    {core::writeback::WriteKind::create_user, "create_user"},
    {core::writeback::WriteKind::modify_user, "modify_user"},
    {core::writeback::WriteKind::disable_user, "disable_user"},
    {core::writeback::WriteKind::enable_user, "enable_user"},
    {core::writeback::WriteKind::delete_user, "delete_user"},
    {core::writeback::WriteKind::add_member, "add_member"},
    {core::writeback::WriteKind::remove_member, "remove_member"},
    {core::writeback::WriteKind::set_password, "set_password"},
}};

constexpr Names<core::writeback::Authority, 3> authority_names{{
    {core::writeback::Authority::directory, "directory"},
    {core::writeback::Authority::scim, "scim"},
    {core::writeback::Authority::tenant, "tenant"},
}};

template <class Enum, std::size_t N>
std::string_view name_of(const Names<Enum, N>& names, Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) {
      return name;
    }
  }
  throw core::StoreFailure("store codec: enum value out of range");
}

template <class Enum, std::size_t N>
Enum parse(const Names<Enum, N>& names, std::string_view text, std::string_view what) {
  for (const auto& [value, name] : names) {
    if (name == text) {
      return value;
    }
  }
  // The stored spelling is schema text, not user data, so naming it is safe and useful.
  throw core::StoreFailure("store codec: unknown " + std::string(what) + " '" + std::string(text) +
                           "'");
}

// Absent keys leave `out` at its default; present keys must have the right type.
template <class T>
void read(const json& object, const char* key, T& out) {
  if (const auto it = object.find(key); it != object.end()) {
    it->get_to(out);
  }
}

void read(const json& object, const char* key, std::optional<std::string>& out) {
  if (const auto it = object.find(key); it != object.end() && !it->is_null()) {
    out = it->get<std::string>();
  } else {
    out.reset();
  }
}

json optional_text(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

json encode_contacts(const std::vector<core::ContactValue>& values) {
  json out = json::array();
  for (const auto& value : values) {
    json entry = json::object();
    entry["value"] = value.value;
    entry["type"] = value.type;
    entry["primary"] = value.primary;
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<core::ContactValue> decode_contacts(const json& object, const char* key) {
  std::vector<core::ContactValue> out;
  if (const auto it = object.find(key); it != object.end()) {
    for (const auto& entry : it->get_ref<const json::array_t&>()) {
      core::ContactValue value;
      read(entry, "value", value.value);
      read(entry, "type", value.type);
      read(entry, "primary", value.primary);
      out.push_back(std::move(value));
    }
  }
  return out;
}

[[noreturn]] void corrupt(std::string_view what, std::string_view id) {
  throw core::StoreFailure("store codec: stored " + std::string(what) + " document" +
                           (id.empty() ? std::string() : " of id '" + std::string(id) + "'") +
                           " is corrupt");
}

std::string id_of(const json& object) {
  if (object.is_object()) {
    if (const auto it = object.find("id"); it != object.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return {};
}

}  // namespace

std::string_view to_text(core::Role value) {
  return name_of(role_names, value);
}
std::string_view to_text(core::GroupKind value) {
  return name_of(group_kind_names, value);
}
std::string_view to_text(core::MfaMethod value) {
  return name_of(mfa_method_names, value);
}
std::string_view to_text(core::MemberType value) {
  return name_of(member_type_names, value);
}
std::string_view to_text(core::ResourceType value) {
  return name_of(resource_type_names, value);
}
std::string_view to_text(core::ChangeKind value) {
  return name_of(change_kind_names, value);
}
std::string_view to_text(core::ActorKind value) {
  return name_of(actor_kind_names, value);
}
std::string_view to_text(core::OriginKind value) {
  return name_of(origin_kind_names, value);
}
std::string_view to_text(core::sync::RunKind value) {
  return name_of(run_kind_names, value);
}
std::string_view to_text(core::sync::RunOutcome value) {
  return name_of(run_outcome_names, value);
}

std::string_view to_text(core::writeback::WriteKind value) {
  return name_of(write_kind_names, value);
}
std::string_view to_text(core::writeback::Authority value) {
  return name_of(authority_names, value);
}

core::Role role_from_text(std::string_view text) {
  return parse(role_names, text, "role");
}
core::GroupKind group_kind_from_text(std::string_view text) {
  return parse(group_kind_names, text, "group kind");
}
core::MfaMethod mfa_method_from_text(std::string_view text) {
  return parse(mfa_method_names, text, "mfa method");
}
core::MemberType member_type_from_text(std::string_view text) {
  return parse(member_type_names, text, "member type");
}
core::ResourceType resource_type_from_text(std::string_view text) {
  return parse(resource_type_names, text, "resource type");
}
core::ChangeKind change_kind_from_text(std::string_view text) {
  return parse(change_kind_names, text, "change kind");
}
core::ActorKind actor_kind_from_text(std::string_view text) {
  return parse(actor_kind_names, text, "actor kind");
}
core::OriginKind origin_kind_from_text(std::string_view text) {
  return parse(origin_kind_names, text, "origin kind");
}
core::sync::RunKind run_kind_from_text(std::string_view text) {
  return parse(run_kind_names, text, "sync run kind");
}
core::sync::RunOutcome run_outcome_from_text(std::string_view text) {
  return parse(run_outcome_names, text, "sync run outcome");
}
core::writeback::WriteKind write_kind_from_text(std::string_view text) {
  return parse(write_kind_names, text, "write-back kind");
}
core::writeback::Authority authority_from_text(std::string_view text) {
  return parse(authority_names, text, "authority");
}

std::int64_t to_millis(core::Timestamp at) {
  return at.time_since_epoch().count();
}

core::Timestamp from_millis(std::int64_t millis) {
  return core::Timestamp(std::chrono::milliseconds(millis));
}

// Documents are built by assigning members rather than from nested initializer lists: the
// lists deep-copy every nested value, which made encoding twice as slow (a first sync encodes
// 100,000 users). The output is the same: keys are sorted either way.
std::string encode_user(const core::User& user) {
  json doc = json::object();
  doc["id"] = user.id.str();
  doc["tenant"] = user.tenant.str();
  doc["userName"] = user.user_name;
  doc["externalId"] = optional_text(user.external_id);
  json& name = doc["name"];
  name["formatted"] = user.name.formatted;
  name["familyName"] = user.name.family_name;
  name["givenName"] = user.name.given_name;
  name["middleName"] = user.name.middle_name;
  name["honorificPrefix"] = user.name.honorific_prefix;
  name["honorificSuffix"] = user.name.honorific_suffix;
  doc["displayName"] = user.display_name;
  doc["nickName"] = user.nick_name;
  doc["profileUrl"] = user.profile_url;
  doc["title"] = user.title;
  doc["userType"] = user.user_type;
  doc["preferredLanguage"] = user.preferred_language;
  doc["locale"] = user.locale;
  doc["timezone"] = user.timezone;
  doc["active"] = user.active;
  doc["emails"] = encode_contacts(user.emails);
  doc["phoneNumbers"] = encode_contacts(user.phone_numbers);
  json& addresses = doc["addresses"] = json::array();
  for (const auto& address : user.addresses) {
    json entry = json::object();
    entry["type"] = address.type;
    entry["formatted"] = address.formatted;
    entry["streetAddress"] = address.street_address;
    entry["locality"] = address.locality;
    entry["region"] = address.region;
    entry["postalCode"] = address.postal_code;
    entry["country"] = address.country;
    entry["primary"] = address.primary;
    addresses.push_back(std::move(entry));
  }
  doc["role"] = to_text(user.role);
  doc["profiles"] = user.profiles;
  json& extensions = doc["extensions"] = json::array();
  for (const auto& extension : user.extensions) {
    json entry = json::object();
    entry["number"] = extension.number;
    entry["e911Location"] = extension.e911_location;
    entry["primary"] = extension.primary;
    extensions.push_back(std::move(entry));
  }
  json& mfa = doc["mfa"];
  mfa["method"] = to_text(user.mfa.method);
  mfa["emailAddresses"] = user.mfa.email_addresses;
  mfa["smsNumbers"] = user.mfa.sms_numbers;
  doc["mustChangePassword"] = user.must_change_password;
  doc["passwordSet"] = user.password_set;
  json& enterprise = doc["enterprise"];
  enterprise["employeeNumber"] = user.enterprise.employee_number;
  enterprise["costCenter"] = user.enterprise.cost_center;
  enterprise["organization"] = user.enterprise.organization;
  enterprise["division"] = user.enterprise.division;
  enterprise["department"] = user.enterprise.department;
  enterprise["manager"] =
      user.enterprise.manager ? json(user.enterprise.manager->str()) : json(nullptr);
  doc["version"] = user.version;
  doc["created"] = to_millis(user.created);
  doc["lastModified"] = to_millis(user.last_modified);
  return doc.dump();
}

core::User decode_user(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
    core::User user;
    user.id = core::UserId(doc.at("id").get<std::string>());
    user.tenant = core::TenantId(doc.at("tenant").get<std::string>());
    user.user_name = doc.at("userName").get<std::string>();
    read(doc, "externalId", user.external_id);
    if (const auto name = doc.find("name"); name != doc.end()) {
      read(*name, "formatted", user.name.formatted);
      read(*name, "familyName", user.name.family_name);
      read(*name, "givenName", user.name.given_name);
      read(*name, "middleName", user.name.middle_name);
      read(*name, "honorificPrefix", user.name.honorific_prefix);
      read(*name, "honorificSuffix", user.name.honorific_suffix);
    }
    read(doc, "displayName", user.display_name);
    read(doc, "nickName", user.nick_name);
    read(doc, "profileUrl", user.profile_url);
    read(doc, "title", user.title);
    read(doc, "userType", user.user_type);
    read(doc, "preferredLanguage", user.preferred_language);
    read(doc, "locale", user.locale);
    read(doc, "timezone", user.timezone);
    read(doc, "active", user.active);
    user.emails = decode_contacts(doc, "emails");
    user.phone_numbers = decode_contacts(doc, "phoneNumbers");
    if (const auto addresses = doc.find("addresses"); addresses != doc.end()) {
      for (const auto& entry : addresses->get_ref<const json::array_t&>()) {
        core::Address address;
        read(entry, "type", address.type);
        read(entry, "formatted", address.formatted);
        read(entry, "streetAddress", address.street_address);
        read(entry, "locality", address.locality);
        read(entry, "region", address.region);
        read(entry, "postalCode", address.postal_code);
        read(entry, "country", address.country);
        read(entry, "primary", address.primary);
        user.addresses.push_back(std::move(address));
      }
    }
    if (const auto role = doc.find("role"); role != doc.end()) {
      user.role = role_from_text(role->get_ref<const std::string&>());
    }
    read(doc, "profiles", user.profiles);
    if (const auto extensions = doc.find("extensions"); extensions != doc.end()) {
      for (const auto& entry : extensions->get_ref<const json::array_t&>()) {
        core::Extension extension;
        read(entry, "number", extension.number);
        read(entry, "e911Location", extension.e911_location);
        read(entry, "primary", extension.primary);
        user.extensions.push_back(std::move(extension));
      }
    }
    if (const auto mfa = doc.find("mfa"); mfa != doc.end()) {
      if (const auto method = mfa->find("method"); method != mfa->end()) {
        user.mfa.method = mfa_method_from_text(method->get_ref<const std::string&>());
      }
      read(*mfa, "emailAddresses", user.mfa.email_addresses);
      read(*mfa, "smsNumbers", user.mfa.sms_numbers);
    }
    read(doc, "mustChangePassword", user.must_change_password);
    read(doc, "passwordSet", user.password_set);
    if (const auto enterprise = doc.find("enterprise"); enterprise != doc.end()) {
      read(*enterprise, "employeeNumber", user.enterprise.employee_number);
      read(*enterprise, "costCenter", user.enterprise.cost_center);
      read(*enterprise, "organization", user.enterprise.organization);
      read(*enterprise, "division", user.enterprise.division);
      read(*enterprise, "department", user.enterprise.department);
      std::optional<std::string> manager;
      read(*enterprise, "manager", manager);
      if (manager) {
        user.enterprise.manager = core::UserId(std::move(*manager));
      }
    }
    read(doc, "version", user.version);
    std::int64_t millis = 0;
    read(doc, "created", millis);
    user.created = from_millis(millis);
    millis = 0;
    read(doc, "lastModified", millis);
    user.last_modified = from_millis(millis);
    return user;
  } catch (const json::exception&) {
    corrupt("user", id_of(doc));
  }
}

std::string encode_group(const core::Group& group) {
  const json doc = {
      {"id", group.id.str()},
      {"tenant", group.tenant.str()},
      {"displayName", group.display_name},
      {"externalId", optional_text(group.external_id)},
      {"kind", to_text(group.kind)},
      {"system", group.system},
      {"version", group.version},
      {"created", to_millis(group.created)},
      {"lastModified", to_millis(group.last_modified)},
  };
  return doc.dump();
}

core::Group decode_group(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
    core::Group group;
    group.id = core::GroupId(doc.at("id").get<std::string>());
    group.tenant = core::TenantId(doc.at("tenant").get<std::string>());
    group.display_name = doc.at("displayName").get<std::string>();
    read(doc, "externalId", group.external_id);
    if (const auto kind = doc.find("kind"); kind != doc.end()) {
      group.kind = group_kind_from_text(kind->get_ref<const std::string&>());
    }
    read(doc, "system", group.system);
    read(doc, "version", group.version);
    std::int64_t millis = 0;
    read(doc, "created", millis);
    group.created = from_millis(millis);
    millis = 0;
    read(doc, "lastModified", millis);
    group.last_modified = from_millis(millis);
    return group;
  } catch (const json::exception&) {
    corrupt("group", id_of(doc));
  }
}

std::string encode_attributes(const std::vector<core::AttributeChange>& attributes) {
  json out = json::array();
  for (const auto& change : attributes) {
    json entry = json::object();  // assigned, not from an initializer list: see encode_user
    entry["path"] = change.path;
    entry["before"] = optional_text(change.before);
    entry["after"] = optional_text(change.after);
    out.push_back(std::move(entry));
  }
  return out.dump();
}

std::vector<core::AttributeChange> decode_attributes(std::string_view text) {
  try {
    std::vector<core::AttributeChange> out;
    // Keep the parsed document alive: iterating a reference into a temporary would dangle.
    const json document = json::parse(text);
    for (const auto& entry : document.get_ref<const json::array_t&>()) {
      core::AttributeChange change;
      change.path = entry.at("path").get<std::string>();
      read(entry, "before", change.before);
      read(entry, "after", change.after);
      out.push_back(std::move(change));
    }
    return out;
  } catch (const json::exception&) {
    corrupt("change attributes", {});
  }
}

}  // namespace idbridge::store::codec
