// `mxegress-client probe`'s command line.
#include "probe_args.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

ProbeArgs parse(std::vector<std::string> args) { return parse_probe_args(args, "/etc/c.toml"); }

TEST(ProbeArgsTest, HostAloneTakesTheDefaults) {
  const ProbeArgs a = parse({"example.org"});
  ASSERT_EQ(a.error, "");
  EXPECT_EQ(a.host, "example.org");
  EXPECT_EQ(a.port, 25);
  EXPECT_FALSE(a.explicit_port);
  EXPECT_TRUE(a.tls);
  EXPECT_FALSE(a.json);
  EXPECT_EQ(a.timeout, std::chrono::seconds(30));
  EXPECT_EQ(a.config_path, "/etc/c.toml");
}

TEST(ProbeArgsTest, PortsAndIpv6Literals) {
  ProbeArgs a = parse({"mx.example.org:2525"});
  EXPECT_EQ(a.host, "mx.example.org");
  EXPECT_EQ(a.port, 2525);
  EXPECT_TRUE(a.explicit_port);
  a = parse({"[2001:db8::1]:587"});
  EXPECT_EQ(a.host, "2001:db8::1");
  EXPECT_EQ(a.port, 587);
  a = parse({"2001:db8::1"});
  EXPECT_EQ(a.host, "2001:db8::1");
  EXPECT_EQ(a.port, 25);
  for (const char* bad : {"x:0", "x:65536", "x:", ":25", "[::1", "[::1]x", "x:2a"}) {
    EXPECT_NE(parse({bad}).error, "") << bad;
  }
}

TEST(ProbeArgsTest, Options) {
  const ProbeArgs a =
      parse({"--json", "--helo", "gw.example.net", "127.0.0.1:2525", "--timeout", "5", "--verify",
             "--cert", "c.pem", "--key", "k.pem", "-c", "other.toml"});
  ASSERT_EQ(a.error, "");
  EXPECT_TRUE(a.json);
  EXPECT_TRUE(a.verify);
  EXPECT_EQ(a.helo, "gw.example.net");
  EXPECT_EQ(a.timeout, std::chrono::seconds(5));
  EXPECT_EQ(a.cert, "c.pem");
  EXPECT_EQ(a.key, "k.pem");
  EXPECT_EQ(a.config_path, "other.toml");
}

TEST(ProbeArgsTest, Refusals) {
  EXPECT_EQ(parse({}).error, "probe needs HOST[:PORT]");
  EXPECT_EQ(parse({"a", "b"}).error, "one HOST[:PORT] only");
  EXPECT_EQ(parse({"a", "--bogus"}).error, "unknown option --bogus");
  EXPECT_EQ(parse({"a", "--timeout"}).error, "--timeout needs a value");
  EXPECT_NE(parse({"a", "--timeout", "0"}).error, "");
  EXPECT_NE(parse({"a", "--timeout", "x"}).error, "");
  EXPECT_EQ(parse({"a", "--cert", "c.pem"}).error, "--cert and --key go together");
  EXPECT_NE(parse({"a", "--no-tls", "--verify"}).error, "");
  EXPECT_NE(parse({"a", "--helo", "two words"}).error, "");
}

}  // namespace
}  // namespace mx
