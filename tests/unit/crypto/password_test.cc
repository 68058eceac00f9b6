#include "mxegress/crypto/password.h"

#include <gtest/gtest.h>

#include <sstream>

namespace mx {
namespace {

TEST(PasswordTest, HashIsArgon2idWithInteractiveLimits) {
  const std::string hash = hash_password("correct horse");
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=65536,t=2,p=1$", 0), 0u) << hash;
  EXPECT_TRUE(verify_password(hash, "correct horse"));
  EXPECT_FALSE(verify_password(hash, "correct horsE"));
  EXPECT_FALSE(verify_password(hash, ""));
  EXPECT_NE(hash_password("correct horse"), hash);  // salted
}

TEST(PasswordTest, MalformedHashesNeverVerify) {
  EXPECT_FALSE(verify_password("", ""));
  EXPECT_FALSE(verify_password("plaintext", "plaintext"));
  EXPECT_FALSE(verify_password("$argon2id$v=19$m=65536,t=2,p=1$", ""));
}

TEST(HashPasswordCommandTest, PrintsAVerifiableHash) {
  std::istringstream in("s3cret pass\r\nsecond line ignored\n");
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_hash_password(in, out, err), 0);
  EXPECT_EQ(err.str(), "");
  const std::string printed = out.str();
  ASSERT_FALSE(printed.empty());
  EXPECT_EQ(printed.back(), '\n');
  EXPECT_EQ(printed.find('\n'), printed.size() - 1);
  EXPECT_TRUE(verify_password(printed.substr(0, printed.size() - 1), "s3cret pass"));
}

TEST(HashPasswordCommandTest, AcceptsALastLineWithoutNewline) {
  std::istringstream in("s3cret");
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_hash_password(in, out, err), 0);
  EXPECT_TRUE(verify_password(out.str().substr(0, out.str().size() - 1), "s3cret"));
}

TEST(HashPasswordCommandTest, RefusesEmptyMissingAndOverlongPasswords) {
  for (const std::string& input :
       {std::string("\n"), std::string("\r\n"), std::string(), std::string(256, 'x') + "\n"}) {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_hash_password(in, out, err), 1) << input.size();
    EXPECT_EQ(out.str(), "");
    EXPECT_FALSE(err.str().empty());
  }
}

}  // namespace
}  // namespace mx
