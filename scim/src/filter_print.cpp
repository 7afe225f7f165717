// Canonical text of filters and paths, and the (case-insensitive for names) equality of the tree.
#include "filter_text.hpp"
#include "idbridge/scim/filter.hpp"

#include "idbridge/core/json_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace idbridge::scim {
namespace filter_detail {

void append_json_string(std::string& out, std::string_view text) {
  core::append_json_string_literal(out, text, core::Utf8Check::pass_through);
}

std::string printable(std::string_view text, std::size_t max_length) {
  std::string out;
  const bool shortened = text.size() > max_length;
  for (const char c : text.substr(0, max_length)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F || c == '\\') {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned>(byte));
      out += buffer;
    } else {
      out += c;
    }
  }
  if (shortened) {
    out += "...";
  }
  return out;
}

}  // namespace filter_detail

namespace {

using filter_detail::ascii_iequals;

bool optional_iequals(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  return a.has_value() == b.has_value() && (!a || ascii_iequals(*a, *b));
}

void append_value(std::string& out, const Value& value) {
  if (std::holds_alternative<std::nullptr_t>(value)) {
    out += "null";
  } else if (const bool* flag = std::get_if<bool>(&value)) {
    out += *flag ? "true" : "false";
  } else if (const std::int64_t* integer = std::get_if<std::int64_t>(&value)) {
    out += std::to_string(*integer);
  } else if (const double* number = std::get_if<double>(&value)) {
    if (!std::isfinite(*number)) {
      out += "null";  // not produced by the parser; JSON has no spelling for it
      return;
    }
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, *number);
    const std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
    out += text;
    // Shortest form of 5.0 is "5", which would read back as an integer.
    if (text.find_first_of(".eE") == std::string_view::npos) {
      out += ".0";
    }
  } else {
    filter_detail::append_json_string(out, std::get<std::string>(value));
  }
}

void append_filter(std::string& out, const Filter& filter);

void append_operand(std::string& out, const Filter& operand, LogicalOp parent) {
  // `and` binds tighter than `or`; same-operator nesting came from parentheses and keeps them.
  const auto* logical = std::get_if<Logical>(&operand.node);
  const bool parenthesise =
      logical != nullptr && (logical->op == parent || logical->op == LogicalOp::or_);
  if (parenthesise) {
    out += '(';
  }
  append_filter(out, operand);
  if (parenthesise) {
    out += ')';
  }
}

void append_filter(std::string& out, const Filter& filter) {
  std::visit(
      [&out](const auto& node) {
        using Node = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<Node, Comparison>) {
          out += to_string(node.path);
          out += ' ';
          out += to_string(node.op);
          if (node.op != CompareOp::pr) {
            out += ' ';
            append_value(out, node.value);
          }
        } else if constexpr (std::is_same_v<Node, Logical>) {
          const std::string_view separator = node.op == LogicalOp::and_ ? " and " : " or ";
          for (std::size_t i = 0; i < node.operands.size(); ++i) {
            if (i > 0) {
              out += separator;
            }
            append_operand(out, node.operands[i], node.op);
          }
        } else if constexpr (std::is_same_v<Node, Negation>) {
          out += "not (";
          append_filter(out, *node.operand);
          out += ')';
        } else {
          out += to_string(node.path);
          out += '[';
          append_filter(out, *node.filter);
          out += ']';
        }
      },
      filter.node);
}

}  // namespace

std::string_view to_string(CompareOp op) {
  switch (op) {
    case CompareOp::eq: return "eq";
    case CompareOp::ne: return "ne";
    case CompareOp::co: return "co";
    case CompareOp::sw: return "sw";
    case CompareOp::ew: return "ew";
    case CompareOp::gt: return "gt";
    case CompareOp::ge: return "ge";
    case CompareOp::lt: return "lt";
    case CompareOp::le: return "le";
    case CompareOp::pr: return "pr";
  }
  return "eq";
}

std::string to_string(const AttributePath& path) {
  std::string out;
  if (path.schema) {
    out += *path.schema;
    out += ':';
  }
  out += path.attribute;
  if (path.sub_attribute) {
    out += '.';
    out += *path.sub_attribute;
  }
  return out;
}

std::string to_string(const Filter& filter) {
  std::string out;
  append_filter(out, filter);
  return out;
}

std::string to_string(const PatchPath& path) {
  std::string out = to_string(path.attribute);
  if (path.value_filter) {
    out += '[';
    append_filter(out, *path.value_filter);
    out += ']';
  }
  if (path.sub_attribute) {
    out += '.';
    out += *path.sub_attribute;
  }
  return out;
}

bool operator==(const AttributePath& a, const AttributePath& b) {
  return optional_iequals(a.schema, b.schema) && ascii_iequals(a.attribute, b.attribute) &&
         optional_iequals(a.sub_attribute, b.sub_attribute);
}

bool operator==(const Comparison& a, const Comparison& b) {
  return a.path == b.path && a.op == b.op && a.value == b.value;
}

bool operator==(const Logical& a, const Logical& b) {
  return a.op == b.op && a.operands == b.operands;
}

bool operator==(const Negation& a, const Negation& b) {
  return a.operand == b.operand;
}

bool operator==(const ValuePathFilter& a, const ValuePathFilter& b) {
  return a.path == b.path && a.filter == b.filter;
}

bool operator==(const Filter& a, const Filter& b) {
  return a.node == b.node;
}

bool operator==(const PatchPath& a, const PatchPath& b) {
  return a.attribute == b.attribute && a.value_filter == b.value_filter &&
         optional_iequals(a.sub_attribute, b.sub_attribute);
}

}  // namespace idbridge::scim
