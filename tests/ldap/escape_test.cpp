// RFC 4515 filter and RFC 4514 DN escaping tables; DN escaping is also round-tripped through
// libldap's DN parser so that the table is not the only judge.
#include "idbridge/ldap/escape.hpp"

#include <gtest/gtest.h>
#include <ldap.h>

#include <stdexcept>
#include <string>

namespace idbridge::ldap {
namespace {

using namespace std::string_literals;

struct Case {
  std::string name;
  std::string input;
  std::string expected;
};

std::string printable_name(const testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

class FilterEscape : public testing::TestWithParam<Case> {};

TEST_P(FilterEscape, MatchesTable) {
  EXPECT_EQ(escape_filter_value(GetParam().input), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FilterEscape,
    testing::Values(Case{"empty", "", ""}, Case{"plain", "alice", "alice"},
                    Case{"star", "*", "\\2a"}, Case{"star_inside", "a*b", "a\\2ab"},
                    Case{"open_paren", "(", "\\28"}, Case{"close_paren", ")", "\\29"},
                    Case{"backslash", "\\", "\\5c"},
                    Case{"injection", "*)(uid=*", "\\2a\\29\\28uid=\\2a"},
                    Case{"injection_or", "x)(|(objectClass=*", "x\\29\\28|\\28objectClass=\\2a"},
                    Case{"nul", "a\0b"s, "a\\00b"}, Case{"utf8", "\xc3\xa9", "\\c3\\a9"},
                    Case{"high_byte", "\xff", "\\ff"},
                    Case{"dn_specials_pass", "a=b,c+d;e", "a=b,c+d;e"},
                    Case{"spaces_kept", "  x  ", "  x  "},
                    Case{"already_escaped_is_escaped_again", "\\2a", "\\5c2a"}),
    printable_name);

class DnEscape : public testing::TestWithParam<Case> {};

TEST_P(DnEscape, MatchesTable) {
  EXPECT_EQ(escape_dn_value(GetParam().input), GetParam().expected);
}

// The escaped value inside `cn=...,dc=example,dc=com` parses back to the original bytes, as
// one RDN: a value can never add RDNs or AVAs.
TEST_P(DnEscape, RoundTripsThroughLibldap) {
  const auto& input = GetParam().input;
  const std::string dn = "cn=" + escape_dn_value(input) + ",dc=example,dc=com";
  LDAPDN parsed = nullptr;
  ASSERT_EQ(ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS) << dn;
  ASSERT_NE(parsed, nullptr);
  int rdns = 0;
  while (parsed[rdns] != nullptr) {
    ++rdns;
  }
  EXPECT_EQ(rdns, 3) << dn;
  ASSERT_NE(parsed[0][0], nullptr);
  EXPECT_EQ(parsed[0][1], nullptr) << "a second AVA in the first RDN: " << dn;
  const auto& value = parsed[0][0]->la_value;
  EXPECT_EQ(std::string(value.bv_val, value.bv_len), input) << dn;
  ldap_dnfree(parsed);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DnEscape,
    testing::Values(Case{"plain", "alice", "alice"}, Case{"comma", "Smith, John", "Smith\\, John"},
                    Case{"injected_rdn", "x,ou=admins", "x\\,ou\\=admins"},
                    Case{"plus", "a+b", "a\\+b"}, Case{"quotes", "\"q\"", "\\\"q\\\""},
                    Case{"angle_semicolon", "<a>;", "\\<a\\>\\;"}, Case{"equals", "a=b", "a\\=b"},
                    Case{"backslash", "back\\slash", "back\\\\slash"},
                    Case{"leading_space", " lead", "\\ lead"},
                    Case{"trailing_space", "trail ", "trail\\ "}, Case{"single_space", " ", "\\ "},
                    Case{"two_spaces", "  ", "\\ \\ "}, Case{"inner_space", "a b", "a b"},
                    Case{"leading_hash", "#hash", "\\#hash"}, Case{"inner_hash", "a#b", "a#b"},
                    Case{"nul", "a\0b"s, "a\\00b"}, Case{"newline", "a\nb", "a\\0ab"},
                    Case{"utf8_kept", "J\xc3\xb6rg", "J\xc3\xb6rg"}),
    printable_name);

TEST(GuidFilter, HexEscapesEveryByteInWireOrder) {
  const std::string guid("\x00\x28\x29\x2a\x5c\xff\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0"s);
  EXPECT_EQ(object_guid_filter(guid),
            "(objectGUID=\\00\\28\\29\\2a\\5c\\ff\\10\\20\\30\\40\\50\\60\\70\\80\\90\\a0)");
}

TEST(GuidFilter, RejectsAnythingButSixteenBytes) {
  EXPECT_THROW(object_guid_filter(std::string(15, 'x')), std::invalid_argument);
  EXPECT_THROW(object_guid_filter(std::string(17, 'x')), std::invalid_argument);
}

TEST(BinaryFilter, EscapesPrintableBytesToo) {
  EXPECT_EQ(binary_equality_filter("objectSid", "AB"), "(objectSid=\\41\\42)");
  EXPECT_EQ(binary_equality_filter("objectSid", ""), "(objectSid=)");
}

}  // namespace
}  // namespace idbridge::ldap
