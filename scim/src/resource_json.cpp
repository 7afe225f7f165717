// Normalisation and mapping of SCIM User and Group JSON.
#include "resource_json.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace idbridge::scim {
namespace {

// nlohmann::json converts implicitly to almost anything, which makes result<json, E>'s
// converting constructor ambiguous; construct the value alternative explicitly.
ScimResult<json> ok(json value) {
  return {boost::system::in_place_value, std::move(value)};
}

const std::vector<const SchemaDef*>& extensions_of(ResourceKind kind) {
  static const std::vector<const SchemaDef*> user{&enterprise_user_schema(), &tenant_user_schema()};
  static const std::vector<const SchemaDef*> group{&tenant_group_schema()};
  return kind == ResourceKind::user ? user : group;
}

const SchemaDef& core_schema_of(ResourceKind kind) {
  return kind == ResourceKind::user ? user_schema() : group_schema();
}

ScimResult<json> normalise_attributes(const json& object,
                                      const std::vector<AttributeDef>& attributes,
                                      const std::string& prefix);

std::string type_name(AttrType type) {
  switch (type) {
    case AttrType::string: return "a string";
    case AttrType::boolean: return "a boolean";
    case AttrType::decimal: return "a number";
    case AttrType::integer: return "an integer";
    case AttrType::date_time: return "a dateTime string";
    case AttrType::reference: return "a URI string";
    case AttrType::complex: return "an object";
    case AttrType::binary: return "a base64 string";
  }
  return "a value";
}

ScimResult<json> normalise_single(const json& value, const AttributeDef& def,
                                  const std::string& path) {
  const auto wrong = [&] {
    return invalid_value("attribute \"" + path + "\" must be " + type_name(def.type));
  };
  switch (def.type) {
    case AttrType::string:
    case AttrType::reference:
    case AttrType::date_time:
    case AttrType::binary:
      if (!value.is_string()) {
        return wrong();
      }
      return ok(value);
    case AttrType::boolean:
      if (value.is_boolean()) {
        return ok(value);
      }
      // Entra (without the aadOptscim062020 flag) sends booleans as "True"/"False".
      if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        if (iequals(text, "true")) {
          return ok(json(true));
        }
        if (iequals(text, "false")) {
          return ok(json(false));
        }
      }
      return wrong();
    case AttrType::integer:
      if (!value.is_number_integer()) {
        return wrong();
      }
      return ok(value);
    case AttrType::decimal:
      if (!value.is_number()) {
        return wrong();
      }
      return ok(value);
    case AttrType::complex:
      if (value.is_object()) {
        return normalise_attributes(value, def.sub_attributes, path + ".");
      }
      // A bare string for a complex attribute with a `value` sub-attribute: Entra sends
      // the manager as "manager": "<id>".
      if (value.is_string() && find_attribute(def.sub_attributes, "value") != nullptr) {
        return ok(json{{"value", value}});
      }
      return wrong();
  }
  return wrong();
}

ScimResult<json> normalise_attributes(const json& object,
                                      const std::vector<AttributeDef>& attributes,
                                      const std::string& prefix) {
  json out = json::object();
  for (const auto& [key, value] : object.items()) {
    const AttributeDef* def = find_attribute(attributes, key);
    // Unknown attributes are ignored (Entra sends misspelt extension URNs and top-level
    // enterprise names); readOnly ones are ignored as RFC 7644 §3.3 asks; null means absent.
    if (def == nullptr || def->mutability == Mutability::read_only || value.is_null()) {
      continue;
    }
    auto normalised = normalise_value(value, *def, prefix + std::string(def->name));
    if (!normalised) {
      return normalised.error();
    }
    if (!normalised->is_null()) {
      out[std::string(def->name)] = *std::move(normalised);
    }
  }
  return ok(std::move(out));
}

std::string string_at(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_at(const json& object, std::string_view key, bool fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

const json& member_or_empty(const json& object, std::string_view key) {
  static const json empty;
  const auto it = object.find(key);
  return it == object.end() ? empty : *it;
}

std::vector<core::ContactValue> contacts_from(const json& list) {
  std::vector<core::ContactValue> out;
  if (!list.is_array()) {
    return out;
  }
  for (const auto& entry : list) {
    out.push_back(
        {string_at(entry, "value"), string_at(entry, "type"), bool_at(entry, "primary", false)});
  }
  return out;
}

std::vector<std::string> strings_from(const json& list) {
  std::vector<std::string> out;
  if (list.is_array()) {
    for (const auto& entry : list) {
      out.push_back(entry.get<std::string>());
    }
  }
  return out;
}

void put(json& object, std::string_view key, const std::string& value) {
  if (!value.empty()) {
    object[std::string(key)] = value;
  }
}

json contacts_to_json(const std::vector<core::ContactValue>& values) {
  json out = json::array();
  for (const auto& v : values) {
    json entry{{"value", v.value}, {"primary", v.primary}};
    put(entry, "type", v.type);
    out.push_back(std::move(entry));
  }
  return out;
}

json meta(std::string_view resource_type, core::Timestamp created, core::Timestamp modified,
          core::ResourceVersion version, const std::string& location) {
  return json{{"resourceType", resource_type},
              {"created", format_timestamp(created)},
              {"lastModified", format_timestamp(modified)},
              {"location", location},
              {"version", etag(version)}};
}

}  // namespace

const json* find_member(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (iequals(it.key(), key)) {
      return &*it;
    }
  }
  return nullptr;
}

ScimResult<json> parse_json_body(std::string_view text) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_json_depth) {
        return invalid_syntax("the JSON body nests deeper than " + std::to_string(max_json_depth) +
                              " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) {
    return invalid_syntax("the request body is not valid JSON");
  }
  return ok(std::move(body));
}

ScimResult<json> normalise_value(const json& value, const AttributeDef& def,
                                 const std::string& path) {
  if (value.is_null()) {
    return ok(json());
  }
  if (!def.multi_valued) {
    if (value.is_array()) {
      return invalid_value("attribute \"" + path + "\" is single-valued");
    }
    return normalise_single(value, def, path);
  }
  json out = json::array();
  // A lone value for a multi-valued attribute is taken as a one-element list.
  const json list = value.is_array() ? value : json::array({value});
  for (const auto& element : list) {
    if (element.is_null()) {
      continue;
    }
    auto normalised = normalise_single(element, def, path);
    if (!normalised) {
      return normalised.error();
    }
    out.push_back(*std::move(normalised));
  }
  return ok(std::move(out));
}

ScimResult<json> normalise_resource(const json& input, ResourceKind kind) {
  if (!input.is_object()) {
    return invalid_syntax("the request body must be a JSON object");
  }
  json out = json::object();
  const SchemaDef& core_schema = core_schema_of(kind);
  json core_part = json::object();
  for (const auto& [key, value] : input.items()) {
    if (iequals(key, "schemas")) {
      if (!value.is_array() ||
          !std::all_of(value.begin(), value.end(), [](const json& s) { return s.is_string(); })) {
        return invalid_syntax("\"schemas\" must be an array of schema URNs");
      }
      out["schemas"] = value;
      continue;
    }
    const SchemaDef* extension = nullptr;
    for (const SchemaDef* candidate : extensions_of(kind)) {
      if (iequals(key, candidate->id)) {
        extension = candidate;
      }
    }
    if (extension != nullptr) {
      if (value.is_null()) {
        continue;
      }
      if (!value.is_object()) {
        return invalid_value("extension \"" + std::string(extension->id) + "\" must be an object");
      }
      auto normalised =
          normalise_attributes(value, extension->attributes, std::string(extension->id) + ":");
      if (!normalised) {
        return normalised.error();
      }
      out[std::string(extension->id)] = *std::move(normalised);
      continue;
    }
    // RFC 7643 `roles` is not in idbridge's schema (a user holds one role in the tenant
    // extension). Entra sends "roles": [] on every create, which is no value; real roles arrive
    // only when an admin maps app roles, and dropping them like an unknown attribute would
    // report a provisioned role that does not exist.
    if (kind == ResourceKind::user && iequals(key, "roles") && !value.is_null() &&
        !(value.is_array() && value.empty())) {
      return invalid_value(
          "\"roles\" is not supported: idbridge users hold one role, \"role\" in " +
          std::string(tenant_user_urn));
    }
    core_part[key] = value;
  }
  auto normalised = normalise_attributes(core_part, core_schema.attributes, "");
  if (!normalised) {
    return normalised.error();
  }
  out.update(*normalised);
  return ok(std::move(out));
}

ScimResult<core::UserWrite> user_from_json(const json& in) {
  core::UserWrite write;
  core::User& user = write.user;
  user.user_name = string_at(in, "userName");
  if (const auto it = in.find("externalId"); it != in.end()) {
    user.external_id = it->get<std::string>();
  }
  const json& name = member_or_empty(in, "name");
  if (name.is_object()) {
    user.name.formatted = string_at(name, "formatted");
    user.name.family_name = string_at(name, "familyName");
    user.name.given_name = string_at(name, "givenName");
    user.name.middle_name = string_at(name, "middleName");
    user.name.honorific_prefix = string_at(name, "honorificPrefix");
    user.name.honorific_suffix = string_at(name, "honorificSuffix");
  }
  user.display_name = string_at(in, "displayName");
  user.nick_name = string_at(in, "nickName");
  user.profile_url = string_at(in, "profileUrl");
  user.title = string_at(in, "title");
  user.user_type = string_at(in, "userType");
  user.preferred_language = string_at(in, "preferredLanguage");
  user.locale = string_at(in, "locale");
  user.timezone = string_at(in, "timezone");
  user.active = bool_at(in, "active", true);
  user.emails = contacts_from(member_or_empty(in, "emails"));
  user.phone_numbers = contacts_from(member_or_empty(in, "phoneNumbers"));
  if (const json& addresses = member_or_empty(in, "addresses"); addresses.is_array()) {
    for (const auto& a : addresses) {
      user.addresses.push_back({string_at(a, "type"), string_at(a, "formatted"),
                                string_at(a, "streetAddress"), string_at(a, "locality"),
                                string_at(a, "region"), string_at(a, "postalCode"),
                                string_at(a, "country"), bool_at(a, "primary", false)});
    }
  }
  if (const auto it = in.find("password"); it != in.end()) {
    write.password = it->get<std::string>();
  }
  const json& enterprise = member_or_empty(in, enterprise_user_urn);
  if (enterprise.is_object()) {
    user.enterprise.employee_number = string_at(enterprise, "employeeNumber");
    user.enterprise.cost_center = string_at(enterprise, "costCenter");
    user.enterprise.organization = string_at(enterprise, "organization");
    user.enterprise.division = string_at(enterprise, "division");
    user.enterprise.department = string_at(enterprise, "department");
    const std::string manager = string_at(member_or_empty(enterprise, "manager"), "value");
    if (!manager.empty()) {
      user.enterprise.manager = core::UserId(manager);
    }
  }
  const json& tenant = member_or_empty(in, tenant_user_urn);
  if (tenant.is_object()) {
    if (const std::string role = string_at(tenant, "role"); !role.empty()) {
      const auto parsed = core::parse_role(role);
      if (!parsed) {
        return invalid_value("role \"" + role +
                             "\" is not one of accountOwner, administrator, standardUser, "
                             "limitedAccessUser");
      }
      user.role = *parsed;
    }
    user.profiles = strings_from(member_or_empty(tenant, "profiles"));
    if (const json& extensions = member_or_empty(tenant, "extensions"); extensions.is_array()) {
      for (const auto& e : extensions) {
        user.extensions.push_back(
            {string_at(e, "number"), string_at(e, "e911Location"), bool_at(e, "primary", false)});
      }
    }
    if (const json& mfa = member_or_empty(tenant, "mfa"); mfa.is_object()) {
      if (const std::string method = string_at(mfa, "method"); !method.empty()) {
        const auto parsed = core::parse_mfa_method(method);
        if (!parsed) {
          return invalid_value("mfa.method \"" + method +
                               "\" is not one of none, email, sms, totp, webauthn");
        }
        user.mfa.method = *parsed;
      }
      user.mfa.email_addresses = strings_from(member_or_empty(mfa, "emailAddresses"));
      user.mfa.sms_numbers = strings_from(member_or_empty(mfa, "smsNumbers"));
    }
    user.must_change_password = bool_at(tenant, "mustChangePassword", false);
  }
  return write;
}

ScimResult<GroupInput> group_from_json(const json& in) {
  GroupInput group;
  group.display_name = string_at(in, "displayName");
  if (const auto it = in.find("externalId"); it != in.end()) {
    group.external_id = it->get<std::string>();
  }
  const json& tenant = member_or_empty(in, tenant_group_urn);
  if (tenant.is_object()) {
    if (const std::string kind = string_at(tenant, "kind"); !kind.empty()) {
      group.kind = core::parse_group_kind(kind);
      if (!group.kind) {
        return invalid_value("kind \"" + kind +
                             "\" is not one of access, team, contactType, distribution");
      }
    }
  }
  if (const json& members = member_or_empty(in, "members"); members.is_array()) {
    for (const auto& member : members) {
      const std::string id = string_at(member, "value");
      if (id.empty()) {
        return invalid_value("every member needs a \"value\" (the member's id)");
      }
      std::optional<core::MemberType> type;
      if (const std::string text = string_at(member, "type"); !text.empty()) {
        if (iequals(text, "User")) {
          type = core::MemberType::user;
        } else if (iequals(text, "Group")) {
          type = core::MemberType::group;
        } else {
          return invalid_value("member type \"" + text + "\" is not User or Group");
        }
      }
      group.members.emplace_back(id, type);
    }
  }
  return group;
}

json user_to_json(const core::User& user, const std::string& base_url,
                  const std::vector<GroupRef>& groups) {
  json out{{"schemas", json::array({user_schema_urn})}, {"id", user.id.str()}};
  if (user.external_id) {
    out["externalId"] = *user.external_id;
  }
  out["userName"] = user.user_name;
  json name = json::object();
  put(name, "formatted", user.name.formatted);
  put(name, "familyName", user.name.family_name);
  put(name, "givenName", user.name.given_name);
  put(name, "middleName", user.name.middle_name);
  put(name, "honorificPrefix", user.name.honorific_prefix);
  put(name, "honorificSuffix", user.name.honorific_suffix);
  if (!name.empty()) {
    out["name"] = std::move(name);
  }
  put(out, "displayName", user.display_name);
  put(out, "nickName", user.nick_name);
  put(out, "profileUrl", user.profile_url);
  put(out, "title", user.title);
  put(out, "userType", user.user_type);
  put(out, "preferredLanguage", user.preferred_language);
  put(out, "locale", user.locale);
  put(out, "timezone", user.timezone);
  out["active"] = user.active;
  if (!user.emails.empty()) {
    out["emails"] = contacts_to_json(user.emails);
  }
  if (!user.phone_numbers.empty()) {
    out["phoneNumbers"] = contacts_to_json(user.phone_numbers);
  }
  if (!user.addresses.empty()) {
    json addresses = json::array();
    for (const auto& a : user.addresses) {
      json entry{{"primary", a.primary}};
      put(entry, "type", a.type);
      put(entry, "formatted", a.formatted);
      put(entry, "streetAddress", a.street_address);
      put(entry, "locality", a.locality);
      put(entry, "region", a.region);
      put(entry, "postalCode", a.postal_code);
      put(entry, "country", a.country);
      addresses.push_back(std::move(entry));
    }
    out["addresses"] = std::move(addresses);
  }
  json group_list = json::array();
  for (const auto& g : groups) {
    group_list.push_back({{"value", g.id},
                          {"$ref", base_url + "/Groups/" + g.id},
                          {"display", g.display},
                          {"type", "direct"}});
  }
  out["groups"] = std::move(group_list);

  json enterprise = json::object();
  put(enterprise, "employeeNumber", user.enterprise.employee_number);
  put(enterprise, "costCenter", user.enterprise.cost_center);
  put(enterprise, "organization", user.enterprise.organization);
  put(enterprise, "division", user.enterprise.division);
  put(enterprise, "department", user.enterprise.department);
  if (user.enterprise.manager) {
    enterprise["manager"] = {{"value", user.enterprise.manager->str()},
                             {"$ref", base_url + "/Users/" + user.enterprise.manager->str()}};
  }
  if (!enterprise.empty()) {
    out["schemas"].push_back(enterprise_user_urn);
    out[std::string(enterprise_user_urn)] = std::move(enterprise);
  }

  json tenant{{"role", core::to_string(user.role)},
              {"profiles", user.profiles},
              {"mustChangePassword", user.must_change_password}};
  json extensions = json::array();
  for (const auto& e : user.extensions) {
    extensions.push_back(
        {{"number", e.number}, {"e911Location", e.e911_location}, {"primary", e.primary}});
  }
  tenant["extensions"] = std::move(extensions);
  tenant["mfa"] = {{"method", core::to_string(user.mfa.method)},
                   {"emailAddresses", user.mfa.email_addresses},
                   {"smsNumbers", user.mfa.sms_numbers}};
  out["schemas"].push_back(tenant_user_urn);
  out[std::string(tenant_user_urn)] = std::move(tenant);

  out["meta"] = meta("User", user.created, user.last_modified, user.version,
                     base_url + "/Users/" + user.id.str());
  return out;
}

json group_to_json(const core::Group& group, const std::string& base_url,
                   const std::vector<core::MemberRef>* members) {
  json out{{"schemas", json::array({group_schema_urn, tenant_group_urn})}, {"id", group.id.str()}};
  if (group.external_id) {
    out["externalId"] = *group.external_id;
  }
  out["displayName"] = group.display_name;
  if (members != nullptr) {
    json list = json::array();
    for (const auto& m : *members) {
      const bool is_user = m.type == core::MemberType::user;
      list.push_back({{"value", m.id},
                      {"$ref", base_url + (is_user ? "/Users/" : "/Groups/") + m.id},
                      {"type", is_user ? "User" : "Group"}});
    }
    out["members"] = std::move(list);
  }
  out[std::string(tenant_group_urn)] = {{"kind", core::to_string(group.kind)},
                                        {"system", group.system}};
  out["meta"] = meta("Group", group.created, group.last_modified, group.version,
                     base_url + "/Groups/" + group.id.str());
  return out;
}

std::string format_timestamp(core::Timestamp at) {
  return core::format_timestamp(at);
}

std::string etag(core::ResourceVersion version) {
  return "W/\"" + std::to_string(version) + "\"";
}

}  // namespace idbridge::scim
