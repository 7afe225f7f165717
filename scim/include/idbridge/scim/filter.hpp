// SCIM filters (RFC 7644 §3.4.2.2) and PATCH attribute paths (§3.5.2): the syntax tree, the
// parsers, the canonical printer, and the attribute rules (type, caseExact) that validation and
// evaluation use. Grammar, limits and case rules: docs/design/scim-filter.md.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace idbridge::scim {

// Longest filter or path accepted, in bytes, and deepest nesting of "(", "not (" and "[".
// Generous for real clients (Entra and Okta send one or two comparisons), small enough that a
// hostile query cannot exhaust the stack or the CPU.
inline constexpr std::size_t max_filter_length = 16384;
inline constexpr std::size_t max_filter_depth = 32;

// `[schemaURN:]attribute[.subAttribute]`. Names keep the client's spelling; operator== compares
// them case-insensitively (RFC 7643 §2.1), the URN as well.
struct AttributePath {
  std::optional<std::string> schema;         // "urn:ietf:params:scim:schemas:core:2.0:User"
  std::string attribute;                     // "name"
  std::optional<std::string> sub_attribute;  // "givenName"

  friend bool operator==(const AttributePath& a, const AttributePath& b);
};

enum class CompareOp { eq, ne, co, sw, ew, gt, ge, lt, le, pr };

// A JSON literal of the filter: null, true/false, an integer that fits in 64 bits, any other
// number, or a string (UTF-8, escapes resolved).
using Value = std::variant<std::nullptr_t, bool, std::int64_t, double, std::string>;

// An owning pointer with value semantics (deep copy, deep ==), so the tree is a plain value.
template <class T>
class Box {
 public:
  explicit Box(T value) : ptr_(std::make_unique<T>(std::move(value))) {}
  Box(const Box& other) : ptr_(std::make_unique<T>(*other.ptr_)) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& other) {
    ptr_ = std::make_unique<T>(*other.ptr_);
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  ~Box() = default;

  const T& operator*() const { return *ptr_; }
  const T* operator->() const { return ptr_.get(); }
  friend bool operator==(const Box& a, const Box& b) { return *a.ptr_ == *b.ptr_; }

 private:
  std::unique_ptr<T> ptr_;  // never null, except after a move
};

struct Filter;

// `attrPath op value`, or `attrPath pr` (value is then null).
struct Comparison {
  AttributePath path;
  CompareOp op = CompareOp::eq;
  Value value;

  friend bool operator==(const Comparison& a, const Comparison& b);
};

enum class LogicalOp { and_, or_ };

// A chain `a and b and c` is one node with three operands, so a long flat filter makes a wide
// tree, not a deep one: tree depth stays bounded by max_filter_depth.
struct Logical {
  LogicalOp op = LogicalOp::and_;
  std::vector<Filter> operands;  // two or more

  friend bool operator==(const Logical& a, const Logical& b);
};

// `not (filter)`.
struct Negation {
  Box<Filter> operand;

  friend bool operator==(const Negation& a, const Negation& b);
};

// `emails[type eq "work"]`: some value of the multi-valued (or complex) attribute matches the
// inner filter, whose paths are relative to the attribute (`type` means `emails.type`).
struct ValuePathFilter {
  AttributePath path;  // never has a sub_attribute
  Box<Filter> filter;

  friend bool operator==(const ValuePathFilter& a, const ValuePathFilter& b);
};

struct Filter {
  std::variant<Comparison, Logical, Negation, ValuePathFilter> node;

  friend bool operator==(const Filter& a, const Filter& b);
};

// The target of a PATCH operation: `name.givenName`, `members[value eq "id"]`,
// `emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:manager`.
struct PatchPath {
  AttributePath attribute;                   // has a sub_attribute only without a value filter
  std::optional<Filter> value_filter;        // the `[...]` part
  std::optional<std::string> sub_attribute;  // the `.value` after `]`

  friend bool operator==(const PatchPath& a, const PatchPath& b);
};

// Why a filter or path was refused. `message` names the 1-based character position and what was
// expected there; it is safe to show to the client (input bytes outside printable ASCII are
// escaped). `scim_type` is "invalidFilter" or "invalidPath" (RFC 7644 §3.12).
struct ParseError {
  std::string scim_type;
  std::string message;
  std::size_t position = 0;  // 0-based byte offset of the problem in the input
};

// Boost.System calls this when value() is taken from a result holding a ParseError; it throws
// std::invalid_argument with the message.
[[noreturn]] void throw_exception_from_error(const ParseError& error,
                                             const boost::source_location& loc);

// Parses a `filter` query parameter (or SearchRequest filter). Never throws for bad input; every
// syntax error, an input longer than max_filter_length or nested deeper than max_filter_depth is
// a ParseError with scim_type "invalidFilter". Besides RFC 7644 Figure 1 it accepts Entra's
// `emails[type eq "work"].value eq "x"`, read as `emails[type eq "work" and value eq "x"]`.
boost::system::result<Filter, ParseError> parse_filter(std::string_view text);

// Parses a PATCH `path` (RFC 7644 §3.5.2: attrPath / valuePath [subAttr]). Errors as
// parse_filter, with scim_type "invalidPath".
boost::system::result<PatchPath, ParseError> parse_path(std::string_view text);

// Canonical text: lower-case operators, single spaces, parentheses only where precedence needs
// them, strings JSON-escaped. parse_filter(to_string(f)) == f.
std::string to_string(const Filter& filter);
std::string to_string(const PatchPath& path);
std::string to_string(const AttributePath& path);
std::string_view to_string(CompareOp op);

// --- Attribute rules --------------------------------------------------------------------------

enum class AttributeType {
  string,
  boolean,
  decimal,
  integer,
  date_time,
  reference,
  complex,
  binary
};

struct AttributeTraits {
  AttributeType type = AttributeType::string;
  bool case_exact = false;
  bool multi_valued = false;
};

// What evaluation needs to know about an attribute. Unknown attributes (nullopt) are compared
// by their JSON type, strings case-insensitively.
class AttributeRules {
 public:
  virtual ~AttributeRules() = default;
  // `path.sub_attribute` set: the sub-attribute's traits. `path.schema` set: the attribute of
  // that schema; unset: the core schema (User or Group).
  virtual std::optional<AttributeTraits> traits(const AttributePath& path) const = 0;
};

// RFC 7643 §4.1, §4.2, §4.3 and §3.1 (meta): core User, Group and the Enterprise User extension.
const AttributeRules& default_attribute_rules();

// Checks operator/type combinations the RFC calls errors: gt/ge/lt/le on boolean or binary,
// co/sw/ew on boolean or numbers, any operator but pr on a complex attribute without a `value`
// sub-attribute (`name eq "x"`), a value filter on an attribute that is not complex. Returns an
// "invalidFilter" ParseError (position 0) naming the attribute.
boost::system::result<void, ParseError> validate(const Filter& filter, const AttributeRules& rules);

}  // namespace idbridge::scim
