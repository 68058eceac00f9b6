// [[tenant]] domain: the mail domain whose SPF record `mxegress-server check`
// asks about.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;

std::string with_domain(std::string_view value) {
  return kServerHead + kAcmeTenant + "domain = " + std::string(value) + "\n";
}

TEST(ServerConfigDomain, AbsentIsEmpty) {
  auto result = parse_server(kServerHead + kAcmeTenant);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->tenants.at(0).domain, "");
}

TEST(ServerConfigDomain, IsLowerCasedWithoutTrailingDot) {
  auto result = parse_server(with_domain(R"("Mail.Example.ORG.")"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->tenants.at(0).domain, "mail.example.org");
  auto underscore = parse_server(with_domain(R"("_spf.example-1.net")"));
  ASSERT_TRUE(underscore.ok()) << underscore.errors[0];
  EXPECT_EQ(underscore.config->tenants.at(0).domain, "_spf.example-1.net");
}

TEST(ServerConfigDomain, RefusesWhatIsNotADomainName) {
  for (const char* bad : {R"("localhost")", R"("192.0.2.1")", R"("exa mple.org")",
                          R"("example..org")", R"(".example.org")", R"("")"}) {
    const Errors found = server_errors(with_domain(bad));
    ASSERT_EQ(found.size(), 1u) << bad;
    EXPECT_NE(found[0].find("server.toml: tenant[0].domain: "), std::string::npos) << found[0];
  }
  EXPECT_EQ(
      server_errors(with_domain(R"("192.0.2.1")")),
      (Errors{
          R"(server.toml: tenant[0].domain: "192.0.2.1" is not a domain name (such as "example.org"))"}));
  EXPECT_EQ(server_errors(with_domain("5")).size(), 1u);
  const std::string long_label(64, 'a');
  EXPECT_EQ(server_errors(with_domain("\"" + long_label + ".example.org\"")).size(), 1u);
}

}  // namespace
}  // namespace mx
