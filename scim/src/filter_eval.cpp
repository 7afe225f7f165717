// Evaluation of SCIM filters against resource JSON: attribute resolution, value comparison.
#include "filter_eval.hpp"

#include "filter_text.hpp"
#include "idbridge/core/rules.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace idbridge::scim {
namespace {

using filter_detail::ascii_iequals;
using filter_detail::ascii_istarts_with;
using filter_detail::is_digit;
using json = nlohmann::json;

constexpr std::string_view core_schema_prefix = "urn:ietf:params:scim:schemas:core:2.0:";

const json* find_member(const json& object, std::string_view name) {
  if (!object.is_object()) {
    return nullptr;
  }
  if (const auto it = object.find(name); it != object.end()) {
    return &*it;
  }
  for (const auto& [key, value] : object.items()) {
    if (ascii_iequals(key, name)) {
      return &value;
    }
  }
  return nullptr;
}

// The attribute `path` names at the top of `resource`: inside the extension object when the
// URN names one, at the top level for a core schema URN or for no URN.
const json* resolve_attribute(const json& resource, const AttributePath& path) {
  if (!path.schema) {
    return find_member(resource, path.attribute);
  }
  if (const json* extension = find_member(resource, *path.schema)) {
    return extension->is_object() ? find_member(*extension, path.attribute) : nullptr;
  }
  bool declared = ascii_istarts_with(*path.schema, core_schema_prefix);
  if (const json* schemas = find_member(resource, "schemas"); schemas && schemas->is_array()) {
    for (const json& schema : *schemas) {
      declared = declared || (schema.is_string() &&
                              ascii_iequals(schema.get_ref<const std::string&>(), *path.schema));
    }
  }
  return declared ? find_member(resource, path.attribute) : nullptr;
}

bool present(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return false;
    case json::value_t::string: return !value.get_ref<const std::string&>().empty();
    case json::value_t::array:
      return std::any_of(value.begin(), value.end(), [](const json& v) { return present(v); });
    case json::value_t::object: return !value.empty();
    default: return true;
  }
}

// RFC 3339 date-time as (seconds since the epoch, nanoseconds); no zone means UTC.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_date_time(std::string_view s) {
  const auto number = [&](std::size_t at, std::size_t length) -> std::optional<int> {
    if (at + length > s.size()) {
      return std::nullopt;
    }
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) {
      if (!is_digit(s[i])) {
        return std::nullopt;
      }
      value = value * 10 + (s[i] - '0');
    }
    return value;
  };
  const auto expect = [&](std::size_t at, std::string_view chars) {
    return at < s.size() && chars.find(s[at]) != std::string_view::npos;
  };
  const auto year = number(0, 4);
  const auto month = number(5, 2);
  const auto day = number(8, 2);
  const auto hour = number(11, 2);
  const auto minute = number(14, 2);
  const auto second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || !expect(4, "-") ||
      !expect(7, "-") || !expect(10, "Tt ") || !expect(13, ":") || !expect(16, ":") || *month < 1 ||
      *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (expect(at, ".")) {
    ++at;
    std::int64_t scale = 100000000;
    const std::size_t first_digit = at;
    while (at < s.size() && is_digit(s[at])) {
      nanos += (s[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == first_digit) {
      return std::nullopt;
    }
  }
  std::int64_t offset = 0;
  if (expect(at, "Zz")) {
    ++at;
  } else if (expect(at, "+-")) {
    const auto offset_hours = number(at + 1, 2);
    const auto offset_minutes = number(at + 4, 2);
    if (!offset_hours || !offset_minutes || !expect(at + 3, ":")) {
      return std::nullopt;
    }
    offset = (*offset_hours * 60 + *offset_minutes) * 60 * (s[at] == '-' ? -1 : 1);
    at += 6;
  }
  if (at != s.size()) {
    return std::nullopt;
  }
  // Days from civil (H. Hinnant's algorithm).
  const int y = *year - (*month <= 2 ? 1 : 0);
  const int era = y / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (*month + (*month > 2 ? -3 : 9)) + 2) / 5 + *day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  const std::int64_t seconds = days * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
  return std::pair{seconds, nanos};
}

// -1, 0, 1 for ordering.
template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool ordered(CompareOp op, int order) {
  switch (op) {
    case CompareOp::eq: return order == 0;
    case CompareOp::ne: return order != 0;
    case CompareOp::gt: return order > 0;
    case CompareOp::ge: return order >= 0;
    case CompareOp::lt: return order < 0;
    case CompareOp::le: return order <= 0;
    default: return false;
  }
}

bool compare_strings(std::string_view attribute, std::string_view operand, CompareOp op,
                     const std::optional<AttributeTraits>& traits) {
  if (traits && traits->type == AttributeType::date_time &&
      (op == CompareOp::eq || op == CompareOp::ne || op == CompareOp::gt || op == CompareOp::ge ||
       op == CompareOp::lt || op == CompareOp::le)) {
    const auto a = parse_date_time(attribute);
    const auto b = parse_date_time(operand);
    if (a && b) {
      return ordered(op, three_way(*a, *b));
    }
  }
  // The same folding as the store's uniqueness key, so a filter finds what a 409 reports.
  const bool case_exact = traits && traits->case_exact;
  const std::string a = case_exact ? std::string(attribute) : core::fold_case(attribute);
  const std::string b = case_exact ? std::string(operand) : core::fold_case(operand);
  switch (op) {
    case CompareOp::co: return a.find(b) != std::string::npos;
    case CompareOp::sw: return a.starts_with(b);
    case CompareOp::ew: return a.ends_with(b);
    default: return ordered(op, a.compare(b) < 0 ? -1 : (a.compare(b) > 0 ? 1 : 0));
  }
}

bool compare_numbers(const json& attribute, const Value& operand, CompareOp op) {
  if (const auto* integer = std::get_if<std::int64_t>(&operand);
      integer && attribute.is_number_integer()) {
    if (attribute.is_number_unsigned()) {
      const auto value = attribute.get<std::uint64_t>();
      if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return ordered(op, 1);
      }
    }
    return ordered(op, three_way(attribute.get<std::int64_t>(), *integer));
  }
  const double a = attribute.get<double>();
  const double b = std::holds_alternative<double>(operand)
                       ? std::get<double>(operand)
                       : static_cast<double>(std::get<std::int64_t>(operand));
  return ordered(op, three_way(a, b));
}

// One attribute value against the operand. `ne` is handled by the caller as "not eq".
bool compare_one(const json& attribute, const Value& operand, CompareOp op,
                 const std::optional<AttributeTraits>& traits) {
  if (std::holds_alternative<std::nullptr_t>(operand)) {
    return op == CompareOp::eq && attribute.is_null();
  }
  if (attribute.is_boolean()) {
    if (op != CompareOp::eq) {
      return false;
    }
    if (const bool* flag = std::get_if<bool>(&operand)) {
      return attribute.get<bool>() == *flag;
    }
    // Entra filters booleans with strings: roles[primary eq "True"].
    if (const auto* text = std::get_if<std::string>(&operand)) {
      return (ascii_iequals(*text, "true") && attribute.get<bool>()) ||
             (ascii_iequals(*text, "false") && !attribute.get<bool>());
    }
    return false;
  }
  if (attribute.is_number()) {
    const bool numeric_operand =
        std::holds_alternative<std::int64_t>(operand) || std::holds_alternative<double>(operand);
    return numeric_operand && op != CompareOp::co && op != CompareOp::sw && op != CompareOp::ew &&
           compare_numbers(attribute, operand, op);
  }
  if (attribute.is_string()) {
    if (const auto* text = std::get_if<std::string>(&operand)) {
      return compare_strings(attribute.get_ref<const std::string&>(), *text, op, traits);
    }
    // A boolean stored as "True" (not normalised) still answers active eq true.
    if (const bool* flag = std::get_if<bool>(&operand); flag && op == CompareOp::eq) {
      return ascii_iequals(attribute.get_ref<const std::string&>(), *flag ? "true" : "false");
    }
  }
  return false;
}

class Evaluator {
 public:
  explicit Evaluator(const AttributeRules& rules) : rules_(rules) {}

  // `parent` is set inside `attr[...]`: `scope` is then one value of that attribute.
  bool eval(const Filter& filter, const json& scope, const AttributePath* parent) const {
    if (const auto* comparison = std::get_if<Comparison>(&filter.node)) {
      return eval_comparison(*comparison, scope, parent);
    }
    if (const auto* logical = std::get_if<Logical>(&filter.node)) {
      const auto one = [&](const Filter& operand) { return eval(operand, scope, parent); };
      return logical->op == LogicalOp::and_
                 ? std::all_of(logical->operands.begin(), logical->operands.end(), one)
                 : std::any_of(logical->operands.begin(), logical->operands.end(), one);
    }
    if (const auto* negation = std::get_if<Negation>(&filter.node)) {
      return !eval(*negation->operand, scope, parent);
    }
    const auto& value_path = std::get<ValuePathFilter>(filter.node);
    if (parent != nullptr) {
      return false;  // the parser refuses nested value paths
    }
    const json* attribute = resolve_attribute(scope, value_path.path);
    if (attribute == nullptr) {
      return false;
    }
    if (attribute->is_array()) {
      return std::any_of(attribute->begin(), attribute->end(), [&](const json& element) {
        return element.is_object() && eval(*value_path.filter, element, &value_path.path);
      });
    }
    return attribute->is_object() && eval(*value_path.filter, *attribute, &value_path.path);
  }

 private:
  bool eval_comparison(const Comparison& comparison, const json& scope,
                       const AttributePath* parent) const {
    const json* attribute = nullptr;
    AttributePath path = comparison.path;
    if (parent != nullptr) {
      if (comparison.path.sub_attribute || comparison.path.schema) {
        return false;  // SCIM has two levels; validate() reports this
      }
      attribute = find_member(scope, comparison.path.attribute);
      path = AttributePath{parent->schema, parent->attribute, comparison.path.attribute};
    } else {
      attribute = resolve_attribute(scope, comparison.path);
    }

    std::vector<const json*> values;
    if (attribute != nullptr) {
      collect(*attribute, comparison.path.sub_attribute, comparison.op == CompareOp::pr, values);
    }
    if (comparison.op == CompareOp::pr) {
      return std::any_of(values.begin(), values.end(), [](const json* v) { return present(*v); });
    }

    auto traits = rules_.traits(path);
    if (!path.sub_attribute && traits && traits->type == AttributeType::complex) {
      traits = rules_.traits(AttributePath{path.schema, path.attribute, std::string("value")});
    }
    const CompareOp op = comparison.op == CompareOp::ne ? CompareOp::eq : comparison.op;
    const bool any = std::any_of(values.begin(), values.end(), [&](const json* v) {
      return compare_one(*v, comparison.value, op, traits);
    });
    const bool absent =
        std::none_of(values.begin(), values.end(), [](const json* v) { return !v->is_null(); });
    if (std::holds_alternative<std::nullptr_t>(comparison.value)) {
      // `eq null`: no value; `ne null`: some value.
      return comparison.op == CompareOp::ne ? !absent : absent;
    }
    return comparison.op == CompareOp::ne ? !any : any;
  }

  // The values a comparison looks at: each element of a multi-valued attribute, the named
  // sub-attribute of each, or for a complex attribute without one its `value` (not for `pr`,
  // which asks whether the attribute itself is there).
  static void collect(const json& attribute, const std::optional<std::string>& sub, bool raw,
                      std::vector<const json*>& out) {
    if (raw && !sub) {
      out.push_back(&attribute);
      return;
    }
    const auto one = [&](const json& element) {
      if (sub) {
        if (const json* member = find_member(element, *sub)) {
          if (member->is_array()) {
            for (const json& item : *member) {
              out.push_back(&item);
            }
          } else {
            out.push_back(member);
          }
        }
      } else if (element.is_object()) {
        if (const json* member = find_member(element, "value")) {
          out.push_back(member);
        }
      } else {
        out.push_back(&element);
      }
    };
    if (attribute.is_array()) {
      for (const json& element : attribute) {
        one(element);
      }
    } else {
      one(attribute);
    }
  }

  const AttributeRules& rules_;
};

}  // namespace

bool matches(const Filter& filter, const nlohmann::json& resource, const AttributeRules& rules) {
  return Evaluator(rules).eval(filter, resource, nullptr);
}

bool matches_value(const Filter& value_filter, const nlohmann::json& element,
                   const AttributePath& attribute, const AttributeRules& rules) {
  return element.is_object() && Evaluator(rules).eval(value_filter, element, &attribute);
}

}  // namespace idbridge::scim
