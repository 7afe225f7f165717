// JSON encoding of users, groups and change attributes. Decoding tolerates absent keys (they take
// the field's default) so a field added to the model later needs no rewrite of stored documents;
// a key of the wrong type is corruption.
#include "codec.hpp"

#include "idbridge/core/error.hpp"
#include "idbridge/core/json_text.hpp"
#include "idbridge/core/rules.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
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
std::string reference::encode_user(const core::User& user) {
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

core::User reference::decode_user(std::string_view text) {
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

std::string reference::encode_group(const core::Group& group) {
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

core::Group reference::decode_group(std::string_view text) {
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

std::string reference::encode_attributes(const std::vector<core::AttributeChange>& attributes) {
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

std::vector<core::AttributeChange> reference::decode_attributes(std::string_view text) {
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

// ---- Encoding without a DOM ----
// Every write of a user encodes its document (and a first sync encodes 100,000), and building an
// nlohmann tree to dump it cost about 100,000 instructions per user: a map node and a copy per
// key and value. The encoders below write the same text directly: keys in the tree's (sorted)
// order, strings escaped exactly as nlohmann's serializer escapes them (\b \t \n \f \r \" \\,
// other control characters as \u00xx, everything else, including '/' and 0x7f, as is). Text that
// is not valid UTF-8, which nlohmann refuses with an exception, is handed to the DOM encoder so
// that it fails exactly as before. store_codec_test compares both encoders.
namespace {

class DocumentWriter {
 public:
  explicit DocumentWriter(std::size_t expected) { out_.reserve(expected); }

  // Punctuation and keys, written as given (the callers' literals need no escaping).
  DocumentWriter& raw(std::string_view text) {
    out_ += text;
    return *this;
  }

  DocumentWriter& string(std::string_view text) {
    if (!core::append_json_string_literal(out_, text)) {
      valid_ = false;
    }
    return *this;
  }

  DocumentWriter& optional_string(const std::optional<std::string>& text) {
    return text ? string(*text) : raw("null");
  }

  DocumentWriter& strings(const std::vector<std::string>& texts) {
    out_ += '[';
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (i > 0) {
        out_ += ',';
      }
      string(texts[i]);
    }
    out_ += ']';
    return *this;
  }

  DocumentWriter& boolean(bool value) { return raw(value ? "true" : "false"); }

  DocumentWriter& integer(std::int64_t value) {
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    out_.append(buffer, end);
    return *this;
  }

  // Whether every string was valid UTF-8; the text is unusable otherwise.
  bool valid() const { return valid_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  bool valid_ = true;
};

void write_contacts(DocumentWriter& w, const std::vector<core::ContactValue>& values) {
  w.raw("[");
  for (std::size_t i = 0; i < values.size(); ++i) {
    w.raw(i > 0 ? ",{\"primary\":" : "{\"primary\":").boolean(values[i].primary);
    w.raw(",\"type\":").string(values[i].type);
    w.raw(",\"value\":").string(values[i].value).raw("}");
  }
  w.raw("]");
}

}  // namespace

std::string encode_user(const core::User& user) {
  DocumentWriter w(1024);
  w.raw("{\"active\":").boolean(user.active);
  w.raw(",\"addresses\":[");
  for (std::size_t i = 0; i < user.addresses.size(); ++i) {
    const auto& address = user.addresses[i];
    w.raw(i > 0 ? ",{\"country\":" : "{\"country\":").string(address.country);
    w.raw(",\"formatted\":").string(address.formatted);
    w.raw(",\"locality\":").string(address.locality);
    w.raw(",\"postalCode\":").string(address.postal_code);
    w.raw(",\"primary\":").boolean(address.primary);
    w.raw(",\"region\":").string(address.region);
    w.raw(",\"streetAddress\":").string(address.street_address);
    w.raw(",\"type\":").string(address.type).raw("}");
  }
  w.raw("],\"created\":").integer(to_millis(user.created));
  w.raw(",\"displayName\":").string(user.display_name);
  w.raw(",\"emails\":");
  write_contacts(w, user.emails);
  w.raw(",\"enterprise\":{\"costCenter\":").string(user.enterprise.cost_center);
  w.raw(",\"department\":").string(user.enterprise.department);
  w.raw(",\"division\":").string(user.enterprise.division);
  w.raw(",\"employeeNumber\":").string(user.enterprise.employee_number);
  w.raw(",\"manager\":");
  if (user.enterprise.manager) {
    w.string(user.enterprise.manager->str());
  } else {
    w.raw("null");
  }
  w.raw(",\"organization\":").string(user.enterprise.organization);
  w.raw("},\"extensions\":[");
  for (std::size_t i = 0; i < user.extensions.size(); ++i) {
    const auto& extension = user.extensions[i];
    w.raw(i > 0 ? ",{\"e911Location\":" : "{\"e911Location\":").string(extension.e911_location);
    w.raw(",\"number\":").string(extension.number);
    w.raw(",\"primary\":").boolean(extension.primary).raw("}");
  }
  w.raw("],\"externalId\":").optional_string(user.external_id);
  w.raw(",\"id\":").string(user.id.str());
  w.raw(",\"lastModified\":").integer(to_millis(user.last_modified));
  w.raw(",\"locale\":").string(user.locale);
  w.raw(",\"mfa\":{\"emailAddresses\":").strings(user.mfa.email_addresses);
  w.raw(",\"method\":").string(to_text(user.mfa.method));
  w.raw(",\"smsNumbers\":").strings(user.mfa.sms_numbers);
  w.raw("},\"mustChangePassword\":").boolean(user.must_change_password);
  w.raw(",\"name\":{\"familyName\":").string(user.name.family_name);
  w.raw(",\"formatted\":").string(user.name.formatted);
  w.raw(",\"givenName\":").string(user.name.given_name);
  w.raw(",\"honorificPrefix\":").string(user.name.honorific_prefix);
  w.raw(",\"honorificSuffix\":").string(user.name.honorific_suffix);
  w.raw(",\"middleName\":").string(user.name.middle_name);
  w.raw("},\"nickName\":").string(user.nick_name);
  w.raw(",\"passwordSet\":").boolean(user.password_set);
  w.raw(",\"phoneNumbers\":");
  write_contacts(w, user.phone_numbers);
  w.raw(",\"preferredLanguage\":").string(user.preferred_language);
  w.raw(",\"profileUrl\":").string(user.profile_url);
  w.raw(",\"profiles\":").strings(user.profiles);
  w.raw(",\"role\":").string(to_text(user.role));
  w.raw(",\"tenant\":").string(user.tenant.str());
  w.raw(",\"timezone\":").string(user.timezone);
  w.raw(",\"title\":").string(user.title);
  w.raw(",\"userName\":").string(user.user_name);
  w.raw(",\"userType\":").string(user.user_type);
  w.raw(",\"version\":").integer(user.version).raw("}");
  return w.valid() ? w.take() : reference::encode_user(user);
}

std::string encode_group(const core::Group& group) {
  DocumentWriter w(256);
  w.raw("{\"created\":").integer(to_millis(group.created));
  w.raw(",\"displayName\":").string(group.display_name);
  w.raw(",\"externalId\":").optional_string(group.external_id);
  w.raw(",\"id\":").string(group.id.str());
  w.raw(",\"kind\":").string(to_text(group.kind));
  w.raw(",\"lastModified\":").integer(to_millis(group.last_modified));
  w.raw(",\"system\":").boolean(group.system);
  w.raw(",\"tenant\":").string(group.tenant.str());
  w.raw(",\"version\":").integer(group.version).raw("}");
  return w.valid() ? w.take() : reference::encode_group(group);
}

std::string encode_attributes(const std::vector<core::AttributeChange>& attributes) {
  DocumentWriter w(64 * attributes.size() + 2);
  w.raw("[");
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    w.raw(i > 0 ? ",{\"after\":" : "{\"after\":").optional_string(attributes[i].after);
    w.raw(",\"before\":").optional_string(attributes[i].before);
    w.raw(",\"path\":").string(attributes[i].path).raw("}");
  }
  w.raw("]");
  return w.valid() ? w.take() : reference::encode_attributes(attributes);
}

// ---- Decoding without a DOM ----
// The readers below are nlohmann SAX handlers that fill the model structs while the parser walks
// the document: no tree of json values, no map per object, no second copy of every string. They
// accept only the shapes the encoder writes, plus absent keys (defaulted) and unknown keys
// (skipped). On anything else -- a syntax error, a value of another type, a duplicate key, an
// unknown enum spelling -- a reader stops, and the document is decoded again by the DOM decoder in
// `reference`, which either accepts it (valid but unusual, e.g. "name": null) or throws exactly
// the error it always threw. So the readers only have to be right about what they accept.
namespace {

// Keys of one object, sorted as nlohmann's encoder writes them. Each object remembers where its
// last key was found, so a document from the encoder finds every key at the first comparison.
template <class Key, std::size_t N>
using KeyTable = std::array<std::pair<std::string_view, Key>, N>;

template <class Key, std::size_t N>
constexpr bool in_encoder_order(const KeyTable<Key, N>& table) {
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(table[i].second) != i ||
        (i > 0 && !(table[i - 1].first < table[i].first))) {
      return false;
    }
  }
  return true;
}

enum class UserKey {
  active,
  addresses,
  created,
  display_name,
  emails,
  enterprise,
  extensions,
  external_id,
  id,
  last_modified,
  locale,
  mfa,
  must_change_password,
  name,
  nick_name,
  password_set,
  phone_numbers,
  preferred_language,
  profile_url,
  profiles,
  role,
  tenant,
  timezone,
  title,
  user_name,
  user_type,
  version
};
constexpr KeyTable<UserKey, 27> user_keys{{
    {"active", UserKey::active},
    {"addresses", UserKey::addresses},
    {"created", UserKey::created},
    {"displayName", UserKey::display_name},
    {"emails", UserKey::emails},
    {"enterprise", UserKey::enterprise},
    {"extensions", UserKey::extensions},
    {"externalId", UserKey::external_id},
    {"id", UserKey::id},
    {"lastModified", UserKey::last_modified},
    {"locale", UserKey::locale},
    {"mfa", UserKey::mfa},
    {"mustChangePassword", UserKey::must_change_password},
    {"name", UserKey::name},
    {"nickName", UserKey::nick_name},
    {"passwordSet", UserKey::password_set},
    {"phoneNumbers", UserKey::phone_numbers},
    {"preferredLanguage", UserKey::preferred_language},
    {"profileUrl", UserKey::profile_url},
    {"profiles", UserKey::profiles},
    {"role", UserKey::role},
    {"tenant", UserKey::tenant},
    {"timezone", UserKey::timezone},
    {"title", UserKey::title},
    {"userName", UserKey::user_name},
    {"userType", UserKey::user_type},
    {"version", UserKey::version},
}};
static_assert(in_encoder_order(user_keys));

enum class NameKey {
  family_name,
  formatted,
  given_name,
  honorific_prefix,
  honorific_suffix,
  middle_name
};
constexpr KeyTable<NameKey, 6> name_keys{{
    {"familyName", NameKey::family_name},
    {"formatted", NameKey::formatted},
    {"givenName", NameKey::given_name},
    {"honorificPrefix", NameKey::honorific_prefix},
    {"honorificSuffix", NameKey::honorific_suffix},
    {"middleName", NameKey::middle_name},
}};
static_assert(in_encoder_order(name_keys));

enum class ContactKey { primary, type, value };
constexpr KeyTable<ContactKey, 3> contact_keys{{
    {"primary", ContactKey::primary},
    {"type", ContactKey::type},
    {"value", ContactKey::value},
}};
static_assert(in_encoder_order(contact_keys));

enum class AddressKey {
  country,
  formatted,
  locality,
  postal_code,
  primary,
  region,
  street_address,
  type
};
constexpr KeyTable<AddressKey, 8> address_keys{{
    {"country", AddressKey::country},
    {"formatted", AddressKey::formatted},
    {"locality", AddressKey::locality},
    {"postalCode", AddressKey::postal_code},
    {"primary", AddressKey::primary},
    {"region", AddressKey::region},
    {"streetAddress", AddressKey::street_address},
    {"type", AddressKey::type},
}};
static_assert(in_encoder_order(address_keys));

enum class ExtensionKey { e911_location, number, primary };
constexpr KeyTable<ExtensionKey, 3> extension_keys{{
    {"e911Location", ExtensionKey::e911_location},
    {"number", ExtensionKey::number},
    {"primary", ExtensionKey::primary},
}};
static_assert(in_encoder_order(extension_keys));

enum class MfaKey { email_addresses, method, sms_numbers };
constexpr KeyTable<MfaKey, 3> mfa_keys{{
    {"emailAddresses", MfaKey::email_addresses},
    {"method", MfaKey::method},
    {"smsNumbers", MfaKey::sms_numbers},
}};
static_assert(in_encoder_order(mfa_keys));

enum class EnterpriseKey {
  cost_center,
  department,
  division,
  employee_number,
  manager,
  organization
};
constexpr KeyTable<EnterpriseKey, 6> enterprise_keys{{
    {"costCenter", EnterpriseKey::cost_center},
    {"department", EnterpriseKey::department},
    {"division", EnterpriseKey::division},
    {"employeeNumber", EnterpriseKey::employee_number},
    {"manager", EnterpriseKey::manager},
    {"organization", EnterpriseKey::organization},
}};
static_assert(in_encoder_order(enterprise_keys));

enum class GroupKey {
  created,
  display_name,
  external_id,
  id,
  kind,
  last_modified,
  system,
  tenant,
  version
};
constexpr KeyTable<GroupKey, 9> group_keys{{
    {"created", GroupKey::created},
    {"displayName", GroupKey::display_name},
    {"externalId", GroupKey::external_id},
    {"id", GroupKey::id},
    {"kind", GroupKey::kind},
    {"lastModified", GroupKey::last_modified},
    {"system", GroupKey::system},
    {"tenant", GroupKey::tenant},
    {"version", GroupKey::version},
}};
static_assert(in_encoder_order(group_keys));

enum class AttributeKey { after, before, path };
constexpr KeyTable<AttributeKey, 3> attribute_keys{{
    {"after", AttributeKey::after},
    {"before", AttributeKey::before},
    {"path", AttributeKey::path},
}};
static_assert(in_encoder_order(attribute_keys));

enum class Found { key, unknown, duplicate };

// One open object: which of its keys were seen (a duplicate key sends the document to the DOM
// decoder, where the last one wins) and where the next key is expected in its table.
struct ObjectKeys {
  std::uint64_t seen = 0;
  std::size_t hint = 0;

  template <class Key, std::size_t N>
  Found find(const KeyTable<Key, N>& table, std::string_view key, Key& out) {
    static_assert(N <= 64);
    std::size_t index = hint;
    if (index >= N || table[index].first != key) {
      index = 0;
      while (index < N && table[index].first != key) {
        ++index;
      }
      if (index == N) {
        return Found::unknown;
      }
    }
    const std::uint64_t bit = std::uint64_t{1} << index;
    if ((seen & bit) != 0) {
      return Found::duplicate;
    }
    seen |= bit;
    hint = index + 1;
    out = table[index].second;
    return Found::key;
  }
};

// Where the next value goes, and the SAX events every reader handles the same way. Each reader
// supplies key(), start_object(), start_array() and the ends for its own nesting.
class Reader {
 public:
  bool null() {
    if (skip_depth_ > 0) {
      return true;
    }
    if (slot_ == Slot::optional_text) {
      optional_text_->reset();
    } else if (slot_ != Slot::ignored) {
      return false;
    }
    slot_ = Slot::none;
    return true;
  }

  bool boolean(bool value) {
    if (skip_depth_ > 0) {
      return true;
    }
    if (slot_ == Slot::flag) {
      *flag_ = value;
    } else if (slot_ != Slot::ignored) {
      return false;
    }
    slot_ = Slot::none;
    return true;
  }

  bool number_integer(std::int64_t value) {
    if (skip_depth_ > 0) {
      return true;
    }
    if (slot_ == Slot::integer) {
      *integer_ = value;
    } else if (slot_ != Slot::ignored) {
      return false;
    }
    slot_ = Slot::none;
    return true;
  }

  // nlohmann reads every non-negative integer as unsigned; one beyond int64 goes to the DOM path.
  bool number_unsigned(std::uint64_t value) {
    if (skip_depth_ > 0) {
      return true;
    }
    if (slot_ == Slot::integer &&
        value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      *integer_ = static_cast<std::int64_t>(value);
    } else if (slot_ != Slot::ignored) {
      return false;
    }
    slot_ = Slot::none;
    return true;
  }

  bool number_float(double /*value*/, const std::string& /*text*/) {
    if (skip_depth_ > 0) {
      return true;
    }
    if (slot_ != Slot::ignored) {
      return false;
    }
    slot_ = Slot::none;
    return true;
  }

  bool string(std::string& value) {
    if (skip_depth_ > 0) {
      return true;
    }
    switch (slot_) {
      case Slot::text: *text_ = value; break;
      case Slot::optional_text: *optional_text_ = value; break;
      case Slot::text_element: text_list_->push_back(value); return true;  // the array goes on
      case Slot::ignored: break;
      default: return false;
    }
    slot_ = Slot::none;
    return true;
  }

  bool binary(json::binary_t& /*value*/) { return false; }

  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const json::exception& /*error*/) {
    return false;
  }

 protected:
  enum class Slot : std::uint8_t {
    none,           // a key or the end of an object comes next
    ignored,        // the value of an unknown key: any value, skipped
    text,           // a string
    optional_text,  // a string or null
    flag,           // a boolean
    integer,        // an integer within int64
    object,         // a nested object the derived reader opens
    array,          // a nested array the derived reader opens
    text_element,   // inside an array of strings
    object_element  // inside an array of objects
  };

  void expect_text(std::string& out) {
    slot_ = Slot::text;
    text_ = &out;
  }
  void expect_optional_text(std::optional<std::string>& out) {
    slot_ = Slot::optional_text;
    optional_text_ = &out;
  }
  void expect_flag(bool& out) {
    slot_ = Slot::flag;
    flag_ = &out;
  }
  void expect_integer(std::int64_t& out) {
    slot_ = Slot::integer;
    integer_ = &out;
  }
  void expect_texts(std::vector<std::string>& out) {
    slot_ = Slot::array;
    text_list_ = &out;
  }

  // An unknown key's object or array: count brackets until it closes.
  bool skip_container() {
    if (skip_depth_ > 0 || slot_ == Slot::ignored) {
      ++skip_depth_;
      slot_ = Slot::none;
      return true;
    }
    return false;
  }
  bool end_skipped_container() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    return false;
  }

  Slot slot_ = Slot::none;
  int skip_depth_ = 0;
  std::string* text_ = nullptr;
  std::optional<std::string>* optional_text_ = nullptr;
  bool* flag_ = nullptr;
  std::int64_t* integer_ = nullptr;
  std::vector<std::string>* text_list_ = nullptr;
};

class UserReader : public Reader {
 public:
  explicit UserReader(core::User& user) : user_(user) {}

  bool start_object(std::size_t /*size*/) {
    if (skip_container()) {
      return true;
    }
    if (depth_ == 0) {
      return open(Scope::user);
    }
    if (slot_ == Slot::object) {
      return open(opening_);
    }
    if (slot_ == Slot::object_element) {
      switch (scope()) {
        case Scope::contacts: contact_ = &contacts_->emplace_back(); return open(Scope::contact);
        case Scope::addresses:
          address_ = &user_.addresses.emplace_back();
          return open(Scope::address);
        case Scope::extensions:
          extension_ = &user_.extensions.emplace_back();
          return open(Scope::extension);
        default: return false;
      }
    }
    return false;
  }

  bool end_object() { return end_skipped_container() || close(); }

  bool start_array(std::size_t /*size*/) {
    if (skip_container()) {
      return true;
    }
    if (depth_ == 0 || slot_ != Slot::array) {
      return false;
    }
    return open(opening_);
  }

  bool end_array() { return end_skipped_container() || close(); }

  bool key(std::string& spelling) {
    if (skip_depth_ > 0) {
      return true;
    }
    switch (scope()) {
      case Scope::user: return user_key(spelling);
      case Scope::name: return name_key(spelling);
      case Scope::contact: return contact_key(spelling);
      case Scope::address: return address_key(spelling);
      case Scope::extension: return extension_key(spelling);
      case Scope::mfa: return mfa_key(spelling);
      case Scope::enterprise: return enterprise_key(spelling);
      default: return false;
    }
  }

  // After the parser accepted the whole document: the required keys and the enum spellings.
  bool finish() {
    constexpr auto bit = [](UserKey field) { return std::uint64_t{1} << static_cast<int>(field); };
    const std::uint64_t required =
        bit(UserKey::id) | bit(UserKey::tenant) | bit(UserKey::user_name);
    if ((user_keys_seen_ & required) != required) {
      return false;
    }
    user_.id = core::UserId(std::move(id_));
    user_.tenant = core::TenantId(std::move(tenant_));
    if (role_) {
      const auto role = find_value(role_names, *role_);
      if (!role) {
        return false;
      }
      user_.role = *role;
    }
    if (mfa_method_) {
      const auto method = find_value(mfa_method_names, *mfa_method_);
      if (!method) {
        return false;
      }
      user_.mfa.method = *method;
    }
    if (manager_) {
      user_.enterprise.manager = core::UserId(std::move(*manager_));
    }
    user_.created = from_millis(created_);
    user_.last_modified = from_millis(last_modified_);
    return true;
  }

 private:
  enum class Scope : std::uint8_t {
    user,
    name,
    contacts,
    contact,
    addresses,
    address,
    extensions,
    extension,
    mfa,
    enterprise,
    texts
  };

  template <class Enum, std::size_t N>
  static std::optional<Enum> find_value(const Names<Enum, N>& names, std::string_view text) {
    for (const auto& [value, name] : names) {
      if (name == text) {
        return value;
      }
    }
    return std::nullopt;
  }

  Scope scope() const { return frames_[depth_ - 1].scope; }

  bool open(Scope scope) {
    if (depth_ == frames_.size()) {
      return false;
    }
    frames_[depth_++] = Frame{scope, {}};
    slot_ = element_slot(scope);
    return true;
  }

  bool close() {
    if (depth_ == 0) {
      return false;
    }
    if (depth_ == 1) {
      user_keys_seen_ = frames_[0].keys.seen;
    }
    --depth_;
    slot_ = depth_ == 0 ? Slot::none : element_slot(scope());
    return true;
  }

  static Slot element_slot(Scope scope) {
    switch (scope) {
      case Scope::contacts:
      case Scope::addresses:
      case Scope::extensions: return Slot::object_element;
      case Scope::texts: return Slot::text_element;
      default: return Slot::none;
    }
  }

  template <class Key, std::size_t N>
  std::optional<Key> find(const KeyTable<Key, N>& table, std::string_view key, bool& ok) {
    Key found{};
    switch (frames_[depth_ - 1].keys.find(table, key, found)) {
      case Found::key: return found;
      case Found::unknown: slot_ = Slot::ignored; return std::nullopt;
      case Found::duplicate: ok = false; return std::nullopt;
    }
    ok = false;
    return std::nullopt;
  }

  void expect_object(Scope scope) {
    slot_ = Slot::object;
    opening_ = scope;
  }
  void expect_array(Scope scope) {
    slot_ = Slot::array;
    opening_ = scope;
  }
  void expect_contacts(std::vector<core::ContactValue>& out) {
    contacts_ = &out;
    expect_array(Scope::contacts);
  }
  void expect_text_list(std::vector<std::string>& out) {
    expect_texts(out);
    opening_ = Scope::texts;
  }
  void expect_enum_text(std::optional<std::string>& out) {
    // A null role or method is corrupt; it is not a string, so the slot refuses it.
    slot_ = Slot::text;
    text_ = &out.emplace();
  }

  bool user_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(user_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    switch (*found) {
      case UserKey::active: expect_flag(user_.active); break;
      case UserKey::addresses: expect_array(Scope::addresses); break;
      case UserKey::created: expect_integer(created_); break;
      case UserKey::display_name: expect_text(user_.display_name); break;
      case UserKey::emails: expect_contacts(user_.emails); break;
      case UserKey::enterprise: expect_object(Scope::enterprise); break;
      case UserKey::extensions: expect_array(Scope::extensions); break;
      case UserKey::external_id: expect_optional_text(user_.external_id); break;
      case UserKey::id: expect_text(id_); break;
      case UserKey::last_modified: expect_integer(last_modified_); break;
      case UserKey::locale: expect_text(user_.locale); break;
      case UserKey::mfa: expect_object(Scope::mfa); break;
      case UserKey::must_change_password: expect_flag(user_.must_change_password); break;
      case UserKey::name: expect_object(Scope::name); break;
      case UserKey::nick_name: expect_text(user_.nick_name); break;
      case UserKey::password_set: expect_flag(user_.password_set); break;
      case UserKey::phone_numbers: expect_contacts(user_.phone_numbers); break;
      case UserKey::preferred_language: expect_text(user_.preferred_language); break;
      case UserKey::profile_url: expect_text(user_.profile_url); break;
      case UserKey::profiles: expect_text_list(user_.profiles); break;
      case UserKey::role: expect_enum_text(role_); break;
      case UserKey::tenant: expect_text(tenant_); break;
      case UserKey::timezone: expect_text(user_.timezone); break;
      case UserKey::title: expect_text(user_.title); break;
      case UserKey::user_name: expect_text(user_.user_name); break;
      case UserKey::user_type: expect_text(user_.user_type); break;
      case UserKey::version: expect_integer(user_.version); break;
    }
    return true;
  }

  bool name_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(name_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    core::PersonName& name = user_.name;
    switch (*found) {
      case NameKey::family_name: expect_text(name.family_name); break;
      case NameKey::formatted: expect_text(name.formatted); break;
      case NameKey::given_name: expect_text(name.given_name); break;
      case NameKey::honorific_prefix: expect_text(name.honorific_prefix); break;
      case NameKey::honorific_suffix: expect_text(name.honorific_suffix); break;
      case NameKey::middle_name: expect_text(name.middle_name); break;
    }
    return true;
  }

  bool contact_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(contact_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    switch (*found) {
      case ContactKey::primary: expect_flag(contact_->primary); break;
      case ContactKey::type: expect_text(contact_->type); break;
      case ContactKey::value: expect_text(contact_->value); break;
    }
    return true;
  }

  bool address_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(address_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    switch (*found) {
      case AddressKey::country: expect_text(address_->country); break;
      case AddressKey::formatted: expect_text(address_->formatted); break;
      case AddressKey::locality: expect_text(address_->locality); break;
      case AddressKey::postal_code: expect_text(address_->postal_code); break;
      case AddressKey::primary: expect_flag(address_->primary); break;
      case AddressKey::region: expect_text(address_->region); break;
      case AddressKey::street_address: expect_text(address_->street_address); break;
      case AddressKey::type: expect_text(address_->type); break;
    }
    return true;
  }

  bool extension_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(extension_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    switch (*found) {
      case ExtensionKey::e911_location: expect_text(extension_->e911_location); break;
      case ExtensionKey::number: expect_text(extension_->number); break;
      case ExtensionKey::primary: expect_flag(extension_->primary); break;
    }
    return true;
  }

  bool mfa_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(mfa_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    switch (*found) {
      case MfaKey::email_addresses: expect_text_list(user_.mfa.email_addresses); break;
      case MfaKey::method: expect_enum_text(mfa_method_); break;
      case MfaKey::sms_numbers: expect_text_list(user_.mfa.sms_numbers); break;
    }
    return true;
  }

  bool enterprise_key(std::string_view spelling) {
    bool ok = true;
    const auto found = find(enterprise_keys, spelling, ok);
    if (!found) {
      return ok;
    }
    core::EnterpriseInfo& enterprise = user_.enterprise;
    switch (*found) {
      case EnterpriseKey::cost_center: expect_text(enterprise.cost_center); break;
      case EnterpriseKey::department: expect_text(enterprise.department); break;
      case EnterpriseKey::division: expect_text(enterprise.division); break;
      case EnterpriseKey::employee_number: expect_text(enterprise.employee_number); break;
      case EnterpriseKey::manager: expect_optional_text(manager_); break;
      case EnterpriseKey::organization: expect_text(enterprise.organization); break;
    }
    return true;
  }

  struct Frame {
    Scope scope = Scope::user;
    ObjectKeys keys;
  };

  core::User& user_;
  std::array<Frame, 3> frames_{};  // user, then a list, then one of its entries
  std::size_t depth_ = 0;
  Scope opening_ = Scope::user;
  std::uint64_t user_keys_seen_ = 0;
  std::vector<core::ContactValue>* contacts_ = nullptr;
  core::ContactValue* contact_ = nullptr;
  core::Address* address_ = nullptr;
  core::Extension* extension_ = nullptr;
  std::string id_;
  std::string tenant_;
  std::optional<std::string> role_;
  std::optional<std::string> mfa_method_;
  std::optional<std::string> manager_;
  std::int64_t created_ = 0;
  std::int64_t last_modified_ = 0;
};

// A group document is flat: nested values only ever belong to unknown keys.
class GroupReader : public Reader {
 public:
  explicit GroupReader(core::Group& group) : group_(group) {}

  bool start_object(std::size_t /*size*/) {
    if (skip_container()) {
      return true;
    }
    if (open_) {
      return false;
    }
    open_ = true;
    return true;
  }
  bool end_object() { return end_skipped_container() || std::exchange(open_, false); }
  bool start_array(std::size_t /*size*/) { return skip_container(); }
  bool end_array() { return end_skipped_container(); }

  bool key(std::string& spelling) {
    if (skip_depth_ > 0) {
      return true;
    }
    GroupKey found{};
    switch (keys_.find(group_keys, spelling, found)) {
      case Found::unknown: slot_ = Slot::ignored; return true;
      case Found::duplicate: return false;
      case Found::key: break;
    }
    switch (found) {
      case GroupKey::created: expect_integer(created_); break;
      case GroupKey::display_name: expect_text(group_.display_name); break;
      case GroupKey::external_id: expect_optional_text(group_.external_id); break;
      case GroupKey::id: expect_text(id_); break;
      case GroupKey::kind:
        kind_.emplace();
        expect_text(*kind_);
        break;
      case GroupKey::last_modified: expect_integer(last_modified_); break;
      case GroupKey::system: expect_flag(group_.system); break;
      case GroupKey::tenant: expect_text(tenant_); break;
      case GroupKey::version: expect_integer(group_.version); break;
    }
    return true;
  }

  bool finish() {
    constexpr auto bit = [](GroupKey field) { return std::uint64_t{1} << static_cast<int>(field); };
    const std::uint64_t required =
        bit(GroupKey::id) | bit(GroupKey::tenant) | bit(GroupKey::display_name);
    if ((keys_.seen & required) != required) {
      return false;
    }
    if (kind_) {
      bool known = false;
      for (const auto& [value, name] : group_kind_names) {
        if (name == *kind_) {
          group_.kind = value;
          known = true;
        }
      }
      if (!known) {
        return false;
      }
    }
    group_.id = core::GroupId(std::move(id_));
    group_.tenant = core::TenantId(std::move(tenant_));
    group_.created = from_millis(created_);
    group_.last_modified = from_millis(last_modified_);
    return true;
  }

 private:
  core::Group& group_;
  ObjectKeys keys_;
  bool open_ = false;
  std::string id_;
  std::string tenant_;
  std::optional<std::string> kind_;
  std::int64_t created_ = 0;
  std::int64_t last_modified_ = 0;
};

// An array of {"path", "before", "after"} objects; "path" is required in each.
class AttributesReader : public Reader {
 public:
  explicit AttributesReader(std::vector<core::AttributeChange>& out) : out_(out) {}

  bool start_object(std::size_t /*size*/) {
    if (skip_container()) {
      return true;
    }
    if (depth_ != 1) {
      return false;
    }
    depth_ = 2;
    change_ = &out_.emplace_back();
    keys_ = {};
    slot_ = Slot::none;
    return true;
  }
  bool end_object() {
    if (end_skipped_container()) {
      return true;
    }
    if (depth_ != 2 ||
        (keys_.seen & (std::uint64_t{1} << static_cast<int>(AttributeKey::path))) == 0) {
      return false;
    }
    depth_ = 1;
    slot_ = Slot::object_element;
    return true;
  }
  bool start_array(std::size_t /*size*/) {
    if (skip_container()) {
      return true;
    }
    if (depth_ != 0) {
      return false;
    }
    depth_ = 1;
    slot_ = Slot::object_element;
    return true;
  }
  bool end_array() {
    if (end_skipped_container()) {
      return true;
    }
    if (depth_ != 1) {
      return false;
    }
    depth_ = 0;
    slot_ = Slot::none;
    return true;
  }

  bool key(std::string& spelling) {
    if (skip_depth_ > 0) {
      return true;
    }
    AttributeKey found{};
    switch (keys_.find(attribute_keys, spelling, found)) {
      case Found::unknown: slot_ = Slot::ignored; return true;
      case Found::duplicate: return false;
      case Found::key: break;
    }
    switch (found) {
      case AttributeKey::after: expect_optional_text(change_->after); break;
      case AttributeKey::before: expect_optional_text(change_->before); break;
      case AttributeKey::path: expect_text(change_->path); break;
    }
    return true;
  }

 private:
  std::vector<core::AttributeChange>& out_;
  core::AttributeChange* change_ = nullptr;
  ObjectKeys keys_;
  int depth_ = 0;
};

// nlohmann's lexer reads a document one character at a time through its input adapter: most of
// a decode's cost. CompactParser reads the compact JSON the encoders write (no whitespace,
// integers of up to 19 digits, \u escapes only below U+0080) and sends the same SAX events to the
// same readers. Anything else -- whitespace, a fraction or exponent, a longer integer, a \u
// escape of anything else, invalid UTF-8 or JSON -- makes it give up, and the document goes
// through nlohmann's parser as before (and from there, if need be, to the DOM decoder). For what
// it accepts, its events are exactly nlohmann's: store_codec_test compares the paths.
template <class Handler>
class CompactParser {
 public:
  CompactParser(std::string_view text, Handler& handler)
      : at_(text.data()), end_(text.data() + text.size()), handler_(handler) {}

  // Whether the whole text was read and the handler accepted every event.
  bool parse() { return value(0) && at_ == end_; }

 private:
  static constexpr int max_depth = 32;

  bool value(int depth) {
    if (at_ == end_) {
      return false;
    }
    switch (*at_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return string_token() && handler_.string(buffer_);
      case 't': return literal("true") && handler_.boolean(true);
      case 'f': return literal("false") && handler_.boolean(false);
      case 'n': return literal("null") && handler_.null();
      default: return number();
    }
  }

  bool object(int depth) {
    ++at_;
    if (depth > max_depth || !handler_.start_object(static_cast<std::size_t>(-1))) {
      return false;
    }
    if (at_ != end_ && *at_ == '}') {
      ++at_;
      return handler_.end_object();
    }
    for (;;) {
      if (at_ == end_ || *at_ != '"' || !string_token() || !handler_.key(buffer_)) {
        return false;
      }
      if (at_ == end_ || *at_ != ':') {
        return false;
      }
      ++at_;
      if (!value(depth) || at_ == end_) {
        return false;
      }
      if (*at_ == ',') {
        ++at_;
      } else if (*at_ == '}') {
        ++at_;
        return handler_.end_object();
      } else {
        return false;
      }
    }
  }

  bool array(int depth) {
    ++at_;
    if (depth > max_depth || !handler_.start_array(static_cast<std::size_t>(-1))) {
      return false;
    }
    if (at_ != end_ && *at_ == ']') {
      ++at_;
      return handler_.end_array();
    }
    for (;;) {
      if (!value(depth) || at_ == end_) {
        return false;
      }
      if (*at_ == ',') {
        ++at_;
      } else if (*at_ == ']') {
        ++at_;
        return handler_.end_array();
      } else {
        return false;
      }
    }
  }

  // Reads the string at at_ (its opening quote) into buffer_.
  bool string_token() {
    ++at_;
    buffer_.clear();
    const char* plain_from = at_;
    while (at_ != end_) {
      at_ += core::json_plain_prefix(std::string_view(at_, static_cast<std::size_t>(end_ - at_)));
      if (at_ == end_) {
        break;
      }
      const auto byte = static_cast<unsigned char>(*at_);
      if (byte == '"') {
        buffer_.append(plain_from, at_);
        ++at_;
        return true;
      }
      if (byte == '\\') {
        buffer_.append(plain_from, at_);
        if (!escape()) {
          return false;
        }
        plain_from = at_;
      } else if (byte < 0x20) {
        return false;  // a raw control character: not JSON
      } else if (byte < 0x80) {
        ++at_;
      } else {
        const std::size_t length = core::utf8_sequence_length(
            std::string_view(at_, static_cast<std::size_t>(end_ - at_)), 0);
        if (length == 0) {
          return false;
        }
        at_ += length;
      }
    }
    return false;
  }

  bool escape() {
    ++at_;  // the backslash
    if (at_ == end_) {
      return false;
    }
    const char kind = *at_++;
    switch (kind) {
      case '"': buffer_ += '"'; return true;
      case '\\': buffer_ += '\\'; return true;
      case '/': buffer_ += '/'; return true;
      case 'b': buffer_ += '\b'; return true;
      case 'f': buffer_ += '\f'; return true;
      case 'n': buffer_ += '\n'; return true;
      case 'r': buffer_ += '\r'; return true;
      case 't': buffer_ += '\t'; return true;
      case 'u': break;
      default: return false;
    }
    if (end_ - at_ < 4) {
      return false;
    }
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *at_++;
      code <<= 4;
      if (c >= '0' && c <= '9') {
        code |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        code |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        code |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    if (code >= 0x80) {
      return false;  // not what the encoders write: nlohmann decodes it
    }
    buffer_ += static_cast<char>(code);
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - at_) < word.size() ||
        std::string_view(at_, word.size()) != word) {
      return false;
    }
    at_ += word.size();
    return true;
  }

  // nlohmann reports a negative integer as number_integer and any other as number_unsigned; one
  // that fits neither (past int64 below zero, past uint64 above) becomes a float.
  bool number() {
    const bool negative = *at_ == '-';
    if (negative) {
      ++at_;
    }
    if (at_ == end_ || *at_ < '0' || *at_ > '9') {
      return false;
    }
    if (*at_ == '0' && at_ + 1 != end_ && at_[1] >= '0' && at_[1] <= '9') {
      return false;  // a leading zero: not JSON
    }
    std::uint64_t magnitude = 0;
    int digits = 0;
    while (at_ != end_ && *at_ >= '0' && *at_ <= '9') {
      if (++digits > 19) {
        return false;  // may pass uint64: nlohmann decides
      }
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(*at_ - '0');
      ++at_;
    }
    if (at_ != end_ && (*at_ == '.' || *at_ == 'e' || *at_ == 'E')) {
      return false;
    }
    if (!negative) {
      return handler_.number_unsigned(magnitude);
    }
    constexpr auto int64_min_magnitude =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
    if (magnitude > int64_min_magnitude) {
      return false;
    }
    // Two's complement negation of the magnitude, well defined for int64's minimum too.
    return handler_.number_integer(static_cast<std::int64_t>(~magnitude + 1));
  }

  const char* at_;
  const char* end_;
  Handler& handler_;
  std::string buffer_;
};

// compact::decode_user into `user`, which is left partly filled when it gives up.
bool decode_compact_user_into(std::string_view doc, core::User& user) {
  UserReader reader(user);
  return CompactParser(doc, reader).parse() && reader.finish();
}

}  // namespace

std::optional<core::User> compact::decode_user(std::string_view doc) {
  std::optional<core::User> user(std::in_place);
  if (!decode_compact_user_into(doc, *user)) {
    user.reset();
  }
  return user;
}

// The compact parser fills the returned object in place: a core::User is dozens of strings and
// vectors, and each move of one cost about a thousand instructions on the read path.
std::optional<core::User> direct::decode_user(std::string_view doc) {
  std::optional<core::User> user(std::in_place);
  if (decode_compact_user_into(doc, *user)) {
    return user;
  }
  *user = core::User();
  UserReader reader(*user);
  if (!json::sax_parse(doc, &reader) || !reader.finish()) {
    user.reset();
  }
  return user;
}

std::optional<core::Group> direct::decode_group(std::string_view doc) {
  std::optional<core::Group> group(std::in_place);
  GroupReader reader(*group);
  if (!json::sax_parse(doc, &reader) || !reader.finish()) {
    group.reset();
  }
  return group;
}

std::optional<std::vector<core::AttributeChange>> direct::decode_attributes(std::string_view doc) {
  std::optional<std::vector<core::AttributeChange>> out(std::in_place);
  AttributesReader reader(*out);
  if (!json::sax_parse(doc, &reader)) {
    out.reset();
  }
  return out;
}

core::User decode_user(std::string_view doc) {
  core::User user;  // one object returned on every path, so that it is constructed in place
  if (!decode_compact_user_into(doc, user)) {
    if (auto decoded = direct::decode_user(doc)) {
      user = std::move(*decoded);
    } else {
      user = reference::decode_user(doc);
    }
  }
  return user;
}

core::Group decode_group(std::string_view doc) {
  if (auto group = direct::decode_group(doc)) {
    return std::move(*group);
  }
  return reference::decode_group(doc);
}

std::vector<core::AttributeChange> decode_attributes(std::string_view doc) {
  if (auto attributes = direct::decode_attributes(doc)) {
    return std::move(*attributes);
  }
  return reference::decode_attributes(doc);
}

}  // namespace idbridge::store::codec
