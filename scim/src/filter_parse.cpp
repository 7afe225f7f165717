// Recursive-descent parser for SCIM filters and PATCH paths (RFC 7644 §3.4.2.2, §3.5.2).
#include "filter_text.hpp"
#include "idbridge/scim/filter.hpp"

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace idbridge::scim {
namespace {

using boost::system::result;
using filter_detail::ascii_iequals;
using filter_detail::ascii_istarts_with;
using filter_detail::is_alpha;
using filter_detail::is_digit;
using filter_detail::is_name_char;
using filter_detail::printable;

constexpr std::string_view invalid_filter = "invalidFilter";
constexpr std::string_view invalid_path = "invalidPath";
constexpr std::string_view operator_list = "eq, ne, co, sw, ew, gt, ge, lt, le or pr";

std::optional<CompareOp> compare_op_from(std::string_view word) {
  static constexpr std::pair<std::string_view, CompareOp> ops[] = {
      {"eq", CompareOp::eq}, {"ne", CompareOp::ne}, {"co", CompareOp::co}, {"sw", CompareOp::sw},
      {"ew", CompareOp::ew}, {"gt", CompareOp::gt}, {"ge", CompareOp::ge}, {"lt", CompareOp::lt},
      {"le", CompareOp::le}, {"pr", CompareOp::pr}};
  for (const auto& [name, op] : ops) {
    if (ascii_iequals(word, name)) {
      return op;
    }
  }
  return std::nullopt;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  std::uint32_t cp = 0;
  if (lead < 0x80) {
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07u;
  } else {
    return 0;
  }
  if (s.size() < length) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0u) != 0x80u) {
      return 0;
    }
    cp = (cp << 6) | (byte(i) & 0x3Fu);
  }
  const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return 0;
  }
  return length;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view scim_type) : text_(text), scim_type_(scim_type) {}

  result<Filter, ParseError> whole_filter() {
    if (auto checked = check_length("filter"); !checked) {
      return checked.error();
    }
    skip_spaces();
    if (at_end()) {
      return fail("empty filter; expected an expression such as userName eq \"bjensen\"");
    }
    auto filter = parse_or();
    if (!filter) {
      return filter.error();
    }
    skip_spaces();
    if (!at_end()) {
      if (peek() == ')') {
        return fail("unbalanced ')' at " + where() + " (no '(' is open)");
      }
      if (peek() == ']') {
        return fail("unbalanced ']' at " + where() + " (no '[' is open)");
      }
      return fail("expected 'and', 'or' or end of filter at " + where() + ", found " + found());
    }
    return filter;
  }

  result<PatchPath, ParseError> whole_path() {
    if (auto checked = check_length("path"); !checked) {
      return checked.error();
    }
    skip_spaces();
    if (at_end()) {
      return fail("empty path; expected an attribute path such as name.givenName");
    }
    PatchPath path;
    auto attribute = parse_attribute_path();
    if (!attribute) {
      return attribute.error();
    }
    path.attribute = *std::move(attribute);
    if (!at_end() && peek() == '[') {
      auto filter = parse_value_filter(path.attribute);
      if (!filter) {
        return filter.error();
      }
      path.value_filter = *std::move(filter);
      if (!at_end() && peek() == '.') {
        ++pos_;
        auto sub = parse_name("a sub-attribute name after ']'");
        if (!sub) {
          return sub.error();
        }
        path.sub_attribute = *std::move(sub);
      }
    }
    skip_spaces();
    if (!at_end()) {
      if (peek() == ']') {
        return fail("unbalanced ']' at " + where() + " (no '[' is open)");
      }
      return fail("expected end of path at " + where() + ", found " + found() +
                  "; a PATCH path is an attribute path (name.givenName, " +
                  "emails[type eq \"work\"].value), not a filter");
    }
    return path;
  }

 private:
  // --- errors --------------------------------------------------------------------------------

  ParseError fail(std::string message) const { return fail_at(pos_, std::move(message)); }
  ParseError fail_at(std::size_t position, std::string message) const {
    return ParseError{std::string(scim_type_), std::move(message), position};
  }
  std::string where() const { return where(pos_); }
  static std::string where(std::size_t position) {
    return "character " + std::to_string(position + 1);
  }
  // The token at the cursor, for "found ..." in messages.
  std::string found() const {
    if (at_end()) {
      return "end of input";
    }
    std::size_t end = pos_ + 1;
    if (is_name_char(text_[pos_])) {
      while (end < text_.size() && is_name_char(text_[end])) {
        ++end;
      }
    }
    return "'" + printable(text_.substr(pos_, end - pos_)) + "'";
  }

  result<void, ParseError> check_length(std::string_view what) const {
    if (text_.size() > max_filter_length) {
      return fail_at(max_filter_length,
                     "the " + std::string(what) + " is " + std::to_string(text_.size()) +
                         " characters long; the limit is " + std::to_string(max_filter_length));
    }
    return {};
  }

  // --- cursor --------------------------------------------------------------------------------

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip_spaces() {
    while (!at_end() && is_space(peek())) {
      ++pos_;
    }
  }
  std::string_view word_at(std::size_t position) const {
    std::size_t end = position;
    while (end < text_.size() && is_name_char(text_[end])) {
      ++end;
    }
    return text_.substr(position, end - position);
  }
  // A keyword at the cursor, as a whole word, any case.
  bool at_keyword(std::string_view keyword) const {
    return !at_end() && ascii_iequals(word_at(pos_), keyword);
  }

  // Entering "(", "not (" or "[": the depth limit keeps the recursion bounded.
  result<void, ParseError> enter() {
    if (++depth_ > max_filter_depth) {
      return fail("nesting deeper than " + std::to_string(max_filter_depth) + " levels at " +
                  where());
    }
    return {};
  }

  // --- filter grammar ------------------------------------------------------------------------

  result<Filter, ParseError> parse_or() { return parse_chain(LogicalOp::or_); }

  // `x and y and z` (or `or`) as one node; operands are `and` chains for `or`, unary for `and`.
  result<Filter, ParseError> parse_chain(LogicalOp op) {
    const std::string_view keyword = op == LogicalOp::or_ ? "or" : "and";
    std::vector<Filter> operands;
    while (true) {
      auto operand = op == LogicalOp::or_ ? parse_chain(LogicalOp::and_) : parse_unary();
      if (!operand) {
        return operand.error();
      }
      operands.push_back(*std::move(operand));
      const std::size_t before = pos_;
      skip_spaces();
      if (!at_keyword(keyword)) {
        pos_ = before;
        break;
      }
      pos_ += keyword.size();
    }
    if (operands.size() == 1) {
      return std::move(operands.front());
    }
    return Filter{Logical{op, std::move(operands)}};
  }

  result<Filter, ParseError> parse_unary() {
    skip_spaces();
    if (at_end()) {
      return fail("expected an attribute path, '(' or 'not (' at " + where() +
                  ", found end of input");
    }
    if (peek() == '(') {
      auto inner = parse_group();
      if (!inner) {
        return inner.error();
      }
      return inner;
    }
    if (at_keyword("not")) {
      const std::size_t keyword_at = pos_;
      pos_ += 3;
      skip_spaces();
      if (!at_end() && peek() == '(') {
        auto inner = parse_group();
        if (!inner) {
          return inner.error();
        }
        return Filter{Negation{Box<Filter>(*std::move(inner))}};
      }
      // An attribute may be called "not": `not eq "x"`.
      if (at_end() || !compare_op_from(word_at(pos_))) {
        return fail("expected '(' after 'not' at " + where() + ", found " + found());
      }
      pos_ = keyword_at;
    }
    return parse_attribute_expression();
  }

  result<Filter, ParseError> parse_group() {
    const std::size_t open = pos_;
    if (auto entered = enter(); !entered) {
      return entered.error();
    }
    ++pos_;
    auto inner = parse_or();
    if (!inner) {
      return inner.error();
    }
    skip_spaces();
    if (at_end()) {
      return fail("missing ')' at " + where() + " (end of input) to close the '(' at " +
                  where(open));
    }
    if (peek() != ')') {
      return fail("expected 'and', 'or' or ')' at " + where() + ", found " + found());
    }
    ++pos_;
    --depth_;
    return inner;
  }

  result<Filter, ParseError> parse_attribute_expression() {
    auto path = parse_attribute_path();
    if (!path) {
      return path.error();
    }
    if (at_end() || peek() != '[') {
      return parse_comparison(*std::move(path));
    }
    auto inner = parse_value_filter(*path);
    if (!inner) {
      return inner.error();
    }
    ValuePathFilter value_path{*std::move(path), Box<Filter>(*std::move(inner))};
    if (at_end() || peek() != '.') {
      return Filter{std::move(value_path)};
    }
    // Entra's `emails[type eq "work"].value eq "x"` is not RFC grammar; it means
    // `emails[type eq "work" and value eq "x"]`, and is stored that way.
    ++pos_;
    auto sub = parse_name("a sub-attribute name after ']'");
    if (!sub) {
      return sub.error();
    }
    auto comparison = parse_comparison(AttributePath{std::nullopt, *std::move(sub), std::nullopt});
    if (!comparison) {
      return comparison.error();
    }
    Filter combined = *value_path.filter;
    if (auto* chain = std::get_if<Logical>(&combined.node); chain && chain->op == LogicalOp::and_) {
      chain->operands.push_back(*std::move(comparison));
    } else {
      std::vector<Filter> operands;
      operands.push_back(std::move(combined));
      operands.push_back(*std::move(comparison));
      combined = Filter{Logical{LogicalOp::and_, std::move(operands)}};
    }
    return Filter{ValuePathFilter{std::move(value_path.path), Box<Filter>(std::move(combined))}};
  }

  // `[valFilter]` at the cursor, for the attribute `path`.
  result<Filter, ParseError> parse_value_filter(const AttributePath& path) {
    const std::size_t open = pos_;
    if (in_value_filter_) {
      return fail("a value path cannot contain another value path ('[' at " + where() + ")");
    }
    if (path.sub_attribute) {
      return fail("'[' at " + where() + " follows a sub-attribute; a value filter applies to " +
                  "the multi-valued attribute itself, as in emails[type eq \"work\"].value");
    }
    if (auto entered = enter(); !entered) {
      return entered.error();
    }
    ++pos_;
    in_value_filter_ = true;
    skip_spaces();
    if (!at_end() && peek() == ']') {
      return fail_at(open, "empty value filter '[]' at " + where(open));
    }
    auto inner = parse_or();
    if (!inner) {
      return inner.error();
    }
    skip_spaces();
    if (at_end()) {
      return fail("missing ']' at " + where() + " (end of input) to close the '[' at " +
                  where(open));
    }
    if (peek() != ']') {
      return fail("expected 'and', 'or' or ']' at " + where() + ", found " + found());
    }
    ++pos_;
    --depth_;
    in_value_filter_ = false;
    return inner;
  }

  result<Filter, ParseError> parse_comparison(AttributePath path) {
    skip_spaces();
    if (at_end()) {
      return fail("expected an operator (" + std::string(operator_list) + ") at " + where() +
                  ", found end of input");
    }
    const std::size_t op_at = pos_;
    const std::string_view word = word_at(pos_);
    const auto op = compare_op_from(word);
    if (!op) {
      return fail("unknown operator " + found() + " at " + where() + "; expected " +
                  std::string(operator_list));
    }
    pos_ += word.size();
    if (*op == CompareOp::pr) {
      const std::size_t after_op = pos_;
      skip_spaces();
      if (!at_end() && starts_value()) {
        return fail("'pr' takes no value, found " + found() + " at " + where());
      }
      pos_ = after_op;
      return Filter{Comparison{std::move(path), CompareOp::pr, nullptr}};
    }
    skip_spaces();
    if (at_end()) {
      return fail("missing value after '" + std::string(text_.substr(op_at, word.size())) +
                  "' at " + where() + "; expected a quoted string, number, true, false or null");
    }
    auto value = parse_value();
    if (!value) {
      return value.error();
    }
    return Filter{Comparison{std::move(path), *op, *std::move(value)}};
  }

  bool starts_value() const {
    const char c = peek();
    if (c == '"' || c == '-' || is_digit(c)) {
      return true;
    }
    return at_keyword("true") || at_keyword("false") || at_keyword("null");
  }

  // --- attribute paths -----------------------------------------------------------------------

  // `[URN ":"] name ["." name]` at the cursor.
  result<AttributePath, ParseError> parse_attribute_path() {
    const std::size_t start = pos_;
    std::size_t end = pos_;
    while (end < text_.size() &&
           (is_name_char(text_[end]) || text_[end] == ':' || text_[end] == '.')) {
      ++end;
    }
    if (end == start) {
      return fail("expected an attribute path at " + where() + ", found " + found());
    }
    const std::string_view token = text_.substr(start, end - start);
    AttributePath path;
    std::size_t name_start = start;
    if (ascii_istarts_with(token, "urn:")) {
      const std::size_t colon = token.rfind(':');
      path.schema = std::string(token.substr(0, colon));
      name_start = start + colon + 1;
      if (name_start == end) {
        pos_ = end;
        return fail("expected an attribute name after the schema URN at " + where() + ", found " +
                    found());
      }
    } else if (const std::size_t colon = token.find(':'); colon != std::string_view::npos) {
      return fail_at(start + colon, "unexpected ':' at " + where(start + colon) +
                                        "; only a schema URN (urn:...) contains ':'");
    }
    pos_ = name_start;
    auto attribute = parse_name("an attribute name");
    if (!attribute) {
      return attribute.error();
    }
    path.attribute = *std::move(attribute);
    if (pos_ < end && text_[pos_] == '.') {
      ++pos_;
      auto sub = parse_name("a sub-attribute name after '.'");
      if (!sub) {
        return sub.error();
      }
      path.sub_attribute = *std::move(sub);
    }
    if (pos_ < end) {
      return fail("unexpected " + found() + " at " + where() +
                  "; an attribute path has at most one sub-attribute (name.givenName)");
    }
    return path;
  }

  // ATTRNAME = ALPHA *(nameChar), or "$ref".
  result<std::string, ParseError> parse_name(std::string_view expected) {
    const std::size_t start = pos_;
    std::size_t end = pos_;
    while (end < text_.size() && is_name_char(text_[end])) {
      ++end;
    }
    const std::string_view name = text_.substr(start, end - start);
    const bool well_formed =
        !name.empty() &&
        (is_alpha(name.front()) || (name.size() > 1 && name.front() == '$' && is_alpha(name[1])));
    if (!well_formed || name.find('$', 1) != std::string_view::npos) {
      return fail("expected " + std::string(expected) + " at " + where() + ", found " + found());
    }
    pos_ = end;
    // ParseError is an aggregate whose first member is a string, so a bare string would be
    // ambiguous between the two alternatives of the result.
    return {boost::system::in_place_value, std::string(name)};
  }

  // --- values --------------------------------------------------------------------------------

  result<Value, ParseError> parse_value() {
    const char c = peek();
    if (c == '"') {
      auto text = parse_string();
      if (!text) {
        return text.error();
      }
      return Value(*std::move(text));
    }
    if (c == '-' || is_digit(c)) {
      return parse_number();
    }
    const std::string_view word = word_at(pos_);
    if (ascii_iequals(word, "true") || ascii_iequals(word, "false")) {
      pos_ += word.size();
      return Value(ascii_iequals(word, "true"));
    }
    if (ascii_iequals(word, "null")) {
      pos_ += word.size();
      return Value(nullptr);
    }
    std::string hint = is_alpha(c) ? "; strings need double quotes" : "";
    return fail("expected a value (a quoted string, number, true, false or null) at " + where() +
                ", found " + found() + hint);
  }

  result<std::string, ParseError> parse_string() {
    const std::size_t open = pos_;
    ++pos_;
    std::string out;
    while (true) {
      if (at_end()) {
        return fail_at(open, "unterminated string starting at " + where(open));
      }
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return {boost::system::in_place_value, std::move(out)};
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return fail("control character in string at " + where() + "; escape it (\\n, \\u0009)");
      }
      if (c != '\\') {
        const std::size_t length = utf8_sequence_length(text_.substr(pos_));
        if (length == 0) {
          return fail("invalid UTF-8 in string at " + where());
        }
        out.append(text_.substr(pos_, length));
        pos_ += length;
        continue;
      }
      const std::size_t escape_at = pos_;
      ++pos_;
      if (at_end()) {
        return fail_at(open, "unterminated string starting at " + where(open));
      }
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto unit = parse_hex4(escape_at);
          if (!unit) {
            return unit.error();
          }
          std::uint32_t cp = *unit;
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail_at(escape_at, "unpaired low surrogate \\u" +
                                          std::string(text_.substr(escape_at + 2, 4)) + " at " +
                                          where(escape_at));
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") {
              return fail_at(escape_at, "high surrogate at " + where(escape_at) +
                                            " is not followed by a \\u low surrogate");
            }
            const std::size_t low_at = pos_;
            pos_ += 2;
            auto low = parse_hex4(low_at);
            if (!low) {
              return low.error();
            }
            if (*low < 0xDC00 || *low > 0xDFFF) {
              return fail_at(low_at, "expected a low surrogate (\\uDC00-\\uDFFF) at " +
                                         where(low_at) + " after a high surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
          }
          if (cp == 0) {
            // A NUL inside an identifier only ever causes truncation downstream.
            return fail_at(escape_at,
                           "\\u0000 is not allowed in a filter string (" + where(escape_at) + ")");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return fail_at(escape_at,
                         "bad escape '\\" + printable(std::string_view(&e, 1)) + "' at " +
                             where(escape_at) +
                             "; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
      }
    }
  }

  // The four hex digits after `\u` (cursor on the first).
  result<std::uint32_t, ParseError> parse_hex4(std::size_t escape_at) {
    if (text_.size() - pos_ < 4) {
      return fail_at(escape_at,
                     "bad escape at " + where(escape_at) + ": \\u needs four hex digits");
    }
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, value, 16);
    if (ec != std::errc() || end != text_.data() + pos_ + 4) {
      return fail_at(escape_at, "bad escape at " + where(escape_at) +
                                    ": \\u needs four hex digits, found '" +
                                    printable(text_.substr(pos_, 4)) + "'");
    }
    pos_ += 4;
    return value;
  }

  // RFC 7159 number: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
  result<Value, ParseError> parse_number() {
    const std::size_t start = pos_;
    const auto digits = [&] {
      const std::size_t from = pos_;
      while (!at_end() && is_digit(peek())) {
        ++pos_;
      }
      return pos_ - from;
    };
    if (peek() == '-') {
      ++pos_;
    }
    if (at_end() || !is_digit(peek())) {
      return fail("expected a digit at " + where() + ", found " + found());
    }
    if (peek() == '0' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1])) {
      return fail("leading zeros are not allowed in numbers (" + where() + ")");
    }
    digits();
    bool integral = true;
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      if (digits() == 0) {
        return fail("expected a digit after '.' at " + where() + ", found " + found());
      }
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) {
        ++pos_;
      }
      if (digits() == 0) {
        return fail("expected a digit in the exponent at " + where() + ", found " + found());
      }
    }
    if (!at_end() && (is_name_char(peek()) || peek() == '.')) {
      return fail("unexpected " + found() + " after a number at " + where());
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      std::int64_t integer = 0;
      const auto [end, ec] = std::from_chars(first, last, integer);
      if (ec == std::errc() && end == last) {
        return Value(integer);
      }
    }
    double number = 0;
    const auto [end, ec] = std::from_chars(first, last, number);
    if (ec != std::errc() || end != last) {
      return fail_at(start, "number out of range at " + where(start));
    }
    return Value(number);
  }

  std::string_view text_;
  std::string_view scim_type_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
  bool in_value_filter_ = false;
};

}  // namespace

boost::system::result<Filter, ParseError> parse_filter(std::string_view text) {
  return Parser(text, invalid_filter).whole_filter();
}

boost::system::result<PatchPath, ParseError> parse_path(std::string_view text) {
  return Parser(text, invalid_path).whole_path();
}

void throw_exception_from_error(const ParseError& error, const boost::source_location& /*loc*/) {
  throw std::invalid_argument(error.scim_type + ": " + error.message);
}

}  // namespace idbridge::scim
