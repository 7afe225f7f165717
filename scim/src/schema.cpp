// The schema tables. Descriptions follow RFC 7643 §4 and §8.7.1 where the attribute is standard.
#include "schema.hpp"

#include <algorithm>
#include <cctype>

namespace idbridge::scim {
namespace {

AttributeDef str(std::string_view name, std::string_view description) {
  AttributeDef def;
  def.name = name;
  def.description = description;
  return def;
}

AttributeDef boolean(std::string_view name, std::string_view description) {
  AttributeDef def = str(name, description);
  def.type = AttrType::boolean;
  return def;
}

AttributeDef complex(std::string_view name, std::string_view description,
                     std::vector<AttributeDef> sub_attributes, bool multi_valued = false) {
  AttributeDef def = str(name, description);
  def.type = AttrType::complex;
  def.multi_valued = multi_valued;
  def.sub_attributes = std::move(sub_attributes);
  return def;
}

AttributeDef read_only(AttributeDef def) {
  def.mutability = Mutability::read_only;
  return def;
}

// value/type/primary (and display) entries of emails, phoneNumbers and similar.
AttributeDef contact_list(std::string_view name, std::string_view description,
                          std::vector<std::string_view> types) {
  AttributeDef type = str("type", "A label indicating the attribute's function.");
  type.canonical_values = std::move(types);
  return complex(name, description,
                 {str("value", "The attribute's value."), str("display", "A human-readable name."),
                  type, boolean("primary", "Whether this is the preferred value.")},
                 true);
}

SchemaDef make_user_schema() {
  AttributeDef id = read_only(str("id", "Unique identifier assigned by the service provider."));
  id.case_exact = true;
  id.returned = Returned::always;
  id.uniqueness = Uniqueness::server;
  AttributeDef external_id = str("externalId", "Identifier defined by the provisioning client.");
  external_id.case_exact = true;
  AttributeDef user_name =
      str("userName", "Unique identifier for the user across all tenants, used to sign in.");
  user_name.required = true;
  user_name.uniqueness = Uniqueness::global;
  AttributeDef password = str("password", "The user's cleartext password; never returned.");
  password.mutability = Mutability::write_only;
  password.returned = Returned::never;
  AttributeDef groups = read_only(
      complex("groups", "Groups the user belongs to, directly or through All Users.",
              {str("value", "The group's id."), str("$ref", "The group's URI."),
               str("display", "The group's displayName."), str("type", "direct or indirect.")},
              true));
  groups.sub_attributes[1].type = AttrType::reference;
  AttributeDef address_type = str("type", "work, home or other.");
  address_type.canonical_values = {"work", "home", "other"};
  return SchemaDef{
      user_schema_urn,
      "User",
      "User Account",
      {id, external_id, user_name,
       complex("name", "The components of the user's real name.",
               {str("formatted", "The full name."), str("familyName", "The family name."),
                str("givenName", "The given name."), str("middleName", "The middle name."),
                str("honorificPrefix", "Honorific prefix."),
                str("honorificSuffix", "Honorific suffix.")}),
       str("displayName", "The name displayed to end users."),
       str("nickName", "The casual way to address the user."),
       str("profileUrl", "A URI of the user's online profile."),
       str("title", "The user's job title."),
       str("userType", "The relationship between organisation and user."),
       str("preferredLanguage", "Preferred written or spoken language (RFC 7231 tag)."),
       str("locale", "Default location for localisation (e.g. en-US)."),
       str("timezone", "IANA time-zone name, e.g. Australia/Sydney."),
       boolean("active", "Whether the user may sign in (enable login)."), password,
       contact_list("emails", "Email addresses: one primary (login, recovery), one backup.",
                    {"work", "home", "other"}),
       contact_list("phoneNumbers", "Phone numbers.",
                    {"work", "home", "mobile", "fax", "pager", "other"}),
       complex("addresses", "Physical mailing addresses.",
               {str("formatted", "The full address."), str("streetAddress", "Street."),
                str("locality", "City or locality."), str("region", "State or region."),
                str("postalCode", "Postal code."), str("country", "ISO 3166-1 alpha-2 country."),
                address_type, boolean("primary", "Whether this is the preferred address.")},
               true),
       groups}};
}

SchemaDef make_enterprise_schema() {
  AttributeDef manager =
      complex("manager", "The user's manager.",
              {str("value", "The id of the manager's User."), str("$ref", "The manager's URI."),
               read_only(str("displayName", "The manager's displayName."))});
  manager.sub_attributes[1].type = AttrType::reference;
  return SchemaDef{enterprise_user_urn,
                   "EnterpriseUser",
                   "Enterprise User",
                   {str("employeeNumber", "Identifier assigned by the organisation."),
                    str("costCenter", "Cost center."), str("organization", "Organisation."),
                    str("division", "Division."), str("department", "Department."), manager}};
}

SchemaDef make_tenant_user_schema() {
  AttributeDef role = str("role", "The user's one role.");
  role.canonical_values = {"accountOwner", "administrator", "standardUser", "limitedAccessUser"};
  AttributeDef profiles = str("profiles", "Profiles held; rights are their union.");
  profiles.multi_valued = true;
  AttributeDef method = str("method", "none, email, sms, totp or webauthn.");
  method.canonical_values = {"none", "email", "sms", "totp", "webauthn"};
  AttributeDef mfa_emails = str("emailAddresses", "At most one address for email codes.");
  mfa_emails.multi_valued = true;
  AttributeDef sms = str("smsNumbers", "At most three numbers for SMS codes.");
  sms.multi_valued = true;
  return SchemaDef{
      tenant_user_urn,
      "TenantUser",
      "idbridge tenant attributes of a user",
      {role, profiles,
       complex("extensions", "Phone extensions; unique per tenant, exactly one primary.",
               {str("number", "The extension number."),
                str("e911Location", "Where emergency services are sent."),
                boolean("primary", "The primary extension.")},
               true),
       complex("mfa", "Multi-factor authentication settings.", {method, mfa_emails, sms}),
       boolean("mustChangePassword", "Force a password change at next sign-in.")}};
}

SchemaDef make_group_schema() {
  AttributeDef id = read_only(str("id", "Unique identifier assigned by the service provider."));
  id.case_exact = true;
  id.returned = Returned::always;
  AttributeDef external_id = str("externalId", "Identifier defined by the provisioning client.");
  external_id.case_exact = true;
  AttributeDef display_name = str("displayName", "The group's name, unique in the tenant.");
  display_name.required = true;
  display_name.uniqueness = Uniqueness::server;
  AttributeDef member_type = str("type", "User or Group.");
  member_type.canonical_values = {"User", "Group"};
  AttributeDef value = str("value", "The member's id.");
  value.mutability = Mutability::immutable;
  AttributeDef members = complex("members", "Users and groups in the group.",
                                 {value, str("$ref", "The member's URI."),
                                  read_only(str("display", "The member's name.")), member_type},
                                 true);
  members.sub_attributes[1].type = AttrType::reference;
  return SchemaDef{group_schema_urn, "Group", "Group", {id, external_id, display_name, members}};
}

SchemaDef make_tenant_group_schema() {
  AttributeDef kind = str("kind", "access, team, contactType or distribution.");
  kind.canonical_values = {"access", "team", "contactType", "distribution"};
  kind.mutability = Mutability::read_write;
  return SchemaDef{tenant_group_urn,
                   "TenantGroup",
                   "idbridge tenant attributes of a group",
                   {kind, read_only(boolean("system", "True for the All Users system group."))}};
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const SchemaDef& user_schema() {
  static const SchemaDef schema = make_user_schema();
  return schema;
}
const SchemaDef& enterprise_user_schema() {
  static const SchemaDef schema = make_enterprise_schema();
  return schema;
}
const SchemaDef& tenant_user_schema() {
  static const SchemaDef schema = make_tenant_user_schema();
  return schema;
}
const SchemaDef& group_schema() {
  static const SchemaDef schema = make_group_schema();
  return schema;
}
const SchemaDef& tenant_group_schema() {
  static const SchemaDef schema = make_tenant_group_schema();
  return schema;
}

std::vector<const SchemaDef*> all_schemas() {
  return {&user_schema(), &enterprise_user_schema(), &tenant_user_schema(), &group_schema(),
          &tenant_group_schema()};
}

const AttributeDef* find_attribute(const std::vector<AttributeDef>& attributes,
                                   std::string_view name) {
  for (const auto& attribute : attributes) {
    if (iequals(attribute.name, name)) {
      return &attribute;
    }
  }
  return nullptr;
}

}  // namespace idbridge::scim
