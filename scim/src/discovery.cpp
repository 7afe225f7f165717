// Discovery documents, generated from the schema table so they cannot drift from behaviour.
#include "discovery.hpp"

#include "schema.hpp"

namespace idbridge::scim {
namespace {

using nlohmann::json;

std::string_view type_text(AttrType type) {
  switch (type) {
    case AttrType::string: return "string";
    case AttrType::boolean: return "boolean";
    case AttrType::decimal: return "decimal";
    case AttrType::integer: return "integer";
    case AttrType::date_time: return "dateTime";
    case AttrType::reference: return "reference";
    case AttrType::complex: return "complex";
    case AttrType::binary: return "binary";
  }
  return "string";
}

std::string_view mutability_text(Mutability m) {
  switch (m) {
    case Mutability::read_only: return "readOnly";
    case Mutability::read_write: return "readWrite";
    case Mutability::immutable: return "immutable";
    case Mutability::write_only: return "writeOnly";
  }
  return "readWrite";
}

std::string_view returned_text(Returned r) {
  switch (r) {
    case Returned::always: return "always";
    case Returned::never: return "never";
    case Returned::by_default: return "default";
    case Returned::request: return "request";
  }
  return "default";
}

std::string_view uniqueness_text(Uniqueness u) {
  switch (u) {
    case Uniqueness::none: return "none";
    case Uniqueness::server: return "server";
    case Uniqueness::global: return "global";
  }
  return "none";
}

json attribute_json(const AttributeDef& def) {
  json out{{"name", def.name},
           {"type", type_text(def.type)},
           {"multiValued", def.multi_valued},
           {"description", def.description},
           {"required", def.required},
           {"caseExact", def.case_exact},
           {"mutability", mutability_text(def.mutability)},
           {"returned", returned_text(def.returned)},
           {"uniqueness", uniqueness_text(def.uniqueness)}};
  if (!def.canonical_values.empty()) {
    out["canonicalValues"] = def.canonical_values;
  }
  if (def.type == AttrType::reference) {
    out["referenceTypes"] = def.reference_types.empty() ? json::array({"User", "Group", "uri"})
                                                        : json(def.reference_types);
  }
  if (!def.sub_attributes.empty()) {
    json subs = json::array();
    for (const auto& sub : def.sub_attributes) {
      subs.push_back(attribute_json(sub));
    }
    out["subAttributes"] = std::move(subs);
  }
  return out;
}

json schema_json(const SchemaDef& def, const std::string& base_url) {
  json attributes = json::array();
  for (const auto& attribute : def.attributes) {
    attributes.push_back(attribute_json(attribute));
  }
  return json{
      {"schemas", json::array({"urn:ietf:params:scim:schemas:core:2.0:Schema"})},
      {"id", def.id},
      {"name", def.name},
      {"description", def.description},
      {"attributes", std::move(attributes)},
      {"meta",
       {{"resourceType", "Schema"}, {"location", base_url + "/Schemas/" + std::string(def.id)}}}};
}

json list(json resources) {
  const auto total = resources.size();
  return json{{"schemas", json::array({list_response_urn})},
              {"totalResults", total},
              {"itemsPerPage", total},
              {"startIndex", 1},
              {"Resources", std::move(resources)}};
}

}  // namespace

json service_provider_config(const Limits& limits, const std::string& base_url) {
  return json{
      {"schemas", json::array({"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"})},
      {"documentationUri", "https://github.com/idbridge/idbridge/blob/main/docs/scim.md"},
      {"patch", {{"supported", true}}},
      {"bulk",
       {{"supported", true},
        {"maxOperations", limits.bulk_max_operations},
        {"maxPayloadSize", limits.max_payload_bytes}}},
      {"filter", {{"supported", true}, {"maxResults", limits.max_results}}},
      {"changePassword", {{"supported", true}}},
      {"sort", {{"supported", true}}},
      {"etag", {{"supported", true}}},
      {"authenticationSchemes",
       json::array({{{"type", "oauthbearertoken"},
                     {"name", "OAuth Bearer Token"},
                     {"description", "A bearer token issued per tenant in idbridge's config."},
                     {"primary", true}}})},
      {"meta",
       {{"resourceType", "ServiceProviderConfig"},
        {"location", base_url + "/ServiceProviderConfig"}}}};
}

json resource_type(const std::string& name, const std::string& base_url) {
  if (iequals(name, "User")) {
    return json{
        {"schemas", json::array({"urn:ietf:params:scim:schemas:core:2.0:ResourceType"})},
        {"id", "User"},
        {"name", "User"},
        {"endpoint", "/Users"},
        {"description", "User Account"},
        {"schema", user_schema_urn},
        {"schemaExtensions", json::array({{{"schema", enterprise_user_urn}, {"required", false}},
                                          {{"schema", tenant_user_urn}, {"required", false}}})},
        {"meta",
         {{"resourceType", "ResourceType"}, {"location", base_url + "/ResourceTypes/User"}}}};
  }
  if (iequals(name, "Group")) {
    return json{
        {"schemas", json::array({"urn:ietf:params:scim:schemas:core:2.0:ResourceType"})},
        {"id", "Group"},
        {"name", "Group"},
        {"endpoint", "/Groups"},
        {"description", "Group"},
        {"schema", group_schema_urn},
        {"schemaExtensions", json::array({{{"schema", tenant_group_urn}, {"required", false}}})},
        {"meta",
         {{"resourceType", "ResourceType"}, {"location", base_url + "/ResourceTypes/Group"}}}};
  }
  return nullptr;
}

json resource_types(const std::string& base_url) {
  return list(json::array({resource_type("User", base_url), resource_type("Group", base_url)}));
}

json schemas(const std::string& base_url) {
  json resources = json::array();
  for (const SchemaDef* def : all_schemas()) {
    resources.push_back(schema_json(*def, base_url));
  }
  return list(std::move(resources));
}

json schema(const std::string& urn, const std::string& base_url) {
  for (const SchemaDef* def : all_schemas()) {
    if (iequals(def->id, urn)) {
      return schema_json(*def, base_url);
    }
  }
  return nullptr;
}

}  // namespace idbridge::scim
