#include "mxegress/net/resolver_settings.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using std::chrono::milliseconds;

TEST(ResolverSettings, ServersAreWrittenAsCAresTakesThemWithPorts) {
  EXPECT_EQ(ares_servers_csv({}), "");
  EXPECT_EQ(ares_servers_csv({*SocketAddress::parse("10.0.0.53:53"),
                              *SocketAddress::parse("[2001:db8::53]:5353")}),
            "10.0.0.53:53,[2001:db8::53]:5353");
}

TEST(ResolverSettings, CAresTriesAllEndWithinTheTimeout) {
  // One server, two tries: first + 2 × first = timeout.
  EXPECT_EQ(ares_first_try_timeout(milliseconds(3000), 2, 1), milliseconds(1000));
  // Three servers, each tried in a round, two rounds: 3 × (1 + 2) sends.
  EXPECT_EQ(ares_first_try_timeout(milliseconds(9000), 2, 3), milliseconds(1000));
  EXPECT_EQ(ares_first_try_timeout(milliseconds(5000), 1, 1), milliseconds(5000));
  EXPECT_EQ(ares_first_try_timeout(milliseconds(3100), 5, 1), milliseconds(100));
  // Never below a millisecond, and no server counts as one.
  EXPECT_EQ(ares_first_try_timeout(milliseconds(1), 5, 3), milliseconds(1));
  EXPECT_EQ(ares_first_try_timeout(milliseconds(3000), 2, 0), milliseconds(1000));
}

TEST(ResolverSettings, DefaultsAreFiveSecondsAndTwoTriesOnResolvConf) {
  const ResolverSettings settings;
  EXPECT_TRUE(settings.servers.empty());
  EXPECT_EQ(settings.timeout, milliseconds(5000));
  EXPECT_EQ(settings.tries, 2u);
}

}  // namespace
}  // namespace mx
