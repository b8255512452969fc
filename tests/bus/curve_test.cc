// CURVE keys and secret key files: generation, validation, the file's mode
// and format checks (every refusal names the path and the fix).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "bus/curve.h"

namespace bp::bus {
namespace {

class CurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bp-curve-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)!std::system(("rm -rf " + dir_).c_str()); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  static void WriteText(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }
  std::string dir_;
};

TEST_F(CurveTest, CurveIsAvailable) { EXPECT_TRUE(CurveAvailable()); }

TEST_F(CurveTest, GeneratedPairIsValidAndBelongsTogether) {
  auto pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(pair->public_z85.size(), kCurveKeyZ85Chars);
  EXPECT_TRUE(IsValidCurveKey(pair->public_z85));
  EXPECT_TRUE(IsValidCurveKey(pair->secret_z85));
  auto derived = CurvePublicFromSecret(pair->secret_z85);
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(derived.value(), pair->public_z85);
  EXPECT_NE(GenerateCurveKeyPair()->public_z85, pair->public_z85);
}

TEST_F(CurveTest, ValidationRefusesWrongLengthAndAlphabet) {
  std::string key = GenerateCurveKeyPair()->public_z85;
  EXPECT_FALSE(IsValidCurveKey(""));
  EXPECT_FALSE(IsValidCurveKey(key.substr(1)));
  EXPECT_FALSE(IsValidCurveKey(key + "0"));
  std::string bad = key;
  bad[3] = '"';  // not in the Z85 alphabet
  EXPECT_FALSE(IsValidCurveKey(bad));
  bad[3] = '~';
  EXPECT_FALSE(IsValidCurveKey(bad));
}

TEST_F(CurveTest, BinaryRoundTrip) {
  std::string key = GenerateCurveKeyPair()->public_z85;
  auto binary = CurveKeyToBinary(key);
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->size(), kCurveKeyBytes);
  EXPECT_EQ(CurveKeyToZ85(binary.value()), key);
  EXPECT_EQ(CurveKeyAnyToBinary(binary.value()).value(), binary.value());
  EXPECT_EQ(CurveKeyAnyToBinary(key).value(), binary.value());
  EXPECT_FALSE(CurveKeyAnyToBinary("short").ok());
}

TEST_F(CurveTest, WriteThenReadKeepsThePairWithMode0600) {
  auto pair = GenerateCurveKeyPair().value();
  std::string path = Path("slot1.key");
  ASSERT_TRUE(WriteSecretKeyFile(path, pair).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto read = ReadSecretKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->public_z85, pair.public_z85);
  EXPECT_EQ(read->secret_z85, pair.secret_z85);
}

TEST_F(CurveTest, WriteRefusesToOverwriteUnlessAsked) {
  std::string path = Path("slot1.key");
  auto first = GenerateCurveKeyPair().value();
  auto second = GenerateCurveKeyPair().value();
  ASSERT_TRUE(WriteSecretKeyFile(path, first).ok());
  Status s = WriteSecretKeyFile(path, second);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("already exists"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadSecretKeyFile(path)->public_z85, first.public_z85);
  ASSERT_TRUE(WriteSecretKeyFile(path, second, /*replace=*/true).ok());
  EXPECT_EQ(ReadSecretKeyFile(path)->public_z85, second.public_z85);
}

TEST_F(CurveTest, WriteRefusesAMismatchedPair) {
  CurveKeyPair pair{GenerateCurveKeyPair()->public_z85, GenerateCurveKeyPair()->secret_z85};
  Status s = WriteSecretKeyFile(Path("x.key"), pair);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(access(Path("x.key").c_str(), F_OK), -1);
}

TEST_F(CurveTest, WriteIntoAMissingDirectoryFails) {
  Status s = WriteSecretKeyFile(Path("no/such/dir.key"), GenerateCurveKeyPair().value());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir.key"), std::string::npos) << s.ToString();
}

TEST_F(CurveTest, ReadRefusesGroupOrOtherAccess) {
  std::string path = Path("slot1.key");
  ASSERT_TRUE(WriteSecretKeyFile(path, GenerateCurveKeyPair().value()).ok());
  for (mode_t mode : {0640, 0604, 0620, 0602, 0644}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    auto read = ReadSecretKeyFile(path);
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_EQ(read.status().code(), Status::Code::kFailedPrecondition);
    const std::string& m = read.status().message();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("chmod 600 " + path), std::string::npos) << m;
    char mode_text[8];
    std::snprintf(mode_text, sizeof(mode_text), "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(m.find(mode_text), std::string::npos) << m;
  }
  ASSERT_EQ(chmod(path.c_str(), 0400), 0);  // owner-only read is fine
  EXPECT_TRUE(ReadSecretKeyFile(path).ok());
}

TEST_F(CurveTest, ReadRefusesMissingFile) {
  auto read = ReadSecretKeyFile(Path("absent.key"));
  EXPECT_EQ(read.status().code(), Status::Code::kNotFound);
  EXPECT_NE(read.status().message().find("absent.key"), std::string::npos);
}

TEST_F(CurveTest, ReadRefusesMalformedFiles) {
  auto pair = GenerateCurveKeyPair().value();
  auto other = GenerateCurveKeyPair().value();
  const std::string pub = "public = \"" + pair.public_z85 + "\"\n";
  const std::string sec = "secret = \"" + pair.secret_z85 + "\"\n";
  struct Case {
    std::string text;
    std::string needle;
  } cases[] = {
      {"", "needs both"},
      {pub, "needs both"},
      {"garbage\n" + pub + sec, "line 1"},
      {pub + "secret = " + pair.secret_z85 + "\n", "quoted"},
      {pub + sec + "extra = \"x\"\n", "unknown name"},
      {pub + "secret = \"tooshort\"\n", "not a CURVE key"},
      {"public = \"" + other.public_z85 + "\"\n" + sec, "does not belong"},
      {std::string(5000, '#'), "4 KiB"},
  };
  for (const Case& c : cases) {
    std::string path = Path("bad.key");
    WriteText(path, c.text, 0600);
    auto read = ReadSecretKeyFile(path);
    ASSERT_FALSE(read.ok()) << c.text;
    EXPECT_EQ(read.status().code(), Status::Code::kInvalidArgument) << read.status().ToString();
    EXPECT_NE(read.status().message().find(c.needle), std::string::npos)
        << read.status().ToString();
    EXPECT_NE(read.status().message().find(path), std::string::npos);
  }
}

TEST_F(CurveTest, ReadAcceptsCommentsAndBlankLines) {
  auto pair = GenerateCurveKeyPair().value();
  std::string path = Path("ok.key");
  WriteText(path,
            "# comment\n\n  secret = \"" + pair.secret_z85 + "\"  \r\npublic=\"" +
                pair.public_z85 + "\"\n",
            0600);
  auto read = ReadSecretKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->public_z85, pair.public_z85);
}

TEST_F(CurveTest, ReadRefusesASymlink) {
  std::string path = Path("real.key");
  ASSERT_TRUE(WriteSecretKeyFile(path, GenerateCurveKeyPair().value()).ok());
  ASSERT_EQ(symlink(path.c_str(), Path("link.key").c_str()), 0);
  EXPECT_FALSE(ReadSecretKeyFile(Path("link.key")).ok());
}

}  // namespace
}  // namespace bp::bus
