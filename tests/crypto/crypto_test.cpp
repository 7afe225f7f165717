// Password hashes verify only the right password; tokens are random; comparison is exact.
#include "idbridge/crypto/crypto.hpp"

#include "idbridge/core/sync/mapping.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>

namespace idbridge::crypto {
namespace {

TEST(Crypto, PasswordHashVerifiesOnlyTheRightPassword) {
  ScryptPasswordHasher hasher(10);
  const std::string hash = hasher.hash("Correct horse 1");
  EXPECT_TRUE(verify_password("Correct horse 1", hash));
  EXPECT_FALSE(verify_password("Correct horse 2", hash));
  EXPECT_EQ(hash.find("Correct"), std::string::npos);
  EXPECT_NE(hasher.hash("Correct horse 1"), hash) << "salt must differ per hash";
}

TEST(Crypto, TheHasherPortVerifiesItsOwnHashes) {
  ScryptPasswordHasher hasher(10);
  core::PasswordHasher& port = hasher;
  const std::string hash = port.hash("Correct horse 1");
  EXPECT_TRUE(port.verify("Correct horse 1", hash));
  EXPECT_FALSE(port.verify("Correct horse 2", hash));
  EXPECT_FALSE(port.verify("Correct horse 1", "md5$abc"));
}

TEST(Crypto, MalformedHashNeverVerifies) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "scrypt$99$8$1$salt$hash"));
  EXPECT_FALSE(verify_password("x", "md5$abc"));
}

TEST(Crypto, Sha256MatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, Sha256InPiecesIsTheDigestOfTheWhole) {
  Sha256 pieces;
  pieces.update("a");
  pieces.update("");
  pieces.update("bc");
  EXPECT_EQ(pieces.hex(), sha256_hex("abc"));
  EXPECT_THROW(pieces.update("more"), std::runtime_error) << "a finished digest takes no more";
  Sha256 empty;
  EXPECT_EQ(empty.hex(), sha256_hex(""));
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(Crypto, RandomTokensDiffer) {
  const auto a = random_token();
  EXPECT_EQ(a.size(), 43U);
  EXPECT_NE(a, random_token());
}

TEST(AesGcmSealer, SealsAndOpensAndRefusesTamperingOrAnotherKey) {
  AesGcmSealer sealer(std::string(32, 'k'));
  const std::string secret = "N3w-Passw0rd!";
  const std::string sealed = sealer.seal(secret);
  EXPECT_EQ(sealed.find(secret), std::string::npos);
  EXPECT_NE(sealer.seal(secret), sealed) << "a fresh nonce per seal";
  EXPECT_EQ(sealer.open(sealed), secret);
  EXPECT_EQ(sealer.open(sealer.seal("")), "");

  std::string tampered = sealed;
  tampered[tampered.size() / 2] ^= 0x01;
  EXPECT_EQ(sealer.open(tampered), std::nullopt);
  EXPECT_EQ(sealer.open(sealed.substr(0, sealed.size() - 1)), std::nullopt);
  EXPECT_EQ(sealer.open("v1"), std::nullopt);
  EXPECT_EQ(AesGcmSealer(std::string(32, 'x')).open(sealed), std::nullopt);
  EXPECT_THROW(AesGcmSealer(std::string(16, 'k')), std::invalid_argument);
}

TEST(AesGcmSealer, KeyFileIsCreatedPrivateOnceAndReused) {
  const std::string path =
      ::testing::TempDir() + "idbridge-sealer-" + std::to_string(::getpid()) + ".key";
  std::remove(path.c_str());
  auto first = AesGcmSealer::from_key_file(path);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  EXPECT_EQ(info.st_size, 32);
  const std::string sealed = first.seal("secret");
  EXPECT_EQ(AesGcmSealer::from_key_file(path).open(sealed), "secret") << "the same key again";
  std::remove(path.c_str());
}

TEST(Crypto, Sha1MatchesTheKnownAnswers) {
  // FIPS 180 examples.
  const auto hex = [](std::string_view text) {
    unsigned char digest[20];
    sha1(text.data(), text.size(), digest);
    std::string out;
    for (const unsigned char byte : digest) {
      constexpr char digits[] = "0123456789abcdef";
      out += digits[byte >> 4];
      out += digits[byte & 0x0f];
    }
    return out;
  };
  EXPECT_EQ(hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

// The daemon installs crypto::sha1 for the mapping digests: every digest stored by a build
// without it (Boost's SHA-1) must come out the same, or every user would be compared again.
TEST(Crypto, MappingDigestsAreTheSameWithOpenSslsSha1AsWithBoosts) {
  std::mt19937 random(20261124);
  std::uniform_int_distribution<int> length(0, 300);
  std::uniform_int_distribution<int> byte(0, 255);
  const auto text = [&] {
    std::string out(static_cast<std::size_t>(length(random)), '\0');
    for (auto& c : out) {
      c = static_cast<char>(byte(random));
    }
    return out;
  };
  std::vector<core::sync::DesiredUser> users(300);
  for (auto& desired : users) {
    desired.user.user_name = text();
    desired.user.title = text();
    desired.user.display_name = text();
    desired.profiles = {text()};
  }
  std::vector<std::string> with_boost;
  core::sync::use_sha1(nullptr);
  for (const auto& desired : users) {
    with_boost.push_back(core::sync::mapped_digest(desired, "fingerprint"));
  }
  core::sync::use_sha1(&sha1);
  for (std::size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(core::sync::mapped_digest(users[i], "fingerprint"), with_boost[i]) << i;
  }
  core::sync::use_sha1(nullptr);
  EXPECT_EQ(with_boost[0].size(), 32u);
  EXPECT_NE(with_boost[0], with_boost[1]);
}

}  // namespace
}  // namespace idbridge::crypto
