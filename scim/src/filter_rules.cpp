// The default attribute rules (RFC 7643 core User, Group, Enterprise User, meta) and the
// operator/type validation of filters.
#include "filter_text.hpp"
#include "idbridge/scim/filter.hpp"

#include <array>

namespace idbridge::scim {
namespace {

using filter_detail::ascii_iequals;
using filter_detail::ascii_istarts_with;

enum class SchemaKind { core, enterprise };

struct RuleEntry {
  SchemaKind schema;
  std::string_view attribute;
  std::string_view sub_attribute;  // "" for the attribute itself
  AttributeType type;
  bool case_exact;
  bool multi_valued;
};

constexpr auto str = AttributeType::string;
constexpr auto boolean = AttributeType::boolean;
constexpr auto date_time = AttributeType::date_time;
constexpr auto reference = AttributeType::reference;
constexpr auto complex = AttributeType::complex;
constexpr auto binary = AttributeType::binary;
constexpr auto core = SchemaKind::core;
constexpr auto ent = SchemaKind::enterprise;

// User and Group share one table: their common names (id, externalId, displayName, meta) have
// the same traits in both, so the rules need not know the resource type.
constexpr RuleEntry rule_table[] = {
    // common (RFC 7643 §3.1)
    {core, "id", "", str, true, false},
    {core, "externalId", "", str, true, false},
    {core, "meta", "", complex, false, false},
    {core, "meta", "resourceType", str, true, false},
    {core, "meta", "created", date_time, false, false},
    {core, "meta", "lastModified", date_time, false, false},
    {core, "meta", "location", reference, true, false},
    {core, "meta", "version", str, true, false},
    // User (RFC 7643 §4.1)
    {core, "userName", "", str, false, false},
    {core, "name", "", complex, false, false},
    {core, "name", "formatted", str, false, false},
    {core, "name", "familyName", str, false, false},
    {core, "name", "givenName", str, false, false},
    {core, "name", "middleName", str, false, false},
    {core, "name", "honorificPrefix", str, false, false},
    {core, "name", "honorificSuffix", str, false, false},
    {core, "displayName", "", str, false, false},
    {core, "nickName", "", str, false, false},
    {core, "profileUrl", "", reference, false, false},
    {core, "title", "", str, false, false},
    {core, "userType", "", str, false, false},
    {core, "preferredLanguage", "", str, false, false},
    {core, "locale", "", str, false, false},
    {core, "timezone", "", str, false, false},
    {core, "active", "", boolean, false, false},
    {core, "password", "", str, false, false},
    {core, "emails", "", complex, false, true},
    {core, "emails", "value", str, false, false},
    {core, "emails", "display", str, false, false},
    {core, "emails", "type", str, false, false},
    {core, "emails", "primary", boolean, false, false},
    {core, "phoneNumbers", "", complex, false, true},
    {core, "phoneNumbers", "value", str, false, false},
    {core, "phoneNumbers", "display", str, false, false},
    {core, "phoneNumbers", "type", str, false, false},
    {core, "phoneNumbers", "primary", boolean, false, false},
    {core, "ims", "", complex, false, true},
    {core, "ims", "value", str, false, false},
    {core, "ims", "display", str, false, false},
    {core, "ims", "type", str, false, false},
    {core, "ims", "primary", boolean, false, false},
    {core, "photos", "", complex, false, true},
    {core, "photos", "value", reference, false, false},
    {core, "photos", "display", str, false, false},
    {core, "photos", "type", str, false, false},
    {core, "photos", "primary", boolean, false, false},
    {core, "addresses", "", complex, false, true},
    {core, "addresses", "formatted", str, false, false},
    {core, "addresses", "streetAddress", str, false, false},
    {core, "addresses", "locality", str, false, false},
    {core, "addresses", "region", str, false, false},
    {core, "addresses", "postalCode", str, false, false},
    {core, "addresses", "country", str, false, false},
    {core, "addresses", "type", str, false, false},
    {core, "addresses", "primary", boolean, false, false},
    {core, "groups", "", complex, false, true},
    {core, "groups", "value", str, false, false},
    {core, "groups", "$ref", reference, false, false},
    {core, "groups", "display", str, false, false},
    {core, "groups", "type", str, false, false},
    {core, "entitlements", "", complex, false, true},
    {core, "entitlements", "value", str, false, false},
    {core, "entitlements", "display", str, false, false},
    {core, "entitlements", "type", str, false, false},
    {core, "entitlements", "primary", boolean, false, false},
    {core, "roles", "", complex, false, true},
    {core, "roles", "value", str, false, false},
    {core, "roles", "display", str, false, false},
    {core, "roles", "type", str, false, false},
    {core, "roles", "primary", boolean, false, false},
    {core, "x509Certificates", "", complex, false, true},
    {core, "x509Certificates", "value", binary, true, false},
    {core, "x509Certificates", "display", str, false, false},
    {core, "x509Certificates", "type", str, false, false},
    {core, "x509Certificates", "primary", boolean, false, false},
    // Group (RFC 7643 §4.2); displayName is above
    {core, "members", "", complex, false, true},
    {core, "members", "value", str, false, false},
    {core, "members", "$ref", reference, false, false},
    {core, "members", "type", str, false, false},
    {core, "members", "display", str, false, false},
    // Enterprise User (RFC 7643 §4.3)
    {ent, "employeeNumber", "", str, false, false},
    {ent, "costCenter", "", str, false, false},
    {ent, "organization", "", str, false, false},
    {ent, "division", "", str, false, false},
    {ent, "department", "", str, false, false},
    {ent, "manager", "", complex, false, false},
    {ent, "manager", "value", str, false, false},
    {ent, "manager", "$ref", reference, false, false},
    {ent, "manager", "displayName", str, false, false},
};

constexpr std::string_view core_schema_prefix = "urn:ietf:params:scim:schemas:core:2.0:";
constexpr std::string_view enterprise_urn =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

class DefaultRules final : public AttributeRules {
 public:
  std::optional<AttributeTraits> traits(const AttributePath& path) const override {
    SchemaKind kind = SchemaKind::core;
    if (path.schema) {
      if (ascii_iequals(*path.schema, enterprise_urn)) {
        kind = SchemaKind::enterprise;
      } else if (!ascii_istarts_with(*path.schema, core_schema_prefix)) {
        return std::nullopt;
      }
    }
    const std::string_view sub = path.sub_attribute ? *path.sub_attribute : std::string_view();
    for (const RuleEntry& entry : rule_table) {
      if (entry.schema == kind && ascii_iequals(entry.attribute, path.attribute) &&
          ascii_iequals(entry.sub_attribute, sub)) {
        return AttributeTraits{entry.type, entry.case_exact, entry.multi_valued};
      }
    }
    return std::nullopt;
  }
};

std::string_view type_name(AttributeType type) {
  switch (type) {
    case AttributeType::string: return "a string";
    case AttributeType::boolean: return "a boolean";
    case AttributeType::decimal: return "a decimal";
    case AttributeType::integer: return "an integer";
    case AttributeType::date_time: return "a dateTime";
    case AttributeType::reference: return "a reference";
    case AttributeType::complex: return "complex";
    case AttributeType::binary: return "binary";
  }
  return "a value";
}

bool is_ordering(CompareOp op) {
  return op == CompareOp::gt || op == CompareOp::ge || op == CompareOp::lt || op == CompareOp::le;
}

bool is_substring(CompareOp op) {
  return op == CompareOp::co || op == CompareOp::sw || op == CompareOp::ew;
}

class Validator {
 public:
  explicit Validator(const AttributeRules& rules) : rules_(rules) {}

  boost::system::result<void, ParseError> check(const Filter& filter,
                                                const AttributePath* parent) const {
    if (const auto* comparison = std::get_if<Comparison>(&filter.node)) {
      return check_comparison(*comparison, parent);
    }
    if (const auto* logical = std::get_if<Logical>(&filter.node)) {
      for (const Filter& operand : logical->operands) {
        if (auto checked = check(operand, parent); !checked) {
          return checked;
        }
      }
      return {};
    }
    if (const auto* negation = std::get_if<Negation>(&filter.node)) {
      return check(*negation->operand, parent);
    }
    const auto& value_path = std::get<ValuePathFilter>(filter.node);
    const auto traits = rules_.traits(value_path.path);
    if (traits && traits->type != AttributeType::complex) {
      return error("'" + to_string(value_path.path) + "' is " +
                   std::string(type_name(traits->type)) +
                   ", not a complex attribute; '[...]' filters the values of one such as emails");
    }
    return check(*value_path.filter, &value_path.path);
  }

 private:
  static ParseError error(std::string message) {
    return ParseError{"invalidFilter", std::move(message), 0};
  }

  boost::system::result<void, ParseError> check_comparison(const Comparison& comparison,
                                                           const AttributePath* parent) const {
    AttributePath path = comparison.path;
    if (parent != nullptr) {
      if (comparison.path.sub_attribute || comparison.path.schema) {
        return error("'" + to_string(comparison.path) + "' inside '" + to_string(*parent) +
                     "[...]' must name a sub-attribute of " + parent->attribute);
      }
      path = AttributePath{parent->schema, parent->attribute, comparison.path.attribute};
    }
    const CompareOp op = comparison.op;
    const std::string name = to_string(path);
    if (op == CompareOp::pr) {
      return {};
    }
    auto traits = rules_.traits(path);
    if (traits && traits->type == AttributeType::complex && !path.sub_attribute) {
      // `emails co "@x"` compares emails.value (RFC 7644 §3.4.2.2).
      AttributePath value_path{path.schema, path.attribute, std::string("value")};
      traits = rules_.traits(value_path);
      if (!traits) {
        return error("'" + name + "' is a complex attribute without a value sub-attribute; " +
                     "filter on one of its sub-attributes");
      }
    }
    const AttributeType type = traits ? traits->type : AttributeType::string;
    if (is_ordering(op) && (type == AttributeType::boolean || type == AttributeType::binary)) {
      return error("'" + name + "' is " + std::string(type_name(type)) +
                   "; gt, ge, lt and le are not defined for it");
    }
    if (is_substring(op) && (type == AttributeType::boolean || type == AttributeType::integer ||
                             type == AttributeType::decimal)) {
      return error("'" + name + "' is " + std::string(type_name(type)) +
                   "; co, sw and ew apply to strings");
    }
    if (is_ordering(op) && !std::holds_alternative<std::string>(comparison.value) &&
        !std::holds_alternative<std::int64_t>(comparison.value) &&
        !std::holds_alternative<double>(comparison.value)) {
      return error("'" + std::string(to_string(op)) + "' on '" + name +
                   "' needs a string, number or dateTime value");
    }
    if (is_substring(op) && !std::holds_alternative<std::string>(comparison.value)) {
      return error("'" + std::string(to_string(op)) + "' on '" + name + "' needs a string value");
    }
    return {};
  }

  const AttributeRules& rules_;
};

}  // namespace

const AttributeRules& default_attribute_rules() {
  static const DefaultRules rules;
  return rules;
}

boost::system::result<void, ParseError> validate(const Filter& filter,
                                                 const AttributeRules& rules) {
  return Validator(rules).check(filter, nullptr);
}

}  // namespace idbridge::scim
