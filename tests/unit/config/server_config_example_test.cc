// config/server.toml is the documented multi-tenant example: it must parse,
// show the tenant keys, and its commented [socks5] section must parse too
// once uncommented.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using config_test::kConfigDir;

std::string read_example() { return config_test::read_file_text(kConfigDir / "server.toml"); }

TEST(ServerConfigExample, IsMultiTenant) {
  auto result = load_server_config(kConfigDir / "server.toml");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.server.drain_timeout, std::chrono::seconds(30));
  ASSERT_EQ(config.tenants.size(), 2u);

  const ServerConfig::Tenant& acme = config.tenants[0];
  EXPECT_EQ(acme.name, "acme");
  EXPECT_TRUE(acme.enabled);
  EXPECT_EQ(acme.source, (std::vector{*SocketAddress::parse_ip("203.0.113.10", 0),
                                      *SocketAddress::parse_ip("203.0.113.11", 0),
                                      *SocketAddress::parse_ip("2001:db8::10", 0)}));
  EXPECT_EQ(acme.source_selection, ServerConfig::SourceSelection::LeastUsed);
  EXPECT_EQ(acme.policy.ports, (std::vector<uint16_t>{25, 587}));
  EXPECT_EQ(acme.policy.allow, config.policy.allow);
  EXPECT_EQ(acme.policy.deny, config.policy.deny);
  EXPECT_EQ(acme.limits.max_connections, 200u);
  EXPECT_EQ(acme.limits.connections_per_minute, 600u);
  EXPECT_EQ(acme.limits.max_per_destination, 20u);
  EXPECT_EQ(acme.limits.bytes_per_day, 50ull << 30);
  EXPECT_EQ(acme.tunnel_from,
            (std::vector{*Cidr::parse("198.51.100.0/24"), *Cidr::parse("2001:db8:100::/48")}));
  EXPECT_EQ(acme.domain, "example.com");
  EXPECT_EQ(acme.on_suspect, ServerConfig::OnSuspect::Avoid);
  EXPECT_EQ(config.smtp, SmtpConfig{});  // [smtp] is commented out
  EXPECT_TRUE(acme.warmup.empty());  // shown commented out: it names an address of the example

  const ServerConfig::Tenant& other = config.tenants[1];
  EXPECT_EQ(other.name, "example.org");
  EXPECT_TRUE(other.source.empty());
  EXPECT_EQ(other.policy.ports, config.policy.ports);
  EXPECT_EQ(other.limits.max_connections, 0u);
  EXPECT_TRUE(other.tunnel_from.empty());
  EXPECT_EQ(other.domain, "");

  // [resolver] spells out the defaults, servers left to /etc/resolv.conf.
  EXPECT_EQ(config.resolver, ServerResolverConfig{});
  EXPECT_NE(read_example().find("\n# servers = [\"127.0.0.53\", \"[::1]:53\"]\n"),
            std::string::npos);

  EXPECT_EQ(config.trail.file, "/var/log/mxegress/trail.jsonl");
  EXPECT_FALSE(config.trail.to_stdout);
  // [socks5] is there, commented out.
  EXPECT_TRUE(config.socks5.listen.empty());
  const std::string text = read_example();
  EXPECT_NE(text.find("\n# [socks5]\n"), std::string::npos);
  EXPECT_NE(text.find("\n# [[socks5.user]]\n"), std::string::npos);
}

// Removing one "# " (or a lone "#") from each line from "# [socks5]" on
// gives a working listener.
TEST(ServerConfigExample, CommentedSocks5SectionParsesWhenUncommented) {
  std::string text = read_example();
  const size_t start = text.find("\n# [socks5]\n");
  ASSERT_NE(start, std::string::npos);
  std::istringstream tail(text.substr(start + 1));
  text.resize(start + 1);
  for (std::string line; std::getline(tail, line);) {
    if (line.starts_with("# ")) {
      line.erase(0, 2);
    } else if (line == "#") {
      line.clear();
    }
    text += line + "\n";
  }
  auto result = parse_server_config(text, "server.toml", kConfigDir);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig::Socks5& socks5 = result.config->socks5;
  EXPECT_EQ(socks5.listen, (std::vector{*SocketAddress::parse("10.0.0.5:1080")}));
  ASSERT_EQ(socks5.users.size(), 1u);
  EXPECT_EQ(socks5.users[0].name, "exim");
  EXPECT_EQ(socks5.users[0].tenant, "acme");
  EXPECT_EQ(socks5.users[0].from, (std::vector{*Cidr::parse("10.0.0.0/24")}));
  EXPECT_TRUE(socks5.users[0].password_hash.starts_with("$argon2id$"));
}

// The section whose first line is `# HEADER`, uncommented up to the blank
// line after it ("# " removed from each line), in the example's text.
std::string uncomment_section(const std::string& header) {
  std::string text = read_example();
  const size_t start = text.find("\n# " + header + "\n");
  if (start == std::string::npos) return {};
  const size_t end = text.find("\n\n", start);
  if (end == std::string::npos) return {};
  std::istringstream section(text.substr(start + 1, end - start));
  std::string uncommented;
  for (std::string line; std::getline(section, line);) {
    if (line.starts_with("# ")) line.erase(0, 2);
    uncommented += line + "\n";
  }
  return text.substr(0, start + 1) + uncommented + text.substr(end + 1);
}

TEST(ServerConfigExample, CommentedWarmupParsesWhenUncommented) {
  const std::string text = uncomment_section("[[tenant.warmup]]");
  ASSERT_FALSE(text.empty());
  auto result = parse_server_config(text, "server.toml", kConfigDir);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig::Tenant& acme = result.config->tenants[0];
  ASSERT_EQ(acme.warmup.size(), 1u);
  EXPECT_EQ(acme.warmup[0].source, std::vector{*SocketAddress::parse_ip("203.0.113.11", 0)});
  EXPECT_EQ(acme.warmup[0].start_day, 20788);  // 2026-12-01
  EXPECT_EQ(acme.warmup[0].schedule, (std::vector<Warmup::Step>{{1, 20}, {3, 100}, {7, 500}}));
}

TEST(ServerConfigExample, CommentedSmtpSectionParsesToTheDefaultsItShows) {
  const std::string text = uncomment_section("[smtp]");
  ASSERT_FALSE(text.empty());
  auto result = parse_server_config(text, "server.toml", kConfigDir);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  SmtpConfig expected;
  expected.providers = {{"examplehost.net", "examplehost"}};
  EXPECT_EQ(result.config->smtp, expected);
}

// The commented [fleet] section, uncommented up to the blank line after it,
// parses with the values it shows.
TEST(ServerConfigExample, CommentedFleetSectionParsesWhenUncommented) {
  const std::string text = uncomment_section("[fleet]");
  ASSERT_FALSE(text.empty());
  auto result = parse_server_config(text, "server.toml", kConfigDir);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  ASSERT_TRUE(result.config->fleet);
  EXPECT_EQ(result.config->fleet->redis.to_string(), "unix:/run/redis/redis.sock");
  EXPECT_EQ(result.config->fleet->server_id, "egress-1");
  EXPECT_EQ(result.config->fleet->lease_time, std::chrono::seconds(30));
}

TEST(ServerConfigExample, FleetIsOffInTheExample) {
  auto result = parse_server_config(read_example(), "server.toml", kConfigDir);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_FALSE(result.config->fleet);
}

}  // namespace
}  // namespace mx
