#include "mxegress/config/config_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "mxegress/config/client_config.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mx-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const fs::path& name, std::string_view text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  fs::path dir_;
};

constexpr std::string_view kServer = R"(
[server]
listen = ["127.0.0.1:8443"]
cert = "server.crt"
key = "/abs/server.key"
[[tenant]]
name = "acme"
source = "any"
keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="]
)";

TEST_F(ConfigFileTest, RelativeFilesResolveAgainstTheConfigDirectory) {
  const fs::path path = write("etc/server.toml", kServer);
  auto result = load_server_config(path);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->server.cert_file, dir_ / "etc" / "server.crt");
  EXPECT_EQ(result.config->server.key_file, "/abs/server.key");
}

TEST_F(ConfigFileTest, BaseDirectoryIsAbsolute) {
  EXPECT_TRUE(config_base_dir("server.toml").is_absolute());
  EXPECT_EQ(config_base_dir("/etc/mxegress/server.toml"), "/etc/mxegress");
}

TEST_F(ConfigFileTest, ErrorsNameTheFileAsGiven) {
  const fs::path path = write("client.toml", "[client]\nkey = 1\n");
  auto result = load_client_config(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors.front(),
            path.string() + ": client.key: expected a string, got an integer");
}

TEST_F(ConfigFileTest, MissingFileIsAnError) {
  const fs::path path = dir_ / "absent.toml";
  auto result = load_server_config(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors,
            (std::vector<std::string>{path.string() + ": cannot read: No such file or directory"}));
}

TEST_F(ConfigFileTest, DirectoryIsAnError) {
  auto result = load_client_config(dir_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors,
            (std::vector<std::string>{dir_.string() + ": cannot read: not a regular file"}));
}

TEST_F(ConfigFileTest, UnreadableFileIsAnError) {
  const fs::path path = write("secret.toml", kServer);
  fs::permissions(path, fs::perms::none);
  if (std::ifstream(path).good()) GTEST_SKIP() << "running as root: permissions are not enforced";
  auto result = load_server_config(path);
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0], path.string() + ": cannot read: Permission denied");
}

TEST_F(ConfigFileTest, HugeFileIsAnError) {
  const fs::path path = write("huge.toml", std::string((1 << 20) + 1, '#'));
  auto result = load_server_config(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors,
            (std::vector<std::string>{path.string() + ": cannot read: larger than 1 MiB"}));
}

}  // namespace
}  // namespace mx
