// The storage codec: the direct (DOM-free) decoders against the DOM decoders they replace, over
// generated documents from the encoder, documents an older encoder or a migration may have left
// (keys absent, keys unknown), documents written by hand (escapes, surrogate pairs) and corrupt
// ones. For every input both decoders must give the same struct or the same error.
#include "codec.hpp"

#include "idbridge/core/error.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace idbridge::store_test {
namespace {

namespace codec = store::codec;
using nlohmann::json;

// Text that exercises the encoder's escaping and the decoder's unescaping: quotes, backslashes,
// control characters (written as \u00XX), two-, three- and four-byte UTF-8 (a surrogate pair when
// escaped), and the empty string.
class TextSource {
 public:
  explicit TextSource(std::mt19937_64& random) : random_(random) {}

  std::string text() {
    static const std::vector<std::string> pieces = {"a",
                                                    "Z",
                                                    "0",
                                                    " ",
                                                    "\"",
                                                    "\\",
                                                    "/",
                                                    "\n",
                                                    "\t",
                                                    "\x01",
                                                    "\x1f",
                                                    "\x7f",
                                                    "\xc3\xa9",
                                                    "\xe2\x82\xac",
                                                    "\xe6\x97\xa5",
                                                    "\xf0\x9f\x98\x80",
                                                    "@",
                                                    "example",
                                                    "Ren\xc3\xa9",
                                                    "+1 555 0100",
                                                    "\r\b\f"};
    const auto length = pick(0, 6);
    std::string out;
    for (int i = 0; i < length; ++i) {
      out += pieces[pick(0, static_cast<int>(pieces.size()) - 1)];
    }
    if (pick(0, 20) == 0) {
      out.assign(static_cast<std::size_t>(pick(16, 300)), 'x');  // beyond the small-string buffer
    }
    return out;
  }

  std::optional<std::string> optional_text() {
    if (pick(0, 2) == 0) {
      return std::nullopt;
    }
    return text();
  }

  std::vector<std::string> texts() {
    std::vector<std::string> out(static_cast<std::size_t>(pick(0, 3)));
    for (auto& value : out) {
      value = text();
    }
    return out;
  }

  std::int64_t integer() {
    static const std::vector<std::int64_t> edges = {0,
                                                    1,
                                                    -1,
                                                    std::numeric_limits<std::int64_t>::max(),
                                                    std::numeric_limits<std::int64_t>::min(),
                                                    1700000000000,
                                                    -62135596800000};
    if (pick(0, 1) == 0) {
      return edges[pick(0, static_cast<int>(edges.size()) - 1)];
    }
    return static_cast<std::int64_t>(random_());
  }

  bool flag() { return pick(0, 1) == 1; }

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }

 private:
  std::mt19937_64& random_;
};

core::ContactValue contact(TextSource& source) {
  return {source.text(), source.text(), source.flag()};
}

core::User generate_user(TextSource& source) {
  core::User user;
  user.id = core::UserId(source.text());
  user.tenant = core::TenantId(source.text());
  user.user_name = source.text();
  user.external_id = source.optional_text();
  user.name = {source.text(), source.text(), source.text(),
               source.text(), source.text(), source.text()};
  user.display_name = source.text();
  user.nick_name = source.text();
  user.profile_url = source.text();
  user.title = source.text();
  user.user_type = source.text();
  user.preferred_language = source.text();
  user.locale = source.text();
  user.timezone = source.text();
  user.active = source.flag();
  for (int i = source.pick(0, 3); i > 0; --i) {
    user.emails.push_back(contact(source));
  }
  for (int i = source.pick(0, 3); i > 0; --i) {
    user.phone_numbers.push_back(contact(source));
  }
  for (int i = source.pick(0, 2); i > 0; --i) {
    user.addresses.push_back({source.text(), source.text(), source.text(), source.text(),
                              source.text(), source.text(), source.text(), source.flag()});
  }
  user.role = static_cast<core::Role>(source.pick(0, 3));
  user.profiles = source.texts();
  for (int i = source.pick(0, 2); i > 0; --i) {
    user.extensions.push_back({source.text(), source.text(), source.flag()});
  }
  user.mfa.method = static_cast<core::MfaMethod>(source.pick(0, 4));
  user.mfa.email_addresses = source.texts();
  user.mfa.sms_numbers = source.texts();
  user.must_change_password = source.flag();
  user.password_set = source.flag();
  user.enterprise = {source.text(), source.text(), source.text(),
                     source.text(), source.text(), std::nullopt};
  if (source.flag()) {
    user.enterprise.manager = core::UserId(source.text());
  }
  user.version = source.integer();
  user.created = codec::from_millis(source.integer());
  user.last_modified = codec::from_millis(source.integer());
  return user;
}

core::Group generate_group(TextSource& source) {
  core::Group group;
  group.id = core::GroupId(source.text());
  group.tenant = core::TenantId(source.text());
  group.display_name = source.text();
  group.external_id = source.optional_text();
  group.kind = static_cast<core::GroupKind>(source.pick(0, 3));
  group.system = source.flag();
  group.version = source.integer();
  group.created = codec::from_millis(source.integer());
  group.last_modified = codec::from_millis(source.integer());
  return group;
}

std::vector<core::AttributeChange> generate_attributes(TextSource& source) {
  std::vector<core::AttributeChange> out(static_cast<std::size_t>(source.pick(0, 4)));
  for (auto& change : out) {
    change = {source.text(), source.optional_text(), source.optional_text()};
  }
  return out;
}

// What a decoder made of a document: the value, or the message of the StoreFailure it threw.
template <class T>
using Outcome = std::variant<T, std::string>;

template <class T>
Outcome<T> outcome(const std::function<T()>& decode) {
  try {
    return decode();
  } catch (const core::StoreFailure& failure) {
    return std::string(failure.what());
  }
}

template <class T>
void expect_same_outcome(const std::string& doc, T (*direct)(std::string_view),
                         T (*reference)(std::string_view),
                         std::optional<T> (*reader_alone)(std::string_view)) {
  // Whatever the reader accepts by itself, the reference decoder accepts with the same result.
  if (const auto read = reader_alone(doc)) {
    const Outcome<T> expected = outcome<T>([&] { return reference(doc); });
    ASSERT_EQ(expected.index(), 0U) << "reader accepted what the reference refuses: " << doc;
    EXPECT_TRUE(std::get<0>(expected) == *read) << "document: " << doc;
  }
  const Outcome<T> expected = outcome<T>([&] { return reference(doc); });
  const Outcome<T> actual = outcome<T>([&] { return direct(doc); });
  ASSERT_EQ(expected.index(), actual.index())
      << "document: " << doc
      << "\nreference: " << (expected.index() == 1 ? std::get<1>(expected) : "decoded")
      << "\ndirect: " << (actual.index() == 1 ? std::get<1>(actual) : "decoded");
  if (expected.index() == 0) {
    EXPECT_TRUE(std::get<0>(expected) == std::get<0>(actual)) << "document: " << doc;
  } else {
    EXPECT_EQ(std::get<1>(expected), std::get<1>(actual)) << "document: " << doc;
  }
}

void expect_same_user(const std::string& doc) {
  expect_same_outcome<core::User>(doc, &codec::decode_user, &codec::reference::decode_user,
                                  &codec::direct::decode_user);
}
void expect_same_group(const std::string& doc) {
  expect_same_outcome<core::Group>(doc, &codec::decode_group, &codec::reference::decode_group,
                                   &codec::direct::decode_group);
}
void expect_same_attributes(const std::string& doc) {
  expect_same_outcome<std::vector<core::AttributeChange>>(doc, &codec::decode_attributes,
                                                          &codec::reference::decode_attributes,
                                                          &codec::direct::decode_attributes);
}

// Every object and array in a document, so a mutation can pick any of them.
void collect(json& node, std::vector<json*>& out) {
  if (node.is_structured()) {
    out.push_back(&node);
    for (auto& child : node) {
      collect(child, out);
    }
  }
}

// Values of every JSON type, including ones the encoder never writes where it writes others.
json replacement(TextSource& source) {
  switch (source.pick(0, 9)) {
    case 0: return nullptr;
    case 1: return source.flag();
    case 2: return source.integer();
    case 3: return std::numeric_limits<std::uint64_t>::max();
    case 4: return 2.5;
    case 5: return source.text();
    case 6: return json::array();
    case 7: return json::array({source.text(), 3, nullptr});
    case 8: return json::object();
    default: return json{{"nested", json::array({json::object({{"deep", 1}})})}};
  }
}

// An older or damaged variant of an encoded document: keys dropped (older encoders, migrations),
// keys added (a newer encoder), values of another type, an enum spelling nobody knows, a key
// repeated (only expressible in text, so it is spliced in after dumping).
std::string mutate(const std::string& doc, TextSource& source) {
  json root = json::parse(doc);
  const int edits = source.pick(1, 3);
  for (int edit = 0; edit < edits; ++edit) {
    std::vector<json*> nodes;
    collect(root, nodes);
    json& node =
        *nodes[static_cast<std::size_t>(source.pick(0, static_cast<int>(nodes.size()) - 1))];
    if (node.is_object() && !node.empty()) {
      auto it = node.begin();
      std::advance(it, source.pick(0, static_cast<int>(node.size()) - 1));
      switch (source.pick(0, 3)) {
        case 0: node.erase(it); break;
        case 1: it.value() = replacement(source); break;
        case 2: it.value() = "no-such-" + source.text(); break;
        default: node["zz" + source.text()] = replacement(source); break;
      }
    } else if (node.is_array() && !node.empty()) {
      node[static_cast<std::size_t>(source.pick(0, static_cast<int>(node.size()) - 1))] =
          replacement(source);
    } else if (node.is_array()) {
      node.push_back(replacement(source));
    } else {
      node["unknownKey"] = replacement(source);
    }
  }
  std::string out = root.dump();
  if (source.pick(0, 5) == 0 && out.size() > 2 && out.front() == '{') {
    // A repeated key: the DOM decoder keeps the last one.
    out.insert(1, source.flag() ? R"("title":"first",)" : R"("id":"first",)");
  }
  return out;
}

constexpr int kDocuments = 3000;

TEST(StoreCodec, DirectUserDecodeEqualsTheModelAndTheDomDecoder) {
  std::mt19937_64 random(20261124);
  TextSource source(random);
  for (int i = 0; i < kDocuments; ++i) {
    const core::User user = generate_user(source);
    const std::string doc = codec::encode_user(user);
    const core::User decoded = codec::decode_user(doc);
    ASSERT_TRUE(decoded == user) << doc;
    const auto direct = codec::direct::decode_user(doc);  // not handed to the DOM decoder
    ASSERT_TRUE(direct.has_value()) << doc;
    ASSERT_TRUE(*direct == user) << doc;
    ASSERT_TRUE(codec::reference::decode_user(doc) == user) << doc;
    ASSERT_EQ(codec::encode_user(decoded), doc);
  }
}

TEST(StoreCodec, DirectEncodersWriteWhatTheDomEncodersWrite) {
  std::mt19937_64 random(20261125);
  TextSource source(random);
  for (int i = 0; i < kDocuments; ++i) {
    const core::User user = generate_user(source);
    ASSERT_EQ(codec::encode_user(user), codec::reference::encode_user(user));
    const core::Group group = generate_group(source);
    ASSERT_EQ(codec::encode_group(group), codec::reference::encode_group(group));
    const auto attributes = generate_attributes(source);
    ASSERT_EQ(codec::encode_attributes(attributes),
              codec::reference::encode_attributes(attributes));
  }
}

// Text at the edges of UTF-8: what nlohmann's serializer accepts is written as is; what it
// refuses makes the direct encoder fall back, so that both fail the same way.
TEST(StoreCodec, DirectEncodersTreatUtf8AsTheDomEncodersDo) {
  const auto outcome = [](const auto& encode, const auto& value) -> std::string {
    try {
      return "ok:" + encode(value);
    } catch (const std::exception& error) {
      return std::string("threw:") + error.what();
    }
  };
  for (const std::string& text :
       {std::string("\x7f"), std::string("\xc2\x80"), std::string("\xdf\xbf"),
        std::string("\xe0\xa0\x80"), std::string("\xed\x9f\xbf"), std::string("\xee\x80\x80"),
        std::string("\xef\xbf\xbf"), std::string("\xf0\x90\x80\x80"),
        std::string("\xf4\x8f\xbf\xbf"), std::string("a\0b", 3),
        // refused: lone continuation, overlong, surrogate, past U+10FFFF, truncated
        std::string("\x80"), std::string("\xc0\x80"), std::string("\xc1\xbf"),
        std::string("\xe0\x9f\xbf"), std::string("\xed\xa0\x80"), std::string("\xf0\x8f\xbf\xbf"),
        std::string("\xf4\x90\x80\x80"), std::string("\xf5\x80\x80\x80"), std::string("\xff"),
        std::string("\xe2\x82"), std::string("ok\xe2"), std::string("\xf0\x9f\x98")}) {
    core::User user;
    user.id = core::UserId("u1");
    user.title = "before " + text + " after";
    const std::string direct = outcome(codec::encode_user, user);
    EXPECT_EQ(direct, outcome(codec::reference::encode_user, user))
        << "a title with " << text.size() << " bytes of edge UTF-8";
    core::Group group;
    group.display_name = text;
    EXPECT_EQ(outcome(codec::encode_group, group), outcome(codec::reference::encode_group, group));
    const std::vector<core::AttributeChange> attributes = {{"title", std::nullopt, text}};
    EXPECT_EQ(outcome(codec::encode_attributes, attributes),
              outcome(codec::reference::encode_attributes, attributes));
  }
}

TEST(StoreCodec, DirectGroupAndAttributeDecodeEqualTheModel) {
  std::mt19937_64 random(7);
  TextSource source(random);
  for (int i = 0; i < kDocuments; ++i) {
    const core::Group group = generate_group(source);
    const std::string group_doc = codec::encode_group(group);
    ASSERT_TRUE(codec::decode_group(group_doc) == group) << group_doc;
    ASSERT_TRUE(codec::direct::decode_group(group_doc) == group) << group_doc;
    ASSERT_TRUE(codec::reference::decode_group(group_doc) == group) << group_doc;

    const auto attributes = generate_attributes(source);
    const std::string attributes_doc = codec::encode_attributes(attributes);
    ASSERT_TRUE(codec::decode_attributes(attributes_doc) == attributes) << attributes_doc;
    ASSERT_TRUE(codec::direct::decode_attributes(attributes_doc) == attributes) << attributes_doc;
  }
}

TEST(StoreCodec, OlderNewerAndDamagedUserDocumentsDecodeAsTheDomDecoderDoes) {
  std::mt19937_64 random(42);
  TextSource source(random);
  int read_directly = 0;
  for (int i = 0; i < kDocuments; ++i) {
    const std::string doc = mutate(codec::encode_user(generate_user(source)), source);
    expect_same_user(doc);
    read_directly += codec::direct::decode_user(doc).has_value() ? 1 : 0;
  }
  // Dropped and unknown keys are read without the DOM; wrong types and duplicates are not.
  EXPECT_GT(read_directly, kDocuments / 5);
  EXPECT_LT(read_directly, kDocuments);
}

// The compact parser reads what the encoder writes; on other spellings of the same JSON
// (whitespace, \u escapes of any character, surrogate pairs) and on damaged documents it either
// agrees with the DOM decoder or hands the document on.
TEST(StoreCodec, CompactParserReadsEncoderOutputAndAgreesWithTheDomDecoderElsewhere) {
  std::mt19937_64 random(44);
  TextSource source(random);
  int read_compactly = 0;
  for (int i = 0; i < kDocuments; ++i) {
    const core::User user = generate_user(source);
    const std::string doc = codec::encode_user(user);
    const auto compact = codec::compact::decode_user(doc);
    ASSERT_TRUE(compact.has_value()) << doc;
    ASSERT_TRUE(*compact == user) << doc;

    const std::string damaged = mutate(doc, source);
    const json parsed = json::parse(damaged, nullptr, false);
    for (const std::string& variant :
         {damaged, parsed.is_discarded() ? damaged : parsed.dump(1),
          parsed.is_discarded() ? damaged : parsed.dump(-1, ' ', /*ensure_ascii=*/true)}) {
      expect_same_outcome<core::User>(variant, &codec::decode_user, &codec::reference::decode_user,
                                      &codec::compact::decode_user);
      read_compactly += codec::compact::decode_user(variant).has_value() ? 1 : 0;
    }
  }
  // Damage that keeps the shape (dropped or unknown keys) is still read compactly.
  EXPECT_GT(read_compactly, kDocuments / 5);
}

TEST(StoreCodec, CompactParserHandsOnWhatItDoesNotRead) {
  core::User user;
  user.id = core::UserId("u1");
  user.title = "t";
  const std::string doc = codec::encode_user(user);
  ASSERT_TRUE(codec::compact::decode_user(doc).has_value());
  const auto with = [&](std::string_view from, std::string_view to) {
    std::string out = doc;
    out.replace(out.find(from), from.size(), to);
    return out;
  };
  for (const std::string& other : {
           with("\"title\":\"t\"", "\"title\":\"\\u00e9\""),           // a \u escape past ASCII
           with("\"title\":\"t\"", "\"title\":\"\\ud83d\\ude00\""),    // a surrogate pair
           with("\"version\":0", "\"version\":1.0"),                   // a fraction
           with("\"version\":0", "\"version\":1e2"),                   // an exponent
           with("\"version\":0", "\"version\":12345678901234567890"),  // 20 digits
           with("\"version\":0", "\"version\":-9223372036854775809"),  // below int64
           with("\"version\":0", "\"version\":9223372036854775808"),   // past int64
           with("\"version\":0", "\"version\": 0"),                    // whitespace
           doc + " ",                                                  // trailing whitespace
           with("\"title\":\"t\"", "\"title\":\"\xc3\""),              // truncated UTF-8
           with("\"version\":0", "\"version\":01"),                    // not JSON
       }) {
    EXPECT_FALSE(codec::compact::decode_user(other).has_value()) << other;
    expect_same_user(other);
  }
  // What it does read, it reads as nlohmann does.
  for (const std::string& same : {
           with("\"title\":\"t\"", "\"title\":\"\\u0074\\/\\u001f\""),
           with("\"version\":0", "\"version\":-0"),
           with("\"version\":0", "\"version\":9223372036854775807"),
           with("\"version\":0", "\"version\":-9223372036854775808"),
       }) {
    ASSERT_TRUE(codec::compact::decode_user(same).has_value()) << same;
    EXPECT_TRUE(*codec::compact::decode_user(same) == codec::reference::decode_user(same)) << same;
  }
}

TEST(StoreCodec, OlderNewerAndDamagedGroupAndAttributeDocumentsDecodeAsTheDomDecoderDoes) {
  std::mt19937_64 random(43);
  TextSource source(random);
  for (int i = 0; i < kDocuments; ++i) {
    expect_same_group(mutate(codec::encode_group(generate_group(source)), source));
    const std::string attributes = codec::encode_attributes(generate_attributes(source));
    if (attributes != "[]") {
      expect_same_attributes(mutate(attributes, source));
    }
  }
}

TEST(StoreCodec, AMinimalUserDocumentTakesEveryDefault) {
  const core::User user = codec::decode_user(R"({"id":"u1","tenant":"t1","userName":"ann"})");
  core::User expected;
  expected.id = core::UserId("u1");
  expected.tenant = core::TenantId("t1");
  expected.user_name = "ann";
  EXPECT_TRUE(user == expected);
  EXPECT_TRUE(user.active);
  EXPECT_EQ(user.role, core::Role::standard_user);
  EXPECT_FALSE(user.external_id.has_value());
}

TEST(StoreCodec, EscapesSurrogatePairsAndLimitsWrittenByHandDecode) {
  const std::string doc =
      R"({"id":"u\u0031","tenant":"t","userName":"Ren\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t",)"
      R"("externalId":null,"name":{"givenName":"日本"},"version":9223372036854775807,)"
      R"("created":-9223372036854775808,"lastModified":0,"enterprise":{"manager":null},)"
      R"("unknown":{"a":[1,2.5,{"b":null}],"c":"d"},"profiles":[]})";
  const core::User user = codec::decode_user(doc);
  EXPECT_EQ(user.id.str(), "u1");
  EXPECT_EQ(user.user_name, "Ren\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ / \b\f\n\r\t");
  EXPECT_EQ(user.name.given_name, "日本");
  EXPECT_EQ(user.version, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(codec::to_millis(user.created), std::numeric_limits<std::int64_t>::min());
  EXPECT_FALSE(user.external_id.has_value());
  EXPECT_FALSE(user.enterprise.manager.has_value());
  expect_same_user(doc);
}

TEST(StoreCodec, CorruptDocumentsFailAsBeforeNamingOnlyTheId) {
  const std::string doc = codec::encode_user([] {
    std::mt19937_64 random(1);
    TextSource source(random);
    core::User user = generate_user(source);
    user.id = core::UserId("u-7");
    return user;
  }());
  // Every truncation is a syntax error: the message names no id (nothing was parsed).
  for (std::size_t length = 0; length < doc.size(); ++length) {
    expect_same_user(doc.substr(0, length));
    EXPECT_THROW(codec::decode_user(doc.substr(0, length)), core::StoreFailure);
  }
  const std::vector<std::string> corrupt = {
      "",
      "null",
      "[]",
      R"("user")",
      R"({"id":"u-7","tenant":"t"})",                                    // no userName
      R"({"id":"u-7","tenant":"t","userName":null})",                    // null required text
      R"({"id":"u-7","tenant":"t","userName":"a","active":"yes"})",      // wrong type
      R"({"id":"u-7","tenant":"t","userName":"a","role":"emperor"})",    // unknown enum
      R"({"id":"u-7","tenant":"t","userName":"a","mfa":{"method":7}})",  // wrong enum type
      R"({"id":"u-7","tenant":"t","userName":"a","version":1.5})",       // accepted as 1 before
      R"({"id":"u-7","tenant":"t","userName":"a","emails":{}})",
      R"({"id":"u-7","tenant":"t","userName":"a","emails":[1]})",  // accepted as one default entry
      R"({"id":"u-7","tenant":"t","userName":"a","name":null})",   // accepted: name ignored
      R"({"id":"u-7","tenant":"t","userName":"a"} trailing)",
      R"({"id":"u-7","tenant":"t","userName":"\ud83d"})",         // lone surrogate
      "{\"id\":\"u-7\",\"tenant\":\"t\",\"userName\":\"\xff\"}",  // invalid UTF-8
  };
  for (const auto& text : corrupt) {
    expect_same_user(text);
  }
  EXPECT_THROW(
      {
        try {
          codec::decode_user(R"({"active":"yes","id":"u-7","tenant":"t","userName":"a"})");
        } catch (const core::StoreFailure& failure) {
          EXPECT_STREQ(failure.what(), "store codec: stored user document of id 'u-7' is corrupt");
          throw;
        }
      },
      core::StoreFailure);
  EXPECT_THROW(
      {
        try {
          codec::decode_group(R"({"id":"g","tenant":"t","displayName":"x","kind":"club"})");
        } catch (const core::StoreFailure& failure) {
          EXPECT_STREQ(failure.what(), "store codec: unknown group kind 'club'");
          throw;
        }
      },
      core::StoreFailure);
  for (const auto& text : {std::string("{}"), std::string("[{}]"), std::string("[{\"path\":1}]"),
                           std::string("[1]"), std::string("[")}) {
    expect_same_attributes(text);
    expect_same_group(text);
  }
}

}  // namespace
}  // namespace idbridge::store_test
