#include "mxegress/config/decoders.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

template <class Decoder>
std::string why_refused(Decoder decode, const toml::node& node) {
  std::string why;
  EXPECT_FALSE(decode(node, why));
  return why;
}

TEST(LogLevel, ParsesAndPrintsEachLevel) {
  for (LogLevel level : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
    EXPECT_EQ(parse_log_level(to_string(level)), level);
  }
  EXPECT_EQ(to_string(LogLevel::Warn), "warn");
  EXPECT_FALSE(parse_log_level("INFO"));
  EXPECT_FALSE(parse_log_level("warning"));
}

TEST(Decoders, FilePathKeepsAbsolutePathsAndResolvesRelativeOnes) {
  auto decode = decode::file_path("/etc/mxegress");
  std::string why;
  EXPECT_EQ(decode(toml::value<std::string>("keys/client.key"), why),
            "/etc/mxegress/keys/client.key");
  EXPECT_EQ(decode(toml::value<std::string>("/var/lib/client.key"), why), "/var/lib/client.key");
  EXPECT_EQ(why_refused(decode, toml::value<int64_t>(1)), "expected a string, got an integer");
  EXPECT_EQ(why_refused(decode, toml::value<std::string>("")), "must not be empty");
}

TEST(Decoders, DurationRefusesOtherTypes) {
  EXPECT_EQ(why_refused(decode::duration, toml::value<double>(1.5)),
            "expected a string, got a float");
  EXPECT_EQ(why_refused(decode::duration, toml::array{}), "expected a string, got an array");
}

TEST(Decoders, HostPortTakesBracketedIpv6) {
  std::string why;
  EXPECT_EQ(decode::host_port(toml::value<std::string>("[2001:db8::1]:8443"), why),
            (HostPort{"2001:db8::1", 8443}));
}

TEST(Decoders, IpPortAllowsPortZeroForListeners) {
  std::string why;
  EXPECT_EQ(decode::ip_port(toml::value<std::string>("127.0.0.1:0"), why),
            SocketAddress::parse("127.0.0.1:0"));
}

TEST(Decoders, ErrorValuesAreQuotedAndEscaped) {
  EXPECT_EQ(
      why_refused(decode::cidr, toml::value<std::string>("a\nb")),
      R"("a\x0ab" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))");
}

TEST(Decoders, PortRefusesNegativeNumbers) {
  EXPECT_EQ(why_refused(decode::port, toml::value<int64_t>(-25)),
            "expected a port number 1..65535, got -25");
}

}  // namespace
}  // namespace mx
