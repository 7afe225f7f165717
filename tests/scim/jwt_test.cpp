// Tests of JWT bearer tokens: keys generated and tokens signed here with OpenSSL, a JWKS written
// from them, then every acceptance and rejection rule of JwtVerifier and BearerAuthenticator.
#include "idbridge/scim/jwt.hpp"
#include "idbridge/crypto/crypto.hpp"
#include "idbridge/scim/auth.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace idbridge::scim {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kEntraIssuer = "https://sts.windows.net/00000000-1111-2222-3333-444444444444/";
const std::string kEntraAudience = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string base64url(std::string_view data) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : data) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buffer >> static_cast<unsigned>(bits)) & 63U];
    }
  }
  if (bits > 0) {
    out += alphabet[(buffer << static_cast<unsigned>(6 - bits)) & 63U];
  }
  return out;
}

std::string bignum_bytes(const BIGNUM* number, int width = 0) {
  std::string out(static_cast<std::size_t>(width > 0 ? width : BN_num_bytes(number)), '\0');
  BN_bn2binpad(number, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

std::string bignum_param(EVP_PKEY* pkey, const char* name, int width = 0) {
  BIGNUM* number = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pkey, name, &number), 1);
  std::string out = bignum_bytes(number, width);
  BN_free(number);
  return out;
}

std::string sign_raw(EVP_PKEY* pkey, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey), 1);
  std::size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size, data, input.size()), 1);
  std::string signature(size, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                           data, input.size()),
            1);
  signature.resize(size);
  return signature;
}

// ES256 wants r||s, OpenSSL produces DER.
std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  EXPECT_NE(sig, nullptr);
  std::string raw =
      bignum_bytes(ECDSA_SIG_get0_r(sig), 32) + bignum_bytes(ECDSA_SIG_get0_s(sig), 32);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string public_pem(EVP_PKEY* pkey) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), pkey), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

json rsa_jwk(EVP_PKEY* pkey, const std::string& kid) {
  return {{"kty", "RSA"},
          {"use", "sig"},
          {"kid", kid},
          {"n", base64url(bignum_param(pkey, OSSL_PKEY_PARAM_RSA_N))},
          {"e", base64url(bignum_param(pkey, OSSL_PKEY_PARAM_RSA_E))}};
}

json ec_jwk(EVP_PKEY* pkey, const std::string& kid) {
  return {{"kty", "EC"},
          {"crv", "P-256"},
          {"kid", kid},
          {"x", base64url(bignum_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", base64url(bignum_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

JwkSet parse_jwks(const json& document) {
  auto parsed = JwkSet::parse(document.dump());
  EXPECT_TRUE(parsed.keys.has_value()) << parsed.error;
  return parsed.keys ? *parsed.keys : JwkSet();
}

json valid_claims() {
  return {{"iss", kEntraIssuer}, {"aud", kEntraAudience},
          {"iat", kNow - 10},    {"nbf", kNow - 10},
          {"exp", kNow + 3600},  {"tid", "00000000-1111-2222-3333-444444444444"}};
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
    ec_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    ASSERT_NE(rsa_, nullptr);
    ASSERT_NE(ec_, nullptr);
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
  }

  static json jwks() { return {{"keys", {rsa_jwk(rsa_, "rsa-1"), ec_jwk(ec_, "ec-1")}}}; }

  // An Entra-like tenant issuer and a provider-wide one with an ES256-only, read-only entry.
  JwtVerifier verifier() const {
    JwtIssuer entra;
    entra.name = "acme-entra";
    entra.issuer = kEntraIssuer;
    entra.audience = kEntraAudience;
    entra.keys = parse_jwks(jwks());
    entra.role_ceiling = core::Role::administrator;
    entra.tenant = core::TenantId("acme");
    JwtIssuer provider;
    provider.name = "provider-automation";
    provider.issuer = "https://idp.example.com";
    provider.audience = "idbridge";
    provider.algorithms = {JwtAlgorithm::es256};
    provider.keys = parse_jwks(jwks());
    provider.read_only = true;
    provider.clock_skew = std::chrono::seconds(0);
    return JwtVerifier({entra, provider},
                       [] { return core::Timestamp(std::chrono::seconds(kNow)); });
  }

  static std::string token(const json& header, const json& claims,
                           const std::function<std::string(std::string_view)>& sign) {
    const std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
    return input + "." + base64url(sign(input));
  }
  static std::string rs256(const json& claims, const std::string& kid = "rsa-1") {
    return token({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}}, claims,
                 [](std::string_view input) { return sign_raw(rsa_, input); });
  }
  static std::string es256(const json& claims, const std::string& kid = "ec-1") {
    return token({{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid}}, claims,
                 [](std::string_view input) { return der_to_raw(sign_raw(ec_, input)); });
  }

  static EVP_PKEY* rsa_;
  static EVP_PKEY* ec_;
};

EVP_PKEY* JwtTest::rsa_ = nullptr;
EVP_PKEY* JwtTest::ec_ = nullptr;

TEST_F(JwtTest, ValidRs256IsAcceptedAsTheTenantIssuer) {
  const auto result = verifier().verify(rs256(valid_claims()));
  ASSERT_TRUE(result.principal) << result.reason;
  const core::Principal& principal = *result.principal;
  EXPECT_EQ(principal.actor.kind, core::ActorKind::credential);
  EXPECT_EQ(principal.actor.id, "acme-entra");
  EXPECT_EQ(principal.origin.kind, core::OriginKind::scim);
  EXPECT_EQ(principal.ceiling, core::Role::administrator);
  EXPECT_EQ(principal.tenant_scope, core::TenantId("acme"));
  EXPECT_FALSE(principal.read_only);
}

TEST_F(JwtTest, ValidEs256IsAcceptedAsTheProviderIssuer) {
  json claims = valid_claims();
  claims["iss"] = "https://idp.example.com";
  claims["aud"] = {"other", "idbridge"};  // an array holding the audience is enough
  const auto result = verifier().verify(es256(claims));
  ASSERT_TRUE(result.principal) << result.reason;
  EXPECT_EQ(result.principal->actor.id, "provider-automation");
  EXPECT_FALSE(result.principal->tenant_scope.has_value());
  EXPECT_EQ(result.principal->ceiling, core::Role::standard_user);
  EXPECT_TRUE(result.principal->read_only);
}

TEST_F(JwtTest, WithoutKidTheOnlyKeyOfTheTypeIsUsed) {
  const auto unsigned_token = token({{"alg", "RS256"}}, valid_claims(),
                                    [](std::string_view input) { return sign_raw(rsa_, input); });
  const auto result = verifier().verify(unsigned_token);
  EXPECT_TRUE(result.principal) << result.reason;

  // Two RSA keys and no kid: ambiguous, so no key is chosen.
  auto other =
      PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}), EVP_PKEY_free);
  JwtIssuer issuer;
  issuer.name = "two-keys";
  issuer.issuer = kEntraIssuer;
  issuer.audience = kEntraAudience;
  issuer.keys = parse_jwks({{"keys", {rsa_jwk(rsa_, "a"), rsa_jwk(other.get(), "b")}}});
  const JwtVerifier two({issuer}, [] { return core::Timestamp(std::chrono::seconds(kNow)); });
  EXPECT_EQ(two.verify(unsigned_token).failure, JwtFailure::key_not_found);
}

TEST_F(JwtTest, SkewAllowsSlightlyExpiredTokens) {
  json claims = valid_claims();
  claims["exp"] = kNow - 59;
  EXPECT_TRUE(verifier().verify(rs256(claims)).principal);
  claims["exp"] = kNow - 60;
  EXPECT_EQ(verifier().verify(rs256(claims)).failure, JwtFailure::token_expired);
  claims["exp"] = kNow + 0.5;  // NumericDate may be fractional
  EXPECT_TRUE(verifier().verify(rs256(claims)).principal);
}

struct Rejection {
  const char* name;
  std::function<std::string()> make;
  JwtFailure failure;
};

void PrintTo(const Rejection& r, std::ostream* out) {
  *out << r.name;
}

json with(json claims, const std::string& key, json value) {
  if (value.is_null()) {
    claims.erase(key);
  } else {
    claims[key] = std::move(value);
  }
  return claims;
}

class JwtRejection : public JwtTest, public ::testing::WithParamInterface<Rejection> {
 public:
  static std::vector<Rejection> cases() {
    const auto valid_rs = [] { return rs256(valid_claims()); };
    return {
        {"wrong_iss", [] { return rs256(with(valid_claims(), "iss", "https://evil.example/")); },
         JwtFailure::issuer_not_accepted},
        {"missing_iss", [] { return rs256(with(valid_claims(), "iss", nullptr)); },
         JwtFailure::issuer_not_accepted},
        {"wrong_aud", [] { return rs256(with(valid_claims(), "aud", "someone-else")); },
         JwtFailure::audience_not_accepted},
        {"aud_array_without_ours",
         [] {
           return rs256(with(valid_claims(), "aud", {"a", 1}));
         },
         JwtFailure::audience_not_accepted},
        {"expired", [] { return rs256(with(valid_claims(), "exp", kNow - 3600)); },
         JwtFailure::token_expired},
        {"no_exp", [] { return rs256(with(valid_claims(), "exp", nullptr)); },
         JwtFailure::token_expired},
        {"exp_not_a_number", [] { return rs256(with(valid_claims(), "exp", "tomorrow")); },
         JwtFailure::malformed},
        {"nbf_in_future", [] { return rs256(with(valid_claims(), "nbf", kNow + 600)); },
         JwtFailure::not_yet_valid},
        {"iat_in_future", [] { return rs256(with(valid_claims(), "iat", kNow + 600)); },
         JwtFailure::not_yet_valid},
        {"alg_none",
         [] {
           return base64url(json({{"alg", "none"}, {"typ", "JWT"}}).dump()) + "." +
                  base64url(valid_claims().dump()) + ".";
         },
         JwtFailure::algorithm_not_allowed},
        {"alg_none_with_signature",
         [] {
           return token({{"alg", "none"}, {"kid", "rsa-1"}}, valid_claims(),
                        [](std::string_view input) { return sign_raw(rsa_, input); });
         },
         JwtFailure::algorithm_not_allowed},
        {"alg_missing",
         [] {
           return token({{"kid", "rsa-1"}}, valid_claims(),
                        [](std::string_view input) { return sign_raw(rsa_, input); });
         },
         JwtFailure::algorithm_not_allowed},
        {"alg_lower_case",
         [] {
           return token({{"alg", "rs256"}, {"kid", "rsa-1"}}, valid_claims(),
                        [](std::string_view input) { return sign_raw(rsa_, input); });
         },
         JwtFailure::algorithm_not_allowed},
        {"hs256_with_rsa_public_key_as_secret",
         [] {
           // The classic confusion: the verifier's public key is no secret, so an HMAC with it
           // as the key is something anyone can make.
           const std::string secret = public_pem(rsa_);
           return token({{"alg", "HS256"}, {"kid", "rsa-1"}}, valid_claims(),
                        [&](std::string_view input) {
                          unsigned char mac[EVP_MAX_MD_SIZE];
                          unsigned size = 0;
                          HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                               reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                               mac, &size);
                          return std::string(reinterpret_cast<const char*>(mac), size);
                        });
         },
         JwtFailure::algorithm_not_allowed},
        {"tampered_payload",
         [valid_rs] {
           const std::string good = valid_rs();
           const auto first = good.find('.');
           const auto second = good.find('.', first + 1);
           json claims = valid_claims();
           claims["tid"] = "another-tenant";
           return good.substr(0, first + 1) + base64url(claims.dump()) + good.substr(second);
         },
         JwtFailure::signature_invalid},
        {"tampered_signature",
         [valid_rs] {
           std::string bad = valid_rs();
           const auto at = bad.rfind('.') + 10;
           bad[at] = bad[at] == 'A' ? 'B' : 'A';
           return bad;
         },
         JwtFailure::signature_invalid},
        {"signature_of_another_key",
         [] {
           const PkeyPtr other(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}),
                               EVP_PKEY_free);
           return token({{"alg", "RS256"}, {"kid", "rsa-1"}}, valid_claims(),
                        [&](std::string_view input) { return sign_raw(other.get(), input); });
         },
         JwtFailure::signature_invalid},
        {"unknown_kid", [] { return rs256(valid_claims(), "rsa-2"); }, JwtFailure::key_not_found},
        {"kid_of_a_key_of_the_other_type", [] { return rs256(valid_claims(), "ec-1"); },
         JwtFailure::key_not_found},
        {"malformed_base64",
         [valid_rs] {
           std::string bad = valid_rs();
           bad[3] = '+';
           return bad;
         },
         JwtFailure::malformed},
        {"base64_with_padding", [valid_rs] { return valid_rs() + "=="; }, JwtFailure::malformed},
        {"base64_impossible_length",
         [] {
           return base64url(json({{"alg", "RS256"}}).dump()) + "." +
                  base64url(valid_claims().dump()) + ".AAAAA";
         },
         JwtFailure::malformed},
        {"two_parts",
         [valid_rs] {
           const std::string good = valid_rs();
           return good.substr(0, good.rfind('.'));
         },
         JwtFailure::malformed},
        {"four_parts", [valid_rs] { return valid_rs() + ".AAAA"; }, JwtFailure::malformed},
        {"header_not_json",
         [] { return base64url("{\"alg\":") + "." + base64url(valid_claims().dump()) + ".AAAA"; },
         JwtFailure::malformed},
        {"payload_not_an_object",
         [] {
           return token({{"alg", "RS256"}, {"kid", "rsa-1"}}, json::array({1, 2}),
                        [](std::string_view input) { return sign_raw(rsa_, input); });
         },
         JwtFailure::malformed},
        {"crit_header",
         [] {
           return token({{"alg", "RS256"}, {"kid", "rsa-1"}, {"crit", {"exp"}}, {"exp", 1}},
                        valid_claims(),
                        [](std::string_view input) { return sign_raw(rsa_, input); });
         },
         JwtFailure::malformed},
        {"es256_signature_of_wrong_length",
         [] {
           return token({{"alg", "ES256"}, {"kid", "ec-1"}}, valid_claims(),
                        [](std::string_view input) { return sign_raw(ec_, input); });  // DER
         },
         JwtFailure::signature_invalid},
        {"es256_signature_truncated",
         [] {
           return token({{"alg", "ES256"}, {"kid", "ec-1"}}, valid_claims(),
                        [](std::string_view input) {
                          return der_to_raw(sign_raw(ec_, input)).substr(0, 63);
                        });
         },
         JwtFailure::signature_invalid},
        {"algorithm_not_allowed_for_the_issuer",
         [] {
           json claims = valid_claims();
           claims["iss"] = "https://idp.example.com";
           claims["aud"] = "idbridge";
           return rs256(claims);  // the provider entry allows ES256 only
         },
         JwtFailure::algorithm_not_allowed},
        {"zero_skew_issuer_expired_by_a_second",
         [] {
           json claims = valid_claims();
           claims["iss"] = "https://idp.example.com";
           claims["aud"] = "idbridge";
           claims["exp"] = kNow;
           return es256(claims);
         },
         JwtFailure::token_expired},
        {"too_long", [valid_rs] { return valid_rs() + std::string(20000, 'A'); },
         JwtFailure::malformed},
    };
  }
};

TEST_P(JwtRejection, IsRejectedForItsReason) {
  const std::string jwt = GetParam().make();
  const auto result = verifier().verify(jwt);
  EXPECT_FALSE(result.principal);
  EXPECT_EQ(result.failure, GetParam().failure)
      << describe(result.failure) << " / " << result.reason;
  EXPECT_FALSE(result.reason.empty());
  // The log reason never quotes the token or any part of it.
  std::size_t start = 0;
  while (start < jwt.size()) {
    const auto end = std::min(jwt.find('.', start), jwt.size());
    if (end - start >= 8) {
      EXPECT_THAT(result.reason, Not(HasSubstr(jwt.substr(start, end - start))));
    }
    start = end + 1;
  }
  EXPECT_THAT(result.reason, Not(HasSubstr("evil")));
}

INSTANTIATE_TEST_SUITE_P(All, JwtRejection, ::testing::ValuesIn(JwtRejection::cases()),
                         [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(JwtFailureText, IsGeneric) {
  EXPECT_EQ(describe(JwtFailure::token_expired), "token expired");
  EXPECT_EQ(describe(JwtFailure::signature_invalid), "signature invalid");
  EXPECT_EQ(describe(JwtFailure::issuer_not_accepted), "issuer not accepted");
}

TEST(JwtShape, LooksLikeJwt) {
  EXPECT_TRUE(looks_like_jwt("eyJh.eyJi.c2ln"));
  EXPECT_TRUE(looks_like_jwt("a-_b.c.d"));
  EXPECT_FALSE(looks_like_jwt("eyJh.eyJi."));  // alg none has an empty signature: not ours
  EXPECT_FALSE(looks_like_jwt("eyJh.eyJi"));
  EXPECT_FALSE(looks_like_jwt("a.b.c.d"));
  EXPECT_FALSE(looks_like_jwt(".b.c"));
  EXPECT_FALSE(looks_like_jwt("a+b.c.d"));
  EXPECT_FALSE(looks_like_jwt("plainStaticToken_-123"));
}

class JwksTest : public JwtTest {};

TEST_F(JwksTest, ParsesAndSkipsKeysThatAreNotForSigning) {
  json document = jwks();
  document["keys"].push_back({{"kty", "oct"}, {"k", "c2VjcmV0"}});
  document["keys"].push_back({{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}});
  json encryption = rsa_jwk(rsa_, "enc");
  encryption["use"] = "enc";
  document["keys"].push_back(encryption);
  json rs384 = rsa_jwk(rsa_, "rs384");
  rs384["alg"] = "RS384";
  document["keys"].push_back(rs384);
  const auto parsed = JwkSet::parse(document.dump());
  ASSERT_TRUE(parsed.keys) << parsed.error;
  EXPECT_EQ(parsed.keys->size(), 2U);
}

TEST_F(JwksTest, RejectsBrokenDocumentsAndKeys) {
  const auto error_of = [](const json& document) { return JwkSet::parse(document.dump()).error; };
  EXPECT_THAT(JwkSet::parse("not json").error, HasSubstr("not a JSON object"));
  EXPECT_THAT(error_of({{"kid", "x"}}), HasSubstr("no \"keys\" array"));
  EXPECT_THAT(error_of({{"keys", json::array()}}), HasSubstr("no RSA or EC P-256 signing key"));
  EXPECT_THAT(error_of({{"keys", {{{"kty", "oct"}, {"k", "AA"}}}}}),
              HasSubstr("no RSA or EC P-256 signing key"));

  const PkeyPtr small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024}), EVP_PKEY_free);
  EXPECT_THAT(error_of({{"keys", {rsa_jwk(rsa_, "a"), rsa_jwk(small.get(), "b")}}}),
              HasSubstr("keys[1]: not a valid RSA public key of at least 2048 bits"));

  json off_curve = ec_jwk(ec_, "c");
  off_curve["y"] = base64url(std::string(31, '\0') + "\x01");
  EXPECT_THAT(error_of({{"keys", {off_curve}}}), HasSubstr("keys[0]: not a valid P-256"));

  json no_modulus = rsa_jwk(rsa_, "d");
  no_modulus.erase("n");
  EXPECT_THAT(error_of({{"keys", {no_modulus}}}), HasSubstr("needs base64url \"n\" and \"e\""));

  json mismatch = ec_jwk(ec_, "e");
  mismatch["alg"] = "RS256";
  EXPECT_THAT(error_of({{"keys", {mismatch}}}), HasSubstr("\"alg\" does not match"));
}

TEST_F(JwtTest, BearerAuthenticatorAcceptsJwtsAndStaticTokens) {
  const std::string static_token = "staticTokenWithoutDots";
  Credential credential;
  credential.name = "okta";
  credential.token_sha256 = crypto::sha256_hex(static_token);
  const BearerAuthenticator authenticator({credential}, verifier());

  const auto by_static = authenticator.authenticate("Bearer " + static_token);
  ASSERT_EQ(by_static.outcome, AuthOutcome::ok);
  EXPECT_EQ(by_static.principal->actor.id, "okta");

  const auto ok = authenticator.authenticate("Bearer " + rs256(valid_claims()));
  ASSERT_EQ(ok.outcome, AuthOutcome::ok) << ok.reason;
  EXPECT_EQ(ok.principal->actor.id, "acme-entra");

  const std::string expired = rs256(with(valid_claims(), "exp", kNow - 3600));
  const auto rejected = authenticator.authenticate("bearer " + expired);
  EXPECT_EQ(rejected.outcome, AuthOutcome::invalid);
  EXPECT_EQ(rejected.detail, "token expired");
  EXPECT_THAT(rejected.reason, HasSubstr("acme-entra"));
  EXPECT_THAT(rejected.reason, Not(HasSubstr(expired.substr(0, 20))));

  const auto unknown = authenticator.authenticate("Bearer otherStaticToken");
  EXPECT_EQ(unknown.outcome, AuthOutcome::invalid);
  EXPECT_TRUE(unknown.detail.empty());
}

TEST_F(JwtTest, StaticTokenShapedLikeAJwtStillMatchesItsCredential) {
  // Entra allows pasting an access token as the Secret Token; it is then a static credential.
  const std::string pasted = rs256(with(valid_claims(), "exp", kNow - 3600));
  Credential credential;
  credential.name = "pasted";
  credential.token_sha256 = crypto::sha256_hex(pasted);
  const BearerAuthenticator authenticator({credential}, verifier());
  const auto result = authenticator.authenticate("Bearer " + pasted);
  ASSERT_EQ(result.outcome, AuthOutcome::ok);
  EXPECT_EQ(result.principal->actor.id, "pasted");

  // Without JWT issuers a token of that shape is only ever a static one.
  const BearerAuthenticator static_only({}, JwtVerifier());
  const auto rejected = static_only.authenticate("Bearer " + rs256(valid_claims()));
  EXPECT_EQ(rejected.outcome, AuthOutcome::invalid);
  EXPECT_TRUE(rejected.detail.empty());
}

}  // namespace
}  // namespace idbridge::scim

namespace idbridge::scim {
namespace {

TEST_F(JwtTest, AnAudienceArrayMatchingTwoEntriesOfOneIssuerIsRefused) {
  JwtIssuer first;
  first.name = "acme-app";
  first.issuer = "https://idp.example.com";
  first.audience = "app-acme";
  first.keys = parse_jwks(jwks());
  first.tenant = core::TenantId("acme");
  JwtIssuer second = first;
  second.name = "globex-app";
  second.audience = "app-globex";
  second.tenant = core::TenantId("globex");
  const JwtVerifier both({first, second},
                         [] { return core::Timestamp(std::chrono::seconds(kNow)); });
  json claims = valid_claims();
  claims["iss"] = "https://idp.example.com";
  claims["aud"] = {"app-acme", "app-globex"};
  const auto ambiguous = both.verify(rs256(claims));
  EXPECT_FALSE(ambiguous.principal) << "no tenant is picked by config order";
  EXPECT_EQ(ambiguous.failure, JwtFailure::audience_not_accepted);
  claims["aud"] = "app-globex";
  const auto single = both.verify(rs256(claims));
  ASSERT_TRUE(single.principal) << single.reason;
  EXPECT_EQ(single.principal->tenant_scope, core::TenantId("globex"));
}

}  // namespace
}  // namespace idbridge::scim
