// Filter evaluation against sample User and Group JSON (RFC 7643 examples, Okta and Entra
// payloads), and operator/type validation.
#include "filter_eval.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace idbridge::scim {
namespace {

using nlohmann::json;

const json& babs() {
  static const json user = R"json({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen",
             "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "nickName": "",
    "title": "Tour Guide",
    "userType": "Employee",
    "active": true,
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
               {"value": "babs@jensen.org", "type": "home"}],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "addresses": [],
    "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
             "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\""},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "701984", "department": "Tour Operations",
      "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}}
  })json"_json;
  return user;
}

const json& jim() {
  static const json user = R"json({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "c75ad752-64ae-4823-840d-ffa80929976c",
    "userName": "JOMalley",
    "name": {"familyName": "O'Malley", "givenName": "Jim"},
    "userType": "Intern",
    "active": false,
    "emails": [{"value": "jim@acme.test", "type": "work"}],
    "ims": [{"value": "jim@foo.com", "type": "xmpp"}],
    "meta": {"lastModified": "2010-05-13T04:42:34.5+02:00"}
  })json"_json;
  return user;
}

// Okta's POST /Users body (scim-clients.md O03) as stored.
const json& okta_user() {
  static const json user = R"json({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
    "userName": "test.user@okta.local",
    "externalId": "00uAbCdEf123",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "active": true,
    "groups": []
  })json"_json;
  return user;
}

// Entra's create-user body (scim-clients.md E01) with a role, as stored.
const json& entra_user() {
  static const json user = R"json({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "id": "48af03ac28ad4fb88478",
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": true,
    "emails": [{"primary": true, "type": "work",
                "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
    "name": {"formatted": "givenName familyName", "familyName": "familyName",
             "givenName": "givenName"},
    "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "Aklq", "manager": {"value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"}}
  })json"_json;
  return user;
}

const json& group() {
  static const json resource = R"json({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "Group",
    "members": [{"value": "f648f8d5ea4e4cd38e9c", "display": "Babs", "type": "User"},
                {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "$ref": null}]
  })json"_json;
  return resource;
}

bool match(std::string_view text, const json& resource) {
  const auto filter = parse_filter(text);
  EXPECT_TRUE(filter) << text << ": " << filter.error().message;
  if (!filter) {
    return false;
  }
  const auto valid = validate(*filter, default_attribute_rules());
  EXPECT_TRUE(valid) << text << ": " << valid.error().message;
  return matches(*filter, resource, default_attribute_rules());
}

struct RfcCase {
  std::string_view filter;
  bool babs;
  bool jim;
};

class RfcMeaning : public ::testing::TestWithParam<RfcCase> {};

TEST_P(RfcMeaning, MatchesWhatTheRfcSays) {
  const auto& c = GetParam();
  EXPECT_EQ(match(c.filter, babs()), c.babs) << "Babs: " << c.filter;
  EXPECT_EQ(match(c.filter, jim()), c.jim) << "Jim: " << c.filter;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7644, RfcMeaning,
    ::testing::Values(
        RfcCase{R"(userName eq "bjensen")", true, false},
        RfcCase{R"(name.familyName co "O'Malley")", false, true},
        RfcCase{R"(userName sw "J")", false, true},
        RfcCase{R"(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")", false, true},
        RfcCase{"title pr", true, false},
        RfcCase{R"(meta.lastModified gt "2011-05-13T04:42:34Z")", false, false},
        RfcCase{R"(meta.lastModified ge "2011-05-13T04:42:34Z")", true, false},
        RfcCase{R"(meta.lastModified lt "2011-05-13T04:42:34Z")", false, true},
        RfcCase{R"(meta.lastModified le "2011-05-13T04:42:34Z")", true, true},
        RfcCase{R"(title pr and userType eq "Employee")", true, false},
        RfcCase{R"(title pr or userType eq "Intern")", true, true},
        RfcCase{R"(schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")", true,
                false},
        RfcCase{
            R"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))",
            true, false},
        RfcCase{
            R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))",
            false, true},
        RfcCase{R"(userType eq "Employee" and (emails.type eq "work"))", true, false},
        RfcCase{R"(userType eq "Employee" and emails[type eq "work" and value co "@example.com"])",
                true, false},
        RfcCase{
            R"(emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"])",
            true, true},
        // precedence: `a or (b and inactive)`
        RfcCase{R"(userName eq "bjensen" or userName eq "JOMalley" and active eq false)", true,
                true},
        RfcCase{R"(userName eq "nobody" or userName eq "JOMalley" and active eq true)", false,
                false},
        RfcCase{R"((userName eq "bjensen" or userName eq "JOMalley") and active eq false)", false,
                true},
        // dateTime in time order, whatever the zone and fraction
        RfcCase{R"(meta.lastModified eq "2011-05-13T06:42:34+02:00")", true, false},
        RfcCase{R"(meta.lastModified gt "2010-05-13T02:42:34Z")", true, true},
        RfcCase{R"(meta.lastModified gt "2010-05-13T02:42:34.6Z")", true, false},
        RfcCase{R"(meta.created lt "2011-01-01T00:00:00Z")", true, false}));

TEST(FilterEval, CaseRules) {
  // caseExact false: userName, displayName, emails.value, name.*
  EXPECT_TRUE(match(R"(USERNAME EQ "BJENSEN")", babs()));
  EXPECT_TRUE(match(R"(displayName eq "BABS JENSEN")", babs()));
  EXPECT_TRUE(match(R"(emails.value eq "BJensen@Example.COM")", babs()));
  EXPECT_TRUE(match(R"(Name.GivenName sw "bar")", babs()));
  // caseExact true: id, externalId, meta.version
  EXPECT_TRUE(match(R"(id eq "2819c223-7f76-453a-919d-413861904646")", babs()));
  EXPECT_FALSE(match(R"(id eq "2819C223-7F76-453A-919D-413861904646")", babs()));
  EXPECT_TRUE(match(R"(externalId eq "00uAbCdEf123")", okta_user()));
  EXPECT_FALSE(match(R"(externalId eq "00uabcdef123")", okta_user()));
  EXPECT_FALSE(match(R"(meta.version eq "w/\"3694E05E9DFF591\"")", babs()));
  // attribute names in the resource are matched case-insensitively too
  EXPECT_TRUE(match(R"(username eq "x")", json{{"UserName", "X"}}));
}

TEST(FilterEval, OktaQueries) {
  EXPECT_TRUE(match(R"(userName eq "test.user@okta.local")", okta_user()));
  EXPECT_TRUE(match(R"(userName eq "TEST.USER@OKTA.LOCAL")", okta_user()));
  EXPECT_FALSE(match(R"(userName eq "8f6d2a51-0b9c-4f1e-9a55-000000000000")", okta_user()));
  EXPECT_TRUE(match(R"(externalId eq "00uAbCdEf123")", okta_user()));
  EXPECT_TRUE(match(R"(displayName eq "Group")", group()));
}

TEST(FilterEval, EntraQueries) {
  EXPECT_TRUE(
      match(R"(userName eq "test_user_00aa00aa-bb11-cc22-dd33-44ee44ee44ee")", entra_user()));
  EXPECT_TRUE(match(R"(externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")", entra_user()));
  EXPECT_TRUE(match(R"(displayName eq "group")", group()));
  EXPECT_TRUE(match(R"(externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")", group()));
  EXPECT_FALSE(match(R"(displayName eq "Group2")", group()));
  EXPECT_TRUE(match(
      R"(emails[type eq "work"].value eq "test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com")",
      entra_user()));
  EXPECT_FALSE(match(R"(emails[type eq "home"].value eq "bjensen@example.com")", babs()));
  EXPECT_TRUE(match(R"(emails[type eq "work"].value eq "bjensen@example.com")", babs()));
  EXPECT_TRUE(match(R"(roles[primary eq "True"])", entra_user()));
  EXPECT_TRUE(match(R"(members[value eq "f648f8d5ea4e4cd38e9c"])", group()));
  EXPECT_FALSE(match(R"(members[value eq "f648f8d5ea4e4cd38e9d"])", group()));
  EXPECT_TRUE(match(
      R"(id eq "48af03ac28ad4fb88478" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2")",
      entra_user()));
}

TEST(FilterEval, ExtensionAndCoreUrnPrefixes) {
  const std::string ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:";
  EXPECT_TRUE(match(ext + R"(employeeNumber eq "701984")", babs()));
  EXPECT_TRUE(match(ext + R"(manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d")", babs()));
  EXPECT_TRUE(match(ext + R"(manager eq "26118915-6090-4610-87e4-49d8ca9f808d")", babs()));
  EXPECT_TRUE(match(ext + "department pr", babs()));
  EXPECT_FALSE(match(ext + "department pr", jim()));
  // an extension attribute is not a core one, and the other way round
  EXPECT_FALSE(match(R"(employeeNumber eq "701984")", babs()));
  EXPECT_FALSE(match(ext + R"(userName eq "bjensen")", babs()));
  EXPECT_TRUE(
      match(R"(urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "jensen")", babs()));
  EXPECT_TRUE(match(R"(URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq "bjensen")", babs()));
  EXPECT_FALSE(match(R"(urn:example:unknown:userName eq "bjensen")", babs()));
}

TEST(FilterEval, Presence) {
  EXPECT_TRUE(match("title pr", babs()));
  EXPECT_FALSE(match("nickName pr", babs()));   // ""
  EXPECT_FALSE(match("addresses pr", babs()));  // []
  EXPECT_FALSE(match("nickName pr", jim()));    // missing
  EXPECT_FALSE(match("title pr", json{{"title", nullptr}}));
  EXPECT_FALSE(match("name pr", json{{"name", json::object()}}));
  EXPECT_TRUE(match("emails pr", babs()));
  EXPECT_TRUE(match("emails.primary pr", babs()));
  EXPECT_FALSE(match("emails.primary pr", jim()));
  EXPECT_TRUE(match("emails[primary pr]", babs()));
  EXPECT_TRUE(match("name.givenName pr", babs()));
  EXPECT_FALSE(match("name.middleName pr", babs()));
}

TEST(FilterEval, MultiValuedAndComplex) {
  EXPECT_TRUE(match(R"(emails co "@jensen.org")", babs()));  // any value, via .value
  EXPECT_TRUE(match(R"(emails.type eq "home")", babs()));
  EXPECT_FALSE(match(R"(emails[type eq "home" and value co "example.com"])", babs()));
  EXPECT_TRUE(match(R"(emails[type eq "home" or value co "example.com"])", babs()));
  EXPECT_TRUE(match(R"(emails[not (type eq "work")])", babs()));
  EXPECT_TRUE(match(R"(emails ew ".ORG")", babs()));
  EXPECT_TRUE(match("emails.primary eq true", babs()));
  EXPECT_FALSE(match("emails.primary eq true", jim()));
}

TEST(FilterEval, NotEqualAndNull) {
  EXPECT_FALSE(match(R"(title ne "Tour Guide")", babs()));
  EXPECT_TRUE(match(R"(title ne "Tour Guide")", jim()));  // no title: not equal
  EXPECT_TRUE(match(R"(userType ne "employee")", jim()));
  EXPECT_FALSE(match(R"(userType ne "EMPLOYEE")", babs()));
  EXPECT_TRUE(match("title eq null", jim()));
  EXPECT_FALSE(match("title eq null", babs()));
  EXPECT_TRUE(match("title ne null", babs()));
  EXPECT_FALSE(match(R"(not (userName eq "bjensen"))", babs()));
}

TEST(FilterEval, BooleansNumbersAndUnknownAttributes) {
  EXPECT_TRUE(match("active eq true", babs()));
  EXPECT_TRUE(match("active eq false", jim()));
  EXPECT_TRUE(match(R"(active eq "True")", babs()));  // Entra's string booleans
  EXPECT_FALSE(match(R"(active eq "yes")", babs()));
  EXPECT_TRUE(match("active ne false", babs()));
  const json numbers{{"age", 42}, {"score", 2.5}, {"big", 18446744073709551615ULL}};
  EXPECT_TRUE(match("age gt 40", numbers));
  EXPECT_TRUE(match("age eq 42.0", numbers));
  EXPECT_FALSE(match("age lt 42", numbers));
  EXPECT_TRUE(match("score ge 2.5", numbers));
  EXPECT_TRUE(match("score lt 3", numbers));
  EXPECT_TRUE(match("big gt 9223372036854775807", numbers));
  EXPECT_FALSE(match(R"(age eq "42")", numbers));
  EXPECT_FALSE(match(R"(unknownAttribute eq "x")", babs()));
  EXPECT_TRUE(match(R"(unknown ew "Y")", json{{"unknown", "xy"}}));
  EXPECT_TRUE(match(R"(userName gt "a" and userName lt "c")", babs()));
}

TEST(FilterEval, ValueFilterForPatchTargets) {
  const auto path = parse_path(R"(emails[type eq "WORK"].value)");
  ASSERT_TRUE(path);
  const json& emails = babs()["emails"];
  EXPECT_TRUE(
      matches_value(*path->value_filter, emails[0], path->attribute, default_attribute_rules()));
  EXPECT_FALSE(
      matches_value(*path->value_filter, emails[1], path->attribute, default_attribute_rules()));
  const auto member = parse_path(R"(members[value eq "f648f8d5ea4e4cd38e9c"])");
  ASSERT_TRUE(member);
  EXPECT_TRUE(matches_value(*member->value_filter, group()["members"][0], member->attribute,
                            default_attribute_rules()));
}

// --- validation ---------------------------------------------------------------------------

struct InvalidCase {
  std::string_view filter;
  std::string_view message_part;
};

class Invalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(Invalid, IsInvalidFilter) {
  const auto& c = GetParam();
  const auto filter = parse_filter(c.filter);
  ASSERT_TRUE(filter) << filter.error().message;
  const auto valid = validate(*filter, default_attribute_rules());
  ASSERT_FALSE(valid) << c.filter;
  EXPECT_EQ(valid.error().scim_type, "invalidFilter");
  EXPECT_NE(valid.error().message.find(c.message_part), std::string::npos) << valid.error().message;
  // Evaluation of a refused filter is still safe.
  EXPECT_FALSE(matches(*filter, babs(), default_attribute_rules()) &&
               matches(*filter, json::object(), default_attribute_rules()));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7644, Invalid,
    ::testing::Values(
        InvalidCase{"active gt true", "'active' is a boolean; gt, ge, lt and le"},
        InvalidCase{"active ge 1", "gt, ge, lt and le are not defined"},
        InvalidCase{R"(Active LT "x")", "'Active' is a boolean"},
        InvalidCase{"userName le true", "needs a string, number or dateTime"},
        InvalidCase{R"(emails[primary gt "a"])", "'emails.primary' is a boolean"},
        InvalidCase{R"(x509Certificates.value gt "MII")", "is binary"},
        InvalidCase{R"(active co "t")", "co, sw and ew apply to strings"},
        InvalidCase{"userName co 5", "needs a string value"},
        InvalidCase{"userName gt null", "needs a string, number or dateTime"},
        InvalidCase{R"(name eq "Barbara")", "complex attribute without a value"},
        InvalidCase{R"(userName[value eq "x"])", "not a complex attribute"},
        InvalidCase{R"(emails[type.x eq "y"])", "must name a sub-attribute of emails"},
        InvalidCase{
            R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value gt true)",
            "needs a string"}));

TEST(FilterValidate, AcceptsWhatTheRfcAllows) {
  for (const std::string_view text :
       {R"(meta.lastModified gt "2011-05-13T04:42:34Z")", R"(emails co "@x")", "name pr",
        R"(userName gt "a")", "active eq true", R"(active eq "False")", "emails.primary eq true",
        R"(members[value eq "x"])", "unknown gt 5", "age le 5",
        R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "x")"}) {
    const auto filter = parse_filter(text);
    ASSERT_TRUE(filter) << text;
    EXPECT_TRUE(validate(*filter, default_attribute_rules())) << text;
  }
}

TEST(AttributeRules, DefaultTable) {
  const auto& rules = default_attribute_rules();
  const auto traits = [&](std::optional<std::string> schema, std::string attribute,
                          std::optional<std::string> sub) {
    return rules.traits(AttributePath{std::move(schema), std::move(attribute), std::move(sub)});
  };
  EXPECT_TRUE(traits({}, "id", {})->case_exact);
  EXPECT_TRUE(traits({}, "externalId", {})->case_exact);
  EXPECT_FALSE(traits({}, "userName", {})->case_exact);
  EXPECT_FALSE(traits({}, "USERNAME", {})->case_exact);
  EXPECT_FALSE(traits({}, "displayName", {})->case_exact);
  EXPECT_FALSE(traits({}, "emails", "value")->case_exact);
  EXPECT_TRUE(traits({}, "emails", {})->multi_valued);
  EXPECT_EQ(traits({}, "active", {})->type, AttributeType::boolean);
  EXPECT_EQ(traits({}, "meta", "lastModified")->type, AttributeType::date_time);
  EXPECT_EQ(traits({}, "members", "$ref")->type, AttributeType::reference);
  EXPECT_EQ(traits("urn:ietf:params:scim:schemas:core:2.0:Group", "members", {})->type,
            AttributeType::complex);
  EXPECT_EQ(traits("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager", "value")
                ->type,
            AttributeType::string);
  EXPECT_FALSE(traits({}, "manager", {}));  // enterprise attributes need their URN
  EXPECT_FALSE(traits("urn:example:other", "userName", {}));
  EXPECT_FALSE(traits({}, "emails", "nonsense"));
}

}  // namespace
}  // namespace idbridge::scim
