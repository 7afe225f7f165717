// Filter and PATCH path parsing: RFC 7644 examples, client traffic, precedence, literals,
// canonical text, and every class of malformed input.
#include "idbridge/scim/filter.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>
#include <vector>

namespace idbridge::scim {
namespace {

constexpr std::string_view enterprise =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

Filter parsed(std::string_view text) {
  auto filter = parse_filter(text);
  EXPECT_TRUE(filter.has_value()) << text << ": " << (filter ? "" : filter.error().message);
  return filter ? *filter : Filter{Comparison{}};
}

Filter cmp(std::string attribute, CompareOp op, Value value = nullptr) {
  return Filter{Comparison{AttributePath{std::nullopt, std::move(attribute), std::nullopt}, op,
                           std::move(value)}};
}

Filter all_of(std::vector<Filter> operands) {
  return Filter{Logical{LogicalOp::and_, std::move(operands)}};
}

Filter any_of(std::vector<Filter> operands) {
  return Filter{Logical{LogicalOp::or_, std::move(operands)}};
}

Filter negate(Filter filter) {
  return Filter{Negation{Box<Filter>(std::move(filter))}};
}

// --- canonical text of every RFC 7644 §3.4.2.2 example ------------------------------------

struct CanonicalCase {
  std::string_view input;
  std::string_view canonical;
};

class RfcExamples : public ::testing::TestWithParam<CanonicalCase> {};

TEST_P(RfcExamples, ParseToCanonicalTextAndBack) {
  const auto& c = GetParam();
  const Filter filter = parsed(c.input);
  EXPECT_EQ(to_string(filter), c.canonical);
  EXPECT_EQ(parsed(to_string(filter)), filter);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7644, RfcExamples,
    ::testing::Values(
        CanonicalCase{R"(userName eq "bjensen")", R"(userName eq "bjensen")"},
        CanonicalCase{R"(name.familyName co "O'Malley")", R"(name.familyName co "O'Malley")"},
        CanonicalCase{R"(userName sw "J")", R"(userName sw "J")"},
        CanonicalCase{R"(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")",
                      R"(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")"},
        CanonicalCase{"title pr", "title pr"},
        CanonicalCase{R"(meta.lastModified gt "2011-05-13T04:42:34Z")",
                      R"(meta.lastModified gt "2011-05-13T04:42:34Z")"},
        CanonicalCase{R"(meta.lastModified ge "2011-05-13T04:42:34Z")",
                      R"(meta.lastModified ge "2011-05-13T04:42:34Z")"},
        CanonicalCase{R"(meta.lastModified lt "2011-05-13T04:42:34Z")",
                      R"(meta.lastModified lt "2011-05-13T04:42:34Z")"},
        CanonicalCase{R"(meta.lastModified le "2011-05-13T04:42:34Z")",
                      R"(meta.lastModified le "2011-05-13T04:42:34Z")"},
        CanonicalCase{R"(title pr and userType eq "Employee")",
                      R"(title pr and userType eq "Employee")"},
        CanonicalCase{R"(title pr or userType eq "Intern")", R"(title pr or userType eq "Intern")"},
        CanonicalCase{R"(schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")",
                      R"(schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")"},
        CanonicalCase{
            R"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))",
            R"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))"},
        CanonicalCase{
            R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))",
            R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))"},
        CanonicalCase{R"(userType eq "Employee" and (emails.type eq "work"))",
                      R"(userType eq "Employee" and emails.type eq "work")"},
        CanonicalCase{
            R"(userType eq "Employee" and emails[type eq "work" and value co "@example.com"])",
            R"(userType eq "Employee" and emails[type eq "work" and value co "@example.com"])"},
        CanonicalCase{
            R"(emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"])",
            R"(emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"])"},
        // Okta and Entra traffic
        CanonicalCase{R"(userName eq "test.user@okta.local")",
                      R"(userName eq "test.user@okta.local")"},
        CanonicalCase{R"(externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")",
                      R"(externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")"},
        CanonicalCase{R"(displayName eq "Test SCIMv2")", R"(displayName eq "Test SCIMv2")"},
        CanonicalCase{R"(emails[type eq "work"].value eq "user@contoso.com")",
                      R"(emails[type eq "work" and value eq "user@contoso.com"])"},
        CanonicalCase{R"(id eq "54D382A4" and manager eq "2819c223")",
                      R"(id eq "54D382A4" and manager eq "2819c223")"},
        // spelling is kept, operators and keywords are written in lower case
        CanonicalCase{R"(USERNAME EQ "x" AND Title PR OR NOT (Active Eq FALSE))",
                      R"(USERNAME eq "x" and Title pr or not (Active eq false))"},
        CanonicalCase{"  title   pr  ", "title pr"},
        CanonicalCase{R"(members[$ref eq "https://h/Users/1"])",
                      R"(members[$ref eq "https://h/Users/1"])"}));

// --- precedence ---------------------------------------------------------------------------

TEST(FilterParse, AndBindsTighterThanOr) {
  EXPECT_EQ(parsed("a pr or b pr and c pr"),
            any_of({cmp("a", CompareOp::pr),
                    all_of({cmp("b", CompareOp::pr), cmp("c", CompareOp::pr)})}));
  EXPECT_EQ(parsed("a pr and b pr or c pr"),
            any_of({all_of({cmp("a", CompareOp::pr), cmp("b", CompareOp::pr)}),
                    cmp("c", CompareOp::pr)}));
  EXPECT_EQ(
      parsed("a pr or b pr and c pr or d pr"),
      any_of({cmp("a", CompareOp::pr), all_of({cmp("b", CompareOp::pr), cmp("c", CompareOp::pr)}),
              cmp("d", CompareOp::pr)}));
}

TEST(FilterParse, ParenthesesOverridePrecedence) {
  const Filter filter = parsed("(a pr or b pr) and c pr");
  EXPECT_EQ(filter, all_of({any_of({cmp("a", CompareOp::pr), cmp("b", CompareOp::pr)}),
                            cmp("c", CompareOp::pr)}));
  EXPECT_EQ(to_string(filter), "(a pr or b pr) and c pr");
}

TEST(FilterParse, NotBindsTighterThanAnd) {
  EXPECT_EQ(parsed("not (a pr) and b pr"),
            all_of({negate(cmp("a", CompareOp::pr)), cmp("b", CompareOp::pr)}));
  EXPECT_EQ(parsed("b pr or not(a pr)"),
            any_of({cmp("b", CompareOp::pr), negate(cmp("a", CompareOp::pr))}));
}

TEST(FilterParse, ChainsAreFlatAndExplicitGroupsAreKept) {
  EXPECT_EQ(parsed("a pr and b pr and c pr"),
            all_of({cmp("a", CompareOp::pr), cmp("b", CompareOp::pr), cmp("c", CompareOp::pr)}));
  const Filter grouped = parsed("(a pr and b pr) and c pr");
  EXPECT_EQ(grouped, all_of({all_of({cmp("a", CompareOp::pr), cmp("b", CompareOp::pr)}),
                             cmp("c", CompareOp::pr)}));
  EXPECT_EQ(to_string(grouped), "(a pr and b pr) and c pr");
  EXPECT_EQ(parsed(to_string(grouped)), grouped);
}

TEST(FilterParse, ReferencePrecedenceExample) {
  // `a or (b and inactive)`, scim-clients.md R1.
  EXPECT_EQ(
      parsed(R"(userName eq "a" or userName eq "b" and active eq false)"),
      any_of({cmp("userName", CompareOp::eq, "a"),
              all_of({cmp("userName", CompareOp::eq, "b"), cmp("active", CompareOp::eq, false)})}));
}

// --- attribute paths ----------------------------------------------------------------------

TEST(FilterParse, AttributeNamesCompareCaseInsensitivelyButKeepTheirSpelling) {
  const Filter upper = parsed(R"(USERNAME eq "x")");
  EXPECT_EQ(upper, parsed(R"(userName eq "x")"));
  EXPECT_EQ(std::get<Comparison>(upper.node).path.attribute, "USERNAME");
  EXPECT_EQ(parsed(R"(Name.FamilyName eq "x")"), parsed(R"(name.familyName eq "x")"));
  EXPECT_NE(parsed(R"(userName eq "x")"), parsed(R"(userName eq "X")"));
}

TEST(FilterParse, SchemaUrnPrefixes) {
  const Filter manager_filter = parsed(std::string(enterprise) + R"(:manager.value eq "26118915")");
  const auto& manager = std::get<Comparison>(manager_filter.node);
  EXPECT_EQ(manager.path.schema, std::string(enterprise));
  EXPECT_EQ(manager.path.attribute, "manager");
  EXPECT_EQ(manager.path.sub_attribute, "value");

  const Filter core_filter =
      parsed(R"(urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x")");
  const auto& core = std::get<Comparison>(core_filter.node);
  EXPECT_EQ(core.path.schema, "urn:ietf:params:scim:schemas:core:2.0:User");
  EXPECT_EQ(core.path.attribute, "userName");
  EXPECT_FALSE(core.path.sub_attribute);

  EXPECT_EQ(parsed(R"(URN:IETF:params:scim:schemas:core:2.0:USER:username eq "x")"),
            parsed(R"(urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x")"));
}

TEST(FilterParse, ValuePathFilter) {
  const Filter filter = parsed(R"(emails[type eq "work" and value co "@"])");
  const auto& value_path = std::get<ValuePathFilter>(filter.node);
  EXPECT_EQ(value_path.path.attribute, "emails");
  EXPECT_EQ(*value_path.filter,
            all_of({cmp("type", CompareOp::eq, "work"), cmp("value", CompareOp::co, "@")}));
}

TEST(FilterParse, EntraValuePathWithSubAttributeJoinsTheValueFilter) {
  EXPECT_EQ(parsed(R"(emails[type eq "work"].value eq "u@c.com")"),
            parsed(R"(emails[type eq "work" and value eq "u@c.com"])"));
  EXPECT_EQ(parsed(R"(emails[type eq "work" and primary eq true].value eq "u@c.com")"),
            parsed(R"(emails[type eq "work" and primary eq true and value eq "u@c.com"])"));
  EXPECT_EQ(parsed(R"(emails[type eq "work" or type eq "home"].value pr)"),
            parsed(R"(emails[(type eq "work" or type eq "home") and value pr])"));
}

// --- literals -----------------------------------------------------------------------------

struct ValueCase {
  std::string_view literal;
  Value expected;
};

class Literals : public ::testing::TestWithParam<ValueCase> {};

TEST_P(Literals, ParseAsJson) {
  const auto& c = GetParam();
  const Filter filter = parsed("x eq " + std::string(c.literal));
  EXPECT_EQ(std::get<Comparison>(filter.node).value, c.expected) << c.literal;
  EXPECT_EQ(parsed(to_string(filter)), filter) << to_string(filter);
}

INSTANTIATE_TEST_SUITE_P(
    Json, Literals,
    ::testing::Values(ValueCase{R"("plain")", std::string("plain")},
                      ValueCase{R"("")", std::string()},
                      ValueCase{R"("q\"b\\s\/f\bx\fy\nz\rw\t")",
                                std::string("q\"b\\s/f\bx\fy\nz\rw\t")},
                      ValueCase{R"("\u00e9t\u00C9")", std::string("\xc3\xa9t\xc3\x89")},
                      ValueCase{R"("\u20ac")", std::string("\xe2\x82\xac")},
                      ValueCase{R"("\ud83d\ude00")", std::string("\xf0\x9f\x98\x80")},
                      ValueCase{"\"caf\xc3\xa9\"", std::string("caf\xc3\xa9")},
                      ValueCase{R"("\u0001")", std::string("\x01")},
                      ValueCase{"0", std::int64_t{0}}, ValueCase{"-0", std::int64_t{0}},
                      ValueCase{"42", std::int64_t{42}}, ValueCase{"-17", std::int64_t{-17}},
                      ValueCase{"9223372036854775807", std::int64_t{9223372036854775807}},
                      ValueCase{"-9223372036854775808", std::numeric_limits<std::int64_t>::min()},
                      ValueCase{"9223372036854775808", 9223372036854775808.0},
                      ValueCase{"1.5", 1.5}, ValueCase{"-2.5e3", -2500.0}, ValueCase{"1E2", 100.0},
                      ValueCase{"1e-2", 0.01}, ValueCase{"0.1", 0.1}, ValueCase{"true", true},
                      ValueCase{"FALSE", false}, ValueCase{"Null", nullptr}));

// --- PATCH paths --------------------------------------------------------------------------

TEST(PathParse, ClientPaths) {
  {
    const auto path = parse_path(R"(emails[type eq "work"].value)");
    ASSERT_TRUE(path) << path.error().message;
    EXPECT_EQ(path->attribute.attribute, "emails");
    ASSERT_TRUE(path->value_filter);
    EXPECT_EQ(*path->value_filter, cmp("type", CompareOp::eq, "work"));
    EXPECT_EQ(path->sub_attribute, "value");
    EXPECT_EQ(to_string(*path), R"(emails[type eq "work"].value)");
  }
  {
    const auto path = parse_path("name.givenName");
    ASSERT_TRUE(path);
    EXPECT_EQ(path->attribute, (AttributePath{std::nullopt, "name", "givenName"}));
    EXPECT_FALSE(path->value_filter);
    EXPECT_FALSE(path->sub_attribute);
  }
  {
    const auto path = parse_path(std::string(enterprise) + ":manager");
    ASSERT_TRUE(path);
    EXPECT_EQ(path->attribute, (AttributePath{std::string(enterprise), "manager", std::nullopt}));
  }
  {
    const auto path = parse_path(std::string(enterprise) + ":employeeNumber");
    ASSERT_TRUE(path);
    EXPECT_EQ(path->attribute.attribute, "employeeNumber");
  }
  {
    const auto path = parse_path(R"(members[value eq "f648f8d5ea4e4cd38e9c"])");
    ASSERT_TRUE(path);
    EXPECT_EQ(path->attribute.attribute, "members");
    EXPECT_EQ(*path->value_filter, cmp("value", CompareOp::eq, "f648f8d5ea4e4cd38e9c"));
    EXPECT_FALSE(path->sub_attribute);
  }
  {
    const auto path = parse_path(R"(roles[primary eq "True"].value)");
    ASSERT_TRUE(path);
    EXPECT_EQ(*path->value_filter, cmp("primary", CompareOp::eq, "True"));
  }
  {
    const auto path = parse_path(R"(urn:ietf:params:scim:schemas:core:2.0:User:userName)");
    ASSERT_TRUE(path);
    EXPECT_EQ(path->attribute.schema, "urn:ietf:params:scim:schemas:core:2.0:User");
    EXPECT_EQ(path->attribute.attribute, "userName");
  }
}

TEST(PathParse, CanonicalTextRoundTrips) {
  for (const std::string_view text :
       {"active", "name.familyName", R"(addresses[type eq "work"].streetAddress)",
        R"(phoneNumbers[type eq "mobile"].value)", R"(members[value eq "x"])",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        R"(emails[type eq "work" and not (primary eq false)].display)"}) {
    const auto path = parse_path(text);
    ASSERT_TRUE(path) << text << ": " << path.error().message;
    EXPECT_EQ(to_string(*path), text);
    EXPECT_EQ(parse_path(to_string(*path)).value(), *path);
  }
  EXPECT_EQ(parse_path("EMAILS[TYPE EQ \"work\"].VALUE").value(),
            parse_path("emails[type eq \"work\"].value").value());
}

// --- malformed input ----------------------------------------------------------------------

enum class Kind { filter, path };

struct ErrorCase {
  Kind kind;
  std::string input;
  std::string_view message_part;  // a phrase the message must contain
};

void PrintTo(const ErrorCase& c, std::ostream* out) {
  // ctest discovers tests from this text (a CMake list): percent-encode all but plain characters.
  *out << (c.kind == Kind::filter ? "filter " : "path ");
  for (const char ch : c.input.substr(0, 60)) {
    const auto byte = static_cast<unsigned char>(ch);
    if (std::isalnum(byte) != 0 ||
        std::string_view(" .:_-'\"()=<>$@").find(ch) != std::string_view::npos) {
      *out << ch;
    } else {
      *out << '%' << std::hex << std::uppercase << static_cast<unsigned>(byte) << std::dec;
    }
  }
}

class Malformed : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(Malformed, IsRefusedWithScimTypeAndUsefulMessage) {
  const auto& c = GetParam();
  const auto error =
      c.kind == Kind::filter
          ? (parse_filter(c.input) ? std::optional<ParseError>() : parse_filter(c.input).error())
          : (parse_path(c.input) ? std::optional<ParseError>() : parse_path(c.input).error());
  ASSERT_TRUE(error) << "accepted: " << c.input;
  EXPECT_EQ(error->scim_type, c.kind == Kind::filter ? "invalidFilter" : "invalidPath");
  EXPECT_NE(error->message.find(c.message_part), std::string::npos)
      << c.input << " -> " << error->message;
  EXPECT_LE(error->position, c.input.size());
  if (c.input.size() <= max_filter_length && c.input.find_first_not_of(' ') != std::string::npos) {
    EXPECT_NE(error->message.find("character " + std::to_string(error->position + 1)),
              std::string::npos)
        << "message does not name the position: " << error->message;
  }
}

std::string nested(std::size_t depth) {
  return std::string(depth, '(') + "a pr" + std::string(depth, ')');
}

INSTANTIATE_TEST_SUITE_P(
    Classes, Malformed,
    ::testing::Values(
        ErrorCase{Kind::filter, R"(userName eq "abc)", "unterminated string starting at"},
        ErrorCase{Kind::filter, R"(userName eq "abc\)", "unterminated string"},
        ErrorCase{Kind::filter, R"(userName eq "a\qb")", "bad escape '\\q'"},
        ErrorCase{Kind::filter, R"(userName eq "\u12")", "four hex digits"},
        ErrorCase{Kind::filter, R"(userName eq "\u12G4")", "four hex digits"},
        ErrorCase{Kind::filter, R"(userName eq "\ud800")", "high surrogate"},
        ErrorCase{Kind::filter, R"(userName eq "\ud800\u0041")", "low surrogate"},
        ErrorCase{Kind::filter, R"(userName eq "\udc00")", "unpaired low surrogate"},
        ErrorCase{Kind::filter, R"(userName eq "\u0000")", "\\u0000"},
        ErrorCase{Kind::filter, "userName eq \"a\tb\"", "control character"},
        ErrorCase{Kind::filter, "userName eq \"\xff\"", "invalid UTF-8"},
        ErrorCase{Kind::filter, "userName eq \"\xc0\xaf\"", "invalid UTF-8"},
        ErrorCase{Kind::filter, "userName eq \"\xed\xa0\x80\"", "invalid UTF-8"},
        ErrorCase{Kind::filter, R"(userName xx "a")", "unknown operator 'xx'"},
        ErrorCase{Kind::filter, R"(userName equals "a")", "unknown operator 'equals'"},
        ErrorCase{Kind::filter, R"(userName = "a")", "unknown operator '='"},
        ErrorCase{Kind::filter, "userName", "expected an operator"},
        ErrorCase{Kind::filter, "userName eq", "missing value after 'eq'"},
        ErrorCase{Kind::filter, "userName eq ", "missing value"},
        ErrorCase{Kind::filter, "externalId eq jyoung", "strings need double quotes"},
        ErrorCase{Kind::filter, "userName eq 'x'", "expected a value"},
        ErrorCase{Kind::filter, "userName eq 01", "leading zeros"},
        ErrorCase{Kind::filter, "userName eq 1.", "expected a digit after '.'"},
        ErrorCase{Kind::filter, "userName eq 1e", "exponent"},
        ErrorCase{Kind::filter, "userName eq -", "expected a digit"},
        ErrorCase{Kind::filter, "userName eq 12abc", "after a number"},
        ErrorCase{Kind::filter, "userName eq 1e999", "out of range"},
        ErrorCase{Kind::filter, R"(userName eq "a" junk)", "expected 'and', 'or' or end of filter"},
        ErrorCase{Kind::filter, R"(userName eq "a" "b")", "found '\"'"},
        ErrorCase{Kind::filter, R"(userName eq "a" and)", "expected an attribute path"},
        ErrorCase{Kind::filter, R"(userName eq "a" and or b pr)", "unknown operator 'b'"},
        ErrorCase{Kind::filter, R"(userName eq "a" andx pr)", "expected 'and', 'or'"},
        ErrorCase{Kind::filter, R"((userName eq "a")", "missing ')'"},
        ErrorCase{Kind::filter, R"((userName eq "a" x)", "expected 'and', 'or' or ')'"},
        ErrorCase{Kind::filter, R"(userName eq "a"))", "unbalanced ')'"},
        ErrorCase{Kind::filter, "()", "expected an attribute path"},
        ErrorCase{Kind::filter, R"(emails[type eq "work")", "missing ']'"},
        ErrorCase{Kind::filter, R"(emails[type eq "work" x)", "expected 'and', 'or' or ']'"},
        ErrorCase{Kind::filter, R"(emails[type eq "work"]])", "unbalanced ']'"},
        ErrorCase{Kind::filter, R"(emails[type eq "work")])", "expected 'and', 'or' or ']'"},
        ErrorCase{Kind::filter, "emails[]", "empty value filter"},
        ErrorCase{Kind::filter, R"(emails[type eq "work" and x[y eq 1]])",
                  "cannot contain another value path"},
        ErrorCase{Kind::filter, R"(emails[x[y eq 1]])", "cannot contain another value path"},
        ErrorCase{Kind::filter, R"(name.givenName[x eq 1])", "follows a sub-attribute"},
        ErrorCase{Kind::filter, R"(emails[type eq "work"].)", "expected a sub-attribute name"},
        ErrorCase{Kind::filter, R"(emails[type eq "work"].value)", "expected an operator"},
        ErrorCase{Kind::filter, R"(title pr "x")", "'pr' takes no value"},
        ErrorCase{Kind::filter, "title pr true", "'pr' takes no value"},
        ErrorCase{Kind::filter, "title pr 5", "'pr' takes no value"},
        ErrorCase{Kind::filter, "", "empty filter"}, ErrorCase{Kind::filter, "   ", "empty filter"},
        ErrorCase{Kind::filter, R"(not userName eq "x")", "expected '(' after 'not'"},
        ErrorCase{Kind::filter, "not", "expected '(' after 'not'"},
        ErrorCase{Kind::filter, R"("x" eq userName)", "expected an attribute path"},
        ErrorCase{Kind::filter, R"(1abc eq "x")", "expected an attribute name"},
        ErrorCase{Kind::filter, R"(name.given.x eq "a")", "at most one sub-attribute"},
        ErrorCase{Kind::filter, R"(name. eq "a")", "expected a sub-attribute name"},
        ErrorCase{Kind::filter, R"(user:name eq "a")", "only a schema URN"},
        ErrorCase{Kind::filter, R"(urn:ietf:params:scim:schemas:core:2.0:User: eq "a")",
                  "expected an attribute name after the schema URN"},
        ErrorCase{Kind::filter, R"(a$b eq "a")", "expected an attribute name"},
        ErrorCase{Kind::filter, std::string(max_filter_length + 1, 'a'), "the limit is 16384"},
        ErrorCase{Kind::filter, "userName eq \"" + std::string(max_filter_length, 'x') + "\"",
                  "the limit is 16384"},
        ErrorCase{Kind::filter, nested(max_filter_depth + 1), "nesting deeper than 32"},
        ErrorCase{Kind::filter, std::string(8000, '('), "nesting deeper than 32"},
        ErrorCase{Kind::path, "", "empty path"},
        ErrorCase{Kind::path, R"(userName eq "x")", "not a filter"},
        ErrorCase{Kind::path, R"(emails[type eq "work")", "missing ']'"},
        ErrorCase{Kind::path, R"(emails[type eq "work"]])", "unbalanced ']'"},
        ErrorCase{Kind::path, R"(emails[type eq "work"].)", "expected a sub-attribute name"},
        ErrorCase{Kind::path, R"(emails[type eq "work"].value.x)", "expected end of path"},
        ErrorCase{Kind::path, R"(emails[type eq "work" and x[y eq 1]].value)",
                  "cannot contain another value path"},
        ErrorCase{Kind::path, R"(emails[type eq "wo)", "unterminated string"},
        ErrorCase{Kind::path, R"(emails[type xx "work"])", "unknown operator"},
        ErrorCase{Kind::path, "name..givenName", "expected a sub-attribute name"},
        ErrorCase{Kind::path, std::string(max_filter_length + 1, 'a'), "the limit is 16384"}));

TEST(FilterParse, DepthLimitIsExact) {
  EXPECT_TRUE(parse_filter(nested(max_filter_depth)));
  EXPECT_FALSE(parse_filter(nested(max_filter_depth + 1)));
  std::string nots;
  for (std::size_t i = 0; i < max_filter_depth; ++i) {
    nots += "not (";
  }
  EXPECT_TRUE(parse_filter(nots + "a pr" + std::string(max_filter_depth, ')')));
  EXPECT_FALSE(parse_filter("not (" + nots + "a pr" + std::string(max_filter_depth + 1, ')')));
  // A value filter counts as a level too.
  const std::string deep_group =
      std::string(max_filter_depth - 1, '(') + "a[b pr]" + std::string(max_filter_depth - 1, ')');
  EXPECT_TRUE(parse_filter(deep_group));
  EXPECT_FALSE(parse_filter("(" + deep_group + ")"));
}

TEST(FilterParse, LengthLimitIsExact) {
  std::string longest = R"(userName eq ")";
  longest += std::string(max_filter_length - longest.size() - 1, 'x');
  longest += '"';
  ASSERT_EQ(longest.size(), max_filter_length);
  EXPECT_TRUE(parse_filter(longest));
  EXPECT_FALSE(parse_filter(longest + " "));
}

TEST(FilterParse, LongFlatChainMakesAWideTree) {
  std::string chain = "a pr";
  while (chain.size() + 9 <= max_filter_length) {
    chain += " and a pr";
  }
  const Filter filter = parsed(chain);
  EXPECT_GT(std::get<Logical>(filter.node).operands.size(), 1800u);
  EXPECT_EQ(to_string(filter), chain);
}

TEST(FilterParse, MessagesEscapeUnprintableBytes) {
  const auto error = parse_filter("userName \xff\xfe \"x\"");
  ASSERT_FALSE(error);
  EXPECT_NE(error.error().message.find("\\xff"), std::string::npos) << error.error().message;
  for (const char c : error.error().message) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << error.error().message;
  }
}

TEST(FilterParse, ValueThrowsInvalidArgumentOnError) {
  EXPECT_THROW(static_cast<void>(parse_filter("userName eq").value()), std::invalid_argument);
}

}  // namespace
}  // namespace idbridge::scim
