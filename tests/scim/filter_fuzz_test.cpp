// Robustness: thousands of random and mutated filters and paths (fixed seed) must never crash,
// throw or recurse without bound, and whatever parses must print to text that parses back to
// the same tree.
#include "filter_eval.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace idbridge::scim {
namespace {

const std::vector<std::string>& seeds() {
  static const std::vector<std::string> corpus = {
      R"(userName eq "bjensen")",
      R"(name.familyName co "O'Malley")",
      R"(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")",
      "title pr",
      R"(meta.lastModified gt "2011-05-13T04:42:34Z")",
      R"(title pr and userType eq "Employee")",
      R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))",
      R"(userType eq "Employee" and emails[type eq "work" and value co "@example.com"])",
      R"(emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"])",
      R"(emails[type eq "work"].value eq "u@contoso.com")",
      R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x")",
      R"(members[value eq "f648f8d5ea4e4cd38e9c"])",
      R"(x eq "\ud83d\ude00\u00e9\n" or y eq -1.5e3 and z eq true or w eq null)",
      R"(emails[type eq "work"].value)",
      "name.givenName",
  };
  return corpus;
}

const std::vector<std::string>& fragments() {
  static const std::vector<std::string> pieces = {"(",        ")",
                                                  "[",        "]",
                                                  "\"",       "\\",
                                                  "\\u",      "\\ud800",
                                                  "\\udc00",  "\\u0000",
                                                  " and ",    " or ",
                                                  "not (",    " eq ",
                                                  " pr",      " gt ",
                                                  "co",       ".",
                                                  ":",        "urn:",
                                                  "urn:x:",   "$ref",
                                                  "1e999",    "-",
                                                  "0",        "01",
                                                  "1.",       "true",
                                                  "null",     " ",
                                                  "\t",       "\xff",
                                                  "\xc3\xa9", "\xed\xa0\x80",
                                                  "a[b[",     "]]",
                                                  "))",       "((",
                                                  ".value",   "emails[type eq \"work\"]"};
  return pieces;
}

const nlohmann::json& sample() {
  static const nlohmann::json user = R"json({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "bjensen", "title": "x", "active": true, "age": 3,
    "name": {"givenName": "B"},
    "emails": [{"value": "a@example.com", "type": "work"}, "stray", null, 5],
    "meta": {"lastModified": "2011-05-13T04:42:34Z"},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "bare"}
  })json"_json;
  return user;
}

std::string mutate(std::string text, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    const std::size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
    switch (rng() % 6) {
      case 0:
        if (!text.empty() && at < text.size()) {
          text.erase(at, 1 + rng() % 3);
        }
        break;
      case 1: text.insert(at, 1, static_cast<char>(rng() % 256)); break;
      case 2:
        if (at < text.size()) {
          text[at] = static_cast<char>(rng() % 256);
        }
        break;
      case 3: text.insert(at, fragments()[rng() % fragments().size()]); break;
      case 4: text = text.substr(0, at); break;
      default: {
        const std::string& other = seeds()[rng() % seeds().size()];
        text.insert(at, other.substr(rng() % (other.size() + 1)));
      }
    }
  }
  return text;
}

// Everything the module offers, on one input; returns whether the filter parsed.
bool exercise(const std::string& text) {
  bool parsed = false;
  const auto filter = parse_filter(text);
  if (filter) {
    parsed = true;
    const std::string canonical = to_string(*filter);
    const auto again = parse_filter(canonical);
    EXPECT_TRUE(again) << "canonical text does not parse: " << canonical;
    if (again) {
      EXPECT_EQ(*again, *filter) << text << " -> " << canonical;
      EXPECT_EQ(to_string(*again), canonical);
    }
    static_cast<void>(validate(*filter, default_attribute_rules()));
    static_cast<void>(matches(*filter, sample(), default_attribute_rules()));
  } else {
    EXPECT_EQ(filter.error().scim_type, "invalidFilter");
    EXPECT_FALSE(filter.error().message.empty());
  }
  const auto path = parse_path(text);
  if (path) {
    const auto again = parse_path(to_string(*path));
    EXPECT_TRUE(again) << to_string(*path);
    if (again) {
      EXPECT_EQ(*again, *path);
    }
  } else {
    EXPECT_EQ(path.error().scim_type, "invalidPath");
  }
  return parsed;
}

TEST(FilterFuzz, MutatedFiltersNeverCrashAndRoundTrip) {
  std::mt19937 rng(20260611);
  int accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string text = seeds()[rng() % seeds().size()];
    for (int round = static_cast<int>(rng() % 3); round >= 0; --round) {
      text = mutate(std::move(text), rng);
    }
    accepted += exercise(text) ? 1 : 0;
  }
  // The mutations must not be so wild that nothing parses: both paths get exercised.
  EXPECT_GT(accepted, 750);
  EXPECT_LT(accepted, 47500);
}

TEST(FilterFuzz, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab eqprandotr()[]\".:\\u0dD8-1e$";
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 64, ' ');
    for (char& c : text) {
      c = i % 2 == 0 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256);
    }
    exercise(text);
  }
}

TEST(FilterFuzz, HostileNestingIsRefusedNotRecursed) {
  // Microsoft's reference code crashed near 8,000 nested segments.
  std::vector<std::string> hostile = {
      std::string(16384, '('), std::string(8000, '(') + "a pr" + std::string(8000, ')'),
      std::string(16384, '['), std::string(16384, ')'),
      std::string(16384, '"'), std::string(16384, '.'),
  };
  std::string nots;
  std::string brackets;
  std::string mixed;
  while (nots.size() < 16000) {
    nots += "not (";
    brackets += "a[";
    mixed += "(a pr and not (";
  }
  hostile.push_back(nots);
  hostile.push_back(brackets);
  hostile.push_back(mixed);
  hostile.push_back(std::string(1 << 20, 'a'));
  for (const std::string& text : hostile) {
    EXPECT_FALSE(parse_filter(text)) << text.substr(0, 40);
    EXPECT_FALSE(parse_path(text)) << text.substr(0, 40);
  }
}

TEST(FilterFuzz, WideFiltersEvaluate) {
  std::string chain = R"(userName eq "x")";
  while (chain.size() < 16000) {
    chain += R"( or (title pr and not (userName eq "y")))";
  }
  const auto filter = parse_filter(chain);
  ASSERT_TRUE(filter) << filter.error().message;
  EXPECT_TRUE(matches(*filter, sample(), default_attribute_rules()));
}

}  // namespace
}  // namespace idbridge::scim
