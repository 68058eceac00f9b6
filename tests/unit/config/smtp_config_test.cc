// [smtp] in server.toml and a tenant's on_suspect: the defaults, every key,
// and the errors in the FILE: KEY: WHY form.
#include "mxegress/config/smtp_config.h"

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace mx {
namespace {

using namespace config_test;
using namespace std::chrono_literals;

const std::string kServer = kServerHead + kAcmeTenant;

TEST(SmtpConfig, AbsentMeansObservePort25WithTheDefaults) {
  auto server = parse_server(kServer);
  ASSERT_TRUE(server.ok()) << server.errors[0];
  const SmtpConfig& smtp = server.config->smtp;
  EXPECT_TRUE(smtp.observe);
  EXPECT_EQ(smtp.ports, (std::vector<uint16_t>{25}));
  EXPECT_TRUE(smtp.providers.empty());
  EXPECT_EQ(smtp.window, 1h);
  EXPECT_EQ(smtp.suspect_min_sessions, 5u);
  EXPECT_EQ(smtp.suspect_percent, 50u);
  EXPECT_EQ(smtp.cooldown, 30min);
  EXPECT_TRUE(smtp.observes(25));
  EXPECT_FALSE(smtp.observes(587));
  EXPECT_EQ(server.config->tenants[0].on_suspect, ServerConfig::OnSuspect::Report);
}

TEST(SmtpConfig, EveryKey) {
  auto server = parse_server(kServer + R"(on_suspect = "avoid"
[smtp]
observe = true
ports = [25, 587]
window = "2h"
suspect_min_sessions = 3
suspect_percent = 80
cooldown = "10m"
providers = { "Hornetsecurity.com" = "hornetsecurity", "mx.example.net" = "example" }
)");
  ASSERT_TRUE(server.ok()) << server.errors[0];
  const SmtpConfig& smtp = server.config->smtp;
  EXPECT_EQ(smtp.ports, (std::vector<uint16_t>{25, 587}));
  EXPECT_TRUE(smtp.observes(587));
  EXPECT_EQ(smtp.window, 2h);
  EXPECT_EQ(smtp.suspect_min_sessions, 3u);
  EXPECT_EQ(smtp.suspect_percent, 80u);
  EXPECT_EQ(smtp.cooldown, 10min);
  EXPECT_EQ(smtp.providers, (std::map<std::string, std::string>{
                                {"hornetsecurity.com", "hornetsecurity"},
                                {"mx.example.net", "example"}}));
  EXPECT_EQ(server.config->tenants[0].on_suspect, ServerConfig::OnSuspect::Avoid);
}

TEST(SmtpConfig, ObserveOffObservesNothing) {
  auto server = parse_server(kServer + "[smtp]\nobserve = false\n");
  ASSERT_TRUE(server.ok()) << server.errors[0];
  EXPECT_FALSE(server.config->smtp.observes(25));
}

TEST(SmtpConfig, ErrorsNameTheKeyAndSayWhy) {
  EXPECT_EQ(server_errors(kServer + "on_suspect = \"block\"\n"),
            (Errors{R"(server.toml: tenant[0].on_suspect: expected "report" or "avoid", got "block")"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nsuspect_percent = 0\n"),
            (Errors{"server.toml: smtp.suspect_percent: expected a percentage from 1 to 100, got 0"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nsuspect_percent = 101\n"),
            (Errors{"server.toml: smtp.suspect_percent: expected a percentage from 1 to 100, got 101"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nsuspect_min_sessions = 0\n"),
            (Errors{"server.toml: smtp.suspect_min_sessions: expected 1 or more"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nproviders = { \"example\" = \"x\" }\n"),
            (Errors{R"(server.toml: smtp.providers: "example" is not a domain name (such as "example.org"))"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nproviders = { \"example.net\" = \"Big Co\" }\n"),
            (Errors{R"(server.toml: smtp.providers: "example.net": expected a provider name )"
                    R"((1 to 64 of a-z 0-9 . _ -))"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nproviders = [\"example.net\"]\n"),
            (Errors{R"(server.toml: smtp.providers: expected a table of "domain" = "provider" )"
                    R"((providers = { "example.net" = "example" }))"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nports = [25, 25]\n"),
            (Errors{"server.toml: smtp.ports[1]: repeats smtp.ports[0]"}));
  EXPECT_EQ(server_errors(kServer + "[smtp]\nobserv = true\n"),
            (Errors{"server.toml: smtp.observ: unknown key (did you mean \"observe\"?)"}));
}

}  // namespace
}  // namespace mx
