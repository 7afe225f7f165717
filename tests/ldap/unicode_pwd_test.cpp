// encode_unicode_pwd (pure): AD's unicodePwd bytes, a quoted UTF-16LE password, for ASCII,
// accented and astral characters, and refusals of byte strings that are not UTF-8.
#include "idbridge/ldap/client.hpp"

#include <gtest/gtest.h>

#include <string>

namespace idbridge::ldap {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int value : values) {
    out.push_back(static_cast<char>(value));
  }
  return out;
}

TEST(UnicodePwd, AsciiIsQuotedUtf16le) {
  const auto encoded = encode_unicode_pwd(Password("Pa1!")).value();
  EXPECT_EQ(encoded, bytes({'"', 0, 'P', 0, 'a', 0, '1', 0, '!', 0, '"', 0}));
}

TEST(UnicodePwd, EmptyPasswordIsJustTheQuotes) {
  EXPECT_EQ(encode_unicode_pwd(Password("")).value(), bytes({'"', 0, '"', 0}));
}

TEST(UnicodePwd, NonAsciiIsEncodedAsUtf16) {
  // U+00E9 (2 UTF-8 bytes), U+20AC (3), U+1F600 (4, a surrogate pair), and a quote inside.
  const auto encoded =
      encode_unicode_pwd(Password("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"")).value();
  EXPECT_EQ(encoded,
            bytes({'"', 0, 0xe9, 0x00, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde, '"', 0, '"', 0}));
}

TEST(UnicodePwd, InvalidUtf8IsRefusedWithoutEchoingThePassword) {
  const std::string cases[] = {
      "secret\xff",              // never a UTF-8 byte
      "secret\xc0\xaf",          // overlong '/'
      "secret\xed\xa0\x80",      // a UTF-16 surrogate
      "secret\xe2\x82",          // truncated sequence
      "secret\xf4\x90\x80\x80",  // past U+10FFFF
      "secret\x80",              // a continuation byte alone
  };
  for (const auto& text : cases) {
    const auto encoded = encode_unicode_pwd(Password(text));
    ASSERT_FALSE(encoded);
    EXPECT_EQ(encoded.error().code, ErrorCode::invalid_request);
    EXPECT_EQ(encoded.error().message.find("secret"), std::string::npos);
  }
}

}  // namespace
}  // namespace idbridge::ldap
