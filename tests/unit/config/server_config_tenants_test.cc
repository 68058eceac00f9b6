// [[tenant]] beyond name and keys (sources, effective destination rules,
// limits, tunnel_from, enabled), [server] drain_timeout and [trail].
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;
using Limits = ServerConfig::Limits;
using SourceSelection = ServerConfig::SourceSelection;
using std::chrono::milliseconds;

const std::string& kHead = kServerHead;

// One tenant; `extra` is appended to its table (a `source` of its own
// replaces kAcmeTenant's "any").
std::string with_tenant(std::string_view extra) {
  std::string tenant = kAcmeTenant;
  if (extra.find("source =") != std::string_view::npos) {
    tenant = edit_text(tenant, "source = \"any\"\n", "");
  }
  return kHead + tenant + std::string(extra) + "\n";
}

constexpr auto& parse = parse_server;
constexpr auto& errors = server_errors;

ServerConfig::Tenant tenant_of(std::string_view extra) {
  auto result = parse(with_tenant(extra));
  EXPECT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0]);
  if (!result.ok()) return {};
  return result.config->tenants.at(0);
}

std::vector<Cidr> cidrs(std::initializer_list<std::string_view> texts) {
  std::vector<Cidr> out;
  for (auto text : texts) out.push_back(*Cidr::parse(text));
  return out;
}

std::vector<SocketAddress> ips(std::initializer_list<std::string_view> texts) {
  std::vector<SocketAddress> out;
  for (auto text : texts) out.push_back(*SocketAddress::parse_ip(text, 0));
  return out;
}

bool operator==(const Limits& a, const Limits& b) {
  return a.max_connections == b.max_connections &&
         a.connections_per_minute == b.connections_per_minute &&
         a.max_per_destination == b.max_per_destination && a.bytes_per_day == b.bytes_per_day;
}

TEST(ServerConfigTenants, DefaultsOfTheNewKeys) {
  auto result = parse(with_tenant(""));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.server.drain_timeout, milliseconds(30'000));
  const ServerConfig::Tenant& tenant = config.tenants.at(0);
  EXPECT_TRUE(tenant.enabled);
  EXPECT_TRUE(tenant.source.empty());
  EXPECT_EQ(tenant.source_selection, SourceSelection::RoundRobin);
  EXPECT_EQ(tenant.policy.ports, (std::vector<uint16_t>{25}));
  EXPECT_TRUE(tenant.policy.allow.empty());
  EXPECT_TRUE(tenant.policy.deny.empty());
  EXPECT_TRUE(tenant.limits == (Limits{0, 0, 0, 0}));
  EXPECT_TRUE(tenant.tunnel_from.empty());
  EXPECT_TRUE(config.trail.file.empty());
  EXPECT_FALSE(config.trail.to_stdout);
  EXPECT_TRUE(config.socks5.listen.empty());
  EXPECT_TRUE(config.socks5.users.empty());
}

TEST(ServerConfigTenants, EveryNewKeyParsesToExactValues) {
  auto result = parse(R"(
[server]
listen = ["0.0.0.0:8443"]
cert = "server.crt"
key = "server.key"
drain_timeout = "2m"

[[tenant]]
name = "acme"
keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="]
enabled = true
source = ["203.0.113.10", "2001:db8::10", "203.0.113.11", "::ffff:198.51.100.7"]
source_selection = "least-used"
ports = [25, 587]
allow = ["192.0.2.0/24"]
deny = ["198.51.100.0/24"]
max_connections = 200
connections_per_minute = 600
max_per_destination = 20
bytes_per_day = "50GiB"
tunnel_from = ["198.51.100.0/24", "2001:db8:100::/48"]

[[tenant]]
name = "beta"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
enabled = false
source = ["2001:db8::20"]
source_selection = "round-robin"
max_connections = 4294967295
connections_per_minute = 0
max_per_destination = 1
bytes_per_day = 123456789

[trail]
file = "/var/log/mxegress/trail.jsonl"
stdout = true
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.server.drain_timeout, milliseconds(120'000));
  ASSERT_EQ(config.tenants.size(), 2u);

  const ServerConfig::Tenant& acme = config.tenants[0];
  EXPECT_TRUE(acme.enabled);
  // The IPv4-mapped address is kept as the IPv4 address it is.
  EXPECT_EQ(acme.source, ips({"203.0.113.10", "2001:db8::10", "203.0.113.11", "198.51.100.7"}));
  EXPECT_EQ(acme.source[3].family(), AF_INET);
  for (const SocketAddress& source : acme.source) EXPECT_EQ(source.port(), 0);
  EXPECT_EQ(acme.source_selection, SourceSelection::LeastUsed);
  EXPECT_EQ(acme.policy.ports, (std::vector<uint16_t>{25, 587}));
  EXPECT_EQ(acme.policy.allow, cidrs({"192.0.2.0/24"}));
  EXPECT_EQ(acme.policy.deny, cidrs({"198.51.100.0/24"}));
  EXPECT_EQ(acme.limits.max_connections, 200u);
  EXPECT_EQ(acme.limits.connections_per_minute, 600u);
  EXPECT_EQ(acme.limits.max_per_destination, 20u);
  EXPECT_EQ(acme.limits.bytes_per_day, 50ull * 1024 * 1024 * 1024);
  EXPECT_EQ(acme.tunnel_from, cidrs({"198.51.100.0/24", "2001:db8:100::/48"}));

  const ServerConfig::Tenant& beta = config.tenants[1];
  EXPECT_FALSE(beta.enabled);
  EXPECT_EQ(beta.source, ips({"2001:db8::20"}));
  EXPECT_EQ(beta.source_selection, SourceSelection::RoundRobin);
  EXPECT_TRUE(beta.limits == (Limits{4294967295u, 0, 1, 123456789}));
  EXPECT_TRUE(beta.tunnel_from.empty());

  EXPECT_EQ(config.trail.file, "/var/log/mxegress/trail.jsonl");
  EXPECT_TRUE(config.trail.to_stdout);
}

TEST(ServerConfigTenants, EmptyListsAreAllowed) {
  const ServerConfig::Tenant tenant = tenant_of("source = []\ntunnel_from = []");
  EXPECT_TRUE(tenant.source.empty());
  EXPECT_TRUE(tenant.tunnel_from.empty());
}

TEST(ServerConfigTenants, BytesPerDayTakesEachUnit) {
  const std::pair<std::string_view, uint64_t> table[] = {
      {"0", 0},
      {"1048576", 1'048'576},
      {"9223372036854775807", 9'223'372'036'854'775'807ull},
      {R"("0B")", 0},
      {R"("1B")", 1},
      {R"("1kB")", 1'000},
      {R"("1KB")", 1'000},
      {R"("2MB")", 2'000'000},
      {R"("3GB")", 3'000'000'000},
      {R"("4TB")", 4'000'000'000'000},
      {R"("1KiB")", 1'024},
      {R"("2MiB")", 2ull << 20},
      {R"("3GiB")", 3ull << 30},
      {R"("4TiB")", 4ull << 40},
      {R"("18446744073709551615B")", 18'446'744'073'709'551'615ull},
  };
  for (const auto& [value, bytes] : table) {
    EXPECT_EQ(tenant_of("bytes_per_day = " + std::string(value)).limits.bytes_per_day, bytes)
        << value;
  }
}

// Each of ports, allow and deny is the tenant's own when set, else [policy]'s,
// independently of the other two.
TEST(ServerConfigTenants, EffectivePolicyTakesEachListSeparately) {
  auto result = parse(kHead + R"(
[policy]
ports = [25, 465]
allow = ["127.0.0.0/8"]
deny = ["192.0.2.1"]

[[tenant]]
name = "inherits"
source = "any"
keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="]

[[tenant]]
name = "own-ports"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
ports = [587]

[[tenant]]
name = "own-allow"
source = "any"
keys = ["z9JLR1HE7L7ZLesNyAuf59RyYWIevQnYK2VMIfv95XY="]
allow = ["10.0.0.0/8", "fd00::/8"]

[[tenant]]
name = "own-deny"
source = "any"
keys = ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
deny = ["198.51.100.0/24"]

[[tenant]]
name = "own-empty"
source = "any"
keys = ["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="]
ports = []
allow = []
deny = []
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  const std::vector<uint16_t> global_ports = {25, 465};
  const std::vector<Cidr> global_allow = cidrs({"127.0.0.0/8"});
  const std::vector<Cidr> global_deny = cidrs({"192.0.2.1/32"});
  // [policy] itself stays as written.
  EXPECT_EQ(config.policy.ports, global_ports);
  EXPECT_EQ(config.policy.allow, global_allow);
  EXPECT_EQ(config.policy.deny, global_deny);
  ASSERT_EQ(config.tenants.size(), 5u);

  const ServerConfig::Policy& inherits = config.tenants[0].policy;
  EXPECT_EQ(inherits.ports, global_ports);
  EXPECT_EQ(inherits.allow, global_allow);
  EXPECT_EQ(inherits.deny, global_deny);

  const ServerConfig::Policy& own_ports = config.tenants[1].policy;
  EXPECT_EQ(own_ports.ports, (std::vector<uint16_t>{587}));
  EXPECT_EQ(own_ports.allow, global_allow);
  EXPECT_EQ(own_ports.deny, global_deny);

  const ServerConfig::Policy& own_allow = config.tenants[2].policy;
  EXPECT_EQ(own_allow.ports, global_ports);
  EXPECT_EQ(own_allow.allow, cidrs({"10.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(own_allow.deny, global_deny);

  const ServerConfig::Policy& own_deny = config.tenants[3].policy;
  EXPECT_EQ(own_deny.ports, global_ports);
  EXPECT_EQ(own_deny.allow, global_allow);
  EXPECT_EQ(own_deny.deny, cidrs({"198.51.100.0/24"}));

  const ServerConfig::Policy& own_empty = config.tenants[4].policy;
  EXPECT_TRUE(own_empty.ports.empty());
  EXPECT_TRUE(own_empty.allow.empty());
  EXPECT_TRUE(own_empty.deny.empty());
}

TEST(ServerConfigTenants, EffectivePolicyWithoutPolicySectionUsesBuiltInDefaults) {
  auto result = parse(with_tenant("allow = [\"127.0.0.1\"]") + R"(
[[tenant]]
name = "beta"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
ports = [2525]
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.tenants[0].policy.ports, (std::vector<uint16_t>{25}));
  EXPECT_EQ(config.tenants[0].policy.allow, cidrs({"127.0.0.1/32"}));
  EXPECT_TRUE(config.tenants[0].policy.deny.empty());
  EXPECT_EQ(config.tenants[1].policy.ports, (std::vector<uint16_t>{2525}));
  EXPECT_TRUE(config.tenants[1].policy.allow.empty());
}

TEST(ServerConfigTenants, ReportsBadDrainTimeout) {
  EXPECT_EQ(
      errors(kHead + "drain_timeout = 30\n[[tenant]]\nname = \"a\"\nsource = \"any\"\nkeys = "
                     "[\"ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=\"]\n"),
      (Errors{
          R"(server.toml: server.drain_timeout: expected a duration string with a unit, like "30s" (units: ms, s, m, h, d), got the bare integer 30)"}));
  EXPECT_EQ(
      errors(kHead + "drain_timeout = \"0s\"\n[[tenant]]\nname = \"a\"\nsource = \"any\"\nkeys = "
                     "[\"ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=\"]\n"),
      (Errors{"server.toml: server.drain_timeout: must be greater than zero"}));
}

TEST(ServerConfigTenants, ReportsBadEnabled) {
  EXPECT_EQ(errors(with_tenant(R"(enabled = "no")")),
            (Errors{"server.toml: tenant[0].enabled: expected true or false, got a string"}));
  EXPECT_EQ(errors(with_tenant("enabled = 0")),
            (Errors{"server.toml: tenant[0].enabled: expected true or false, got an integer"}));
}

TEST(ServerConfigTenants, ReportsSourcesThatAreNotIpLiterals) {
  EXPECT_EQ(
      errors(with_tenant(
          R"(source = ["203.0.113.10:25", "[2001:db8::10]:0", "mail.example.net", "egress.example.net:25", "203.0.113.0/24", "[2001:db8::10]", "203.0.113.300", "", 7, "0.0.0.0", "::", "fe80::1%eth0"])")),
      (Errors{
          R"(server.toml: tenant[0].source[0]: "203.0.113.10:25" has a port; give the address alone (e.g. 203.0.113.10 or 2001:db8::10))",
          R"(server.toml: tenant[0].source[1]: "[2001:db8::10]:0" has a port; give the address alone (e.g. 203.0.113.10 or 2001:db8::10))",
          R"(server.toml: tenant[0].source[2]: "mail.example.net" names a host; only IP addresses are allowed here (e.g. 203.0.113.10 or 2001:db8::10))",
          R"(server.toml: tenant[0].source[3]: "egress.example.net:25" names a host; only IP addresses are allowed here (e.g. 203.0.113.10 or 2001:db8::10))",
          R"(server.toml: tenant[0].source[4]: "203.0.113.0/24" is a prefix; give single addresses (e.g. 203.0.113.10 or 2001:db8::10))",
          R"(server.toml: tenant[0].source[5]: "[2001:db8::10]" has brackets; write IPv6 addresses without them here (e.g. 2001:db8::10))",
          R"(server.toml: tenant[0].source[6]: "203.0.113.300" is not an IP address (e.g. 203.0.113.10 or 2001:db8::10))",
          "server.toml: tenant[0].source[7]: must not be empty",
          "server.toml: tenant[0].source[8]: expected a string, got an integer",
          R"(server.toml: tenant[0].source[9]: "0.0.0.0" is the unspecified address; write source = "any" to let the kernel pick the address)",
          R"(server.toml: tenant[0].source[10]: "::" is the unspecified address; write source = "any" to let the kernel pick the address)",
          R"(server.toml: tenant[0].source[11]: "fe80::1%eth0" is not an IP address (e.g. 203.0.113.10 or 2001:db8::10))",
      }));
  EXPECT_EQ(
      errors(with_tenant(R"(source = "203.0.113.10")")),
      (Errors{
          R"(server.toml: tenant[0].source: "203.0.113.10" is neither a list nor "any": list the tenant's source addresses (source = ["192.0.2.10"]), or write source = "any" to let the kernel pick the address)"}));
  EXPECT_EQ(errors(with_tenant("source = 7")),
            (Errors{"server.toml: tenant[0].source: expected an array, got an integer"}));
}

// Leaving from whatever address the kernel picks must be said: a tenant
// without `source` is an error that names it.
TEST(ServerConfigTenants, ATenantWithoutSourceIsAnErrorNamingIt) {
  const std::string without = edit_text(kHead + kAcmeTenant, "source = \"any\"\n", "");
  EXPECT_EQ(
      errors(without),
      (Errors{
          R"(server.toml: tenant[0].source: required key is missing for tenant "acme": list the tenant's source addresses (source = ["192.0.2.10"]), or write source = "any" to let the kernel pick the address)"}));
}

TEST(ServerConfigTenants, SourceAnyAndAnEmptyListLetTheKernelPick) {
  EXPECT_TRUE(tenant_of(R"(source = "any")").source.empty());
  EXPECT_TRUE(tenant_of("source = []").source.empty());
  EXPECT_EQ(tenant_of(R"(source = ["203.0.113.10"])").source, ips({"203.0.113.10"}));
  EXPECT_EQ(
      errors(with_tenant(R"(source = "ANY")")),
      (Errors{
          R"(server.toml: tenant[0].source: "ANY" is neither a list nor "any": list the tenant's source addresses (source = ["192.0.2.10"]), or write source = "any" to let the kernel pick the address)"}));
}

TEST(ServerConfigTenants, ReportsDuplicateSources) {
  EXPECT_EQ(
      errors(with_tenant(
          R"(source = ["203.0.113.10", "2001:db8::10", "203.0.113.10", "2001:DB8:0::10", "::ffff:203.0.113.10"])")),
      (Errors{
          "server.toml: tenant[0].source[2]: repeats tenant[0].source[0]",
          "server.toml: tenant[0].source[3]: repeats tenant[0].source[1]",
          "server.toml: tenant[0].source[4]: repeats tenant[0].source[0]",
      }));
}

TEST(ServerConfigTenants, SourcesMayBeSharedBetweenTenants) {
  auto result = parse(with_tenant(R"(source = ["203.0.113.10"])") + R"(
[[tenant]]
name = "beta"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
source = ["203.0.113.10"]
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
}

TEST(ServerConfigTenants, ReportsBadSourceSelection) {
  EXPECT_EQ(
      errors(with_tenant(R"(source_selection = "random")")),
      (Errors{
          R"(server.toml: tenant[0].source_selection: expected "round-robin" or "least-used", got "random")"}));
  EXPECT_EQ(
      errors(with_tenant(R"(source_selection = "Round-Robin")")),
      (Errors{
          R"(server.toml: tenant[0].source_selection: expected "round-robin" or "least-used", got "Round-Robin")"}));
  EXPECT_EQ(errors(with_tenant("source_selection = 1")),
            (Errors{"server.toml: tenant[0].source_selection: expected a string, got an integer"}));
}

TEST(ServerConfigTenants, ReportsBadTenantPolicyLists) {
  EXPECT_EQ(
      errors(with_tenant(R"(ports = [0, "25"]
allow = ["10.0.0.1/8"]
deny = "192.0.2.0/24")")),
      (Errors{
          "server.toml: tenant[0].ports[0]: expected a port number 1..65535, got 0",
          "server.toml: tenant[0].ports[1]: expected an integer port number, got a string",
          R"(server.toml: tenant[0].allow[0]: "10.0.0.1/8" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
          "server.toml: tenant[0].deny: expected an array, got a string",
      }));
}

TEST(ServerConfigTenants, ReportsLimitsThatAreNotNonNegativeIntegers) {
  EXPECT_EQ(errors(with_tenant(R"(max_connections = -1
connections_per_minute = 1.5
max_per_destination = "20")")),
            (Errors{
                "server.toml: tenant[0].max_connections: must be 0 (unlimited) or more, got -1",
                "server.toml: tenant[0].connections_per_minute: expected an integer (0 = "
                "unlimited), got a float",
                "server.toml: tenant[0].max_per_destination: expected an integer (0 = unlimited), "
                "got a string",
            }));
  EXPECT_EQ(
      errors(with_tenant(R"(max_connections = 4294967296
connections_per_minute = -600
max_per_destination = true)")),
      (Errors{
          "server.toml: tenant[0].max_connections: must be at most 4294967295, got 4294967296",
          "server.toml: tenant[0].connections_per_minute: must be 0 (unlimited) or more, got -600",
          "server.toml: tenant[0].max_per_destination: expected an integer (0 = unlimited), got a "
          "boolean",
      }));
}

TEST(ServerConfigTenants, ReportsBadBytesPerDay) {
  const std::string forms =
      R"(an integer number of bytes or a string like "50GiB" or "500MB" (units: B, kB or KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024)))";
  const std::pair<std::string_view, std::string> table[] = {
      {"-1", "must be 0 (unlimited) or more, got -1"},
      {"1.5", "expected a byte size, " + forms + ", got a float"},
      {"true", "expected a byte size, " + forms + ", got a boolean"},
      {R"("50 GiB")", "expected a byte size, " + forms + R"(, got "50 GiB")"},
      {R"("50gb")", "expected a byte size, " + forms + R"(, got "50gb")"},
      {R"("1.5GiB")", "expected a byte size, " + forms + R"(, got "1.5GiB")"},
      {R"("-1GiB")", "expected a byte size, " + forms + R"(, got "-1GiB")"},
      {R"("1000")", "expected a byte size, " + forms + R"(, got "1000")"},
      {R"("1PiB")", "expected a byte size, " + forms + R"(, got "1PiB")"},
      {R"("")", "expected a byte size, " + forms + R"(, got "")"},
      {R"("16777216TiB")",
       R"("16777216TiB" is too large (at most 18446744073709551615 bytes, about 16EiB))"},
      {R"("18446744073709551616B")",
       R"("18446744073709551616B" is too large (at most 18446744073709551615 bytes, about 16EiB))"},
  };
  for (const auto& [value, why] : table) {
    EXPECT_EQ(errors(with_tenant("bytes_per_day = " + std::string(value))),
              (Errors{"server.toml: tenant[0].bytes_per_day: " + why}))
        << value;
  }
}

TEST(ServerConfigTenants, ReportsBadTunnelFrom) {
  EXPECT_EQ(
      errors(with_tenant(R"(tunnel_from = ["198.51.100.0/24", "client.example.net", 5])")),
      (Errors{
          R"(server.toml: tenant[0].tunnel_from[1]: "client.example.net" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
          "server.toml: tenant[0].tunnel_from[2]: expected a string, got an integer",
      }));
}

TEST(ServerConfigTenants, ReportsUnknownTenantKeys) {
  EXPECT_EQ(errors(with_tenant("sources = [\"203.0.113.10\"]\nlimits = {}\nbytes_per_hour = 1")),
            (Errors{
                R"(server.toml: tenant[0].sources: unknown key (did you mean "source"?))",
                "server.toml: tenant[0].limits: unknown key",
                "server.toml: tenant[0].bytes_per_hour: unknown key",
            }));
}

TEST(ServerConfigTenants, ReportsEveryProblemOfEveryTenantAtOnce) {
  EXPECT_EQ(
      errors(with_tenant(R"(source = ["a:b:c"]
max_connections = -5)") +
             R"(
[[tenant]]
name = "beta"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
enabled = "yes"
bytes_per_day = "lots"
)"),
      (Errors{
          R"(server.toml: tenant[0].source[0]: "a:b:c" is not an IP address (e.g. 203.0.113.10 or 2001:db8::10))",
          "server.toml: tenant[0].max_connections: must be 0 (unlimited) or more, got -5",
          "server.toml: tenant[1].enabled: expected true or false, got a string",
          R"(server.toml: tenant[1].bytes_per_day: expected a byte size, an integer number of bytes or a string like "50GiB" or "500MB" (units: B, kB or KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024)), got "lots")",
      }));
}

TEST(ServerConfigTrail, ParsesFileAndStdout) {
  auto result = parse(with_tenant("") + "[trail]\nfile = \"trail/abuse.jsonl\"\n");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->trail.file, "/etc/mxegress/trail/abuse.jsonl");
  EXPECT_FALSE(result.config->trail.to_stdout);

  result = parse(with_tenant("") + "[trail]\nstdout = true\n");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_TRUE(result.config->trail.file.empty());
  EXPECT_TRUE(result.config->trail.to_stdout);

  result = parse(with_tenant("") + "[trail]\n");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_TRUE(result.config->trail.file.empty());
  EXPECT_FALSE(result.config->trail.to_stdout);
}

TEST(ServerConfigTrail, ReportsBadTrail) {
  EXPECT_EQ(errors(with_tenant("") + "[trail]\nfile = \"\"\nstdout = \"yes\"\nformat = \"json\"\n"),
            (Errors{
                "server.toml: trail.file: must not be empty",
                "server.toml: trail.stdout: expected true or false, got a string",
                "server.toml: trail.format: unknown key",
            }));
  EXPECT_EQ(errors(with_tenant("") + "trail = \"/var/log/trail\"\n"),
            (Errors{"server.toml: tenant[0].trail: unknown key"}));
  EXPECT_EQ(errors("trail = 1\n" + with_tenant("")),
            (Errors{"server.toml: trail: expected a table, got an integer"}));
}

}  // namespace
}  // namespace mx
