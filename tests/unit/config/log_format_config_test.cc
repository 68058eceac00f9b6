// log_format in [client] and [server]: "text" (the default) or "json".
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/decoders.h"

namespace mx {
namespace {

using namespace config_test;

const std::string kClient = kClientHead + R"(
[socks5]
listen = ["127.0.0.1:1080"]
)";

TEST(LogFormat, ParsesAndPrintsEachFormat) {
  for (LogFormat format : {LogFormat::Text, LogFormat::Json}) {
    EXPECT_EQ(parse_log_format(to_string(format)), format);
  }
  EXPECT_EQ(to_string(LogFormat::Json), "json");
  EXPECT_FALSE(parse_log_format("JSON"));
  EXPECT_FALSE(parse_log_format("logfmt"));
  EXPECT_FALSE(parse_log_format(""));
}

TEST(LogFormat, DecoderNamesTheChoices) {
  std::string why;
  EXPECT_EQ(decode::log_format(toml::value<std::string>("json"), why), LogFormat::Json);
  EXPECT_FALSE(decode::log_format(toml::value<std::string>("syslog"), why));
  EXPECT_EQ(why, R"(expected "text" or "json", got "syslog")");
  EXPECT_FALSE(decode::log_format(toml::value<int64_t>(1), why));
  EXPECT_EQ(why, "expected a string, got an integer");
}

TEST(LogFormat, DefaultsToTextInBothPrograms) {
  auto server = parse_server(kServerHead + kAcmeTenant);
  ASSERT_TRUE(server.ok()) << server.errors[0];
  EXPECT_EQ(server.config->server.log_format, LogFormat::Text);
  auto client = parse_client(kClient);
  ASSERT_TRUE(client.ok()) << client.errors[0];
  EXPECT_EQ(client.config->client.log_format, LogFormat::Text);
}

TEST(LogFormat, JsonInBothPrograms) {
  auto server = parse_server(edit_text(kServerHead, "key = \"server.key\"",
                                       "key = \"server.key\"\nlog_format = \"json\"") +
                             kAcmeTenant);
  ASSERT_TRUE(server.ok()) << server.errors[0];
  EXPECT_EQ(server.config->server.log_format, LogFormat::Json);
  auto client = parse_client(
      edit_text(kClient, "key = \"client.key\"", "key = \"client.key\"\nlog_format = \"json\""));
  ASSERT_TRUE(client.ok()) << client.errors[0];
  EXPECT_EQ(client.config->client.log_format, LogFormat::Json);
}

TEST(LogFormat, UnknownValueIsRefusedWithFileKeyAndWhy) {
  EXPECT_EQ(server_errors(edit_text(kServerHead, "key = \"server.key\"",
                                    "key = \"server.key\"\nlog_format = \"xml\"") +
                          kAcmeTenant),
            (Errors{R"(server.toml: server.log_format: expected "text" or "json", got "xml")"}));
  EXPECT_EQ(client_errors(edit_text(kClient, "key = \"client.key\"",
                                    "key = \"client.key\"\nlog_format = true")),
            (Errors{"client.toml: client.log_format: expected a string, got a boolean"}));
}

}  // namespace
}  // namespace mx
