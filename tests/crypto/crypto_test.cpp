// Password hashes verify only the right password; tokens are random; comparison is exact.
#include "idbridge/crypto/crypto.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
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

}  // namespace
}  // namespace idbridge::crypto
