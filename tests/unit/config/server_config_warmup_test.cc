// [[tenant.warmup]]: the schedules of new source addresses, and each error.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;
using Step = Warmup::Step;

// 2026-12-01 in days since 1970-01-01.
constexpr int64_t kDecember1 = 20788;

// The tenant "acme" leaving from two addresses, then `warmups` (its
// [[tenant.warmup]] tables).
std::string with_warmups(std::string_view warmups) {
  return kServerHead +
         edit_text(kAcmeTenant, "source = \"any\"", R"(source = ["192.0.2.10", "192.0.2.11"])") +
         std::string(warmups) + "\n";
}

const std::string kValid = R"(
[[tenant.warmup]]
source = ["192.0.2.11"]
start = 2026-12-01
schedule = [[1, 20], [3, 100], [7, 500]]
)";

SocketAddress ip(std::string_view text) { return *SocketAddress::parse_ip(text, 0); }

TEST(ServerConfigWarmup, ReadsTheSchedule) {
  auto result = parse_server(with_warmups(kValid));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const std::vector<Warmup>& warmups = result.config->tenants.at(0).warmup;
  ASSERT_EQ(warmups.size(), 1u);
  EXPECT_EQ(warmups[0].source, std::vector<SocketAddress>{ip("192.0.2.11")});
  EXPECT_EQ(warmups[0].start_day, kDecember1);
  EXPECT_EQ(warmups[0].schedule, (std::vector<Step>{{1, 20}, {3, 100}, {7, 500}}));
}

TEST(ServerConfigWarmup, NoneByDefault) {
  auto result = parse_server(with_warmups(""));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_TRUE(result.config->tenants.at(0).warmup.empty());
}

TEST(ServerConfigWarmup, TwoEntriesAndAnExplicitEnd) {
  auto result = parse_server(with_warmups(R"(
[[tenant.warmup]]
source = ["192.0.2.10"]
start = 1970-01-02
schedule = [[1, 0]]
[[tenant.warmup]]
source = ["192.0.2.11"]
start = 2026-12-01
schedule = [[1, 5], [4, 0]]
)"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const std::vector<Warmup>& warmups = result.config->tenants.at(0).warmup;
  ASSERT_EQ(warmups.size(), 2u);
  EXPECT_EQ(warmups[0].start_day, 1);
  EXPECT_EQ(warmups[0].schedule, (std::vector<Step>{{1, 0}}));
  EXPECT_EQ(warmups[1].schedule, (std::vector<Step>{{1, 5}, {4, 0}}));
}

TEST(ServerConfigWarmup, AnAddressNotOfTheTenant) {
  EXPECT_EQ(
      errors_of(parse_server(
          with_warmups(edit_text(kValid, R"(["192.0.2.11"])", R"(["192.0.2.11", "192.0.2.99"])")))),
      (Errors{
          R"(server.toml: tenant[0].warmup[0].source[1]: 192.0.2.99 is not one of tenant "acme"'s source addresses)"}));
}

TEST(ServerConfigWarmup, AnAddressInTwoEntriesOrTwiceInOne) {
  EXPECT_EQ(errors_of(parse_server(with_warmups(kValid + kValid))),
            (Errors{"server.toml: tenant[0].warmup[1].source[0]: 192.0.2.11 already warms up at "
                    "tenant[0].warmup[0].source[0]"}));
  EXPECT_EQ(errors_of(parse_server(with_warmups(
                edit_text(kValid, R"(["192.0.2.11"])", R"(["192.0.2.11", "192.0.2.11"])")))),
            (Errors{"server.toml: tenant[0].warmup[0].source[1]: repeats "
                    "tenant[0].warmup[0].source[0]"}));
}

TEST(ServerConfigWarmup, DaysMustIncreaseFromOne) {
  EXPECT_EQ(
      errors_of(parse_server(with_warmups(edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]",
                                                    "[[0, 20], [3, 100], [3, 500], [2, 9]]")))),
      (Errors{
          "server.toml: tenant[0].warmup[0].schedule[0]: the day must be 1 or more (day 1 is "
          "`start`), got 0",
      }));
  EXPECT_EQ(errors_of(parse_server(
                with_warmups(edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]", "[[2, 20]]")))),
            (Errors{"server.toml: tenant[0].warmup[0].schedule[0]: the first step must be day 1 "
                    "(`start`), got day 2"}));
  EXPECT_EQ(
      errors_of(parse_server(with_warmups(edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]",
                                                    "[[1, 20], [3, 100], [3, 500], [2, 9]]")))),
      (Errors{
          "server.toml: tenant[0].warmup[0].schedule[2]: day 3 must come after day 3 of "
          "the step before",
          "server.toml: tenant[0].warmup[0].schedule[3]: day 2 must come after day 3 of "
          "the step before",
      }));
}

TEST(ServerConfigWarmup, CountsMustBeZeroOrMoreAndZeroOnlyLast) {
  EXPECT_EQ(errors_of(parse_server(with_warmups(edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]",
                                                          "[[1, -20], [3, 4294967296]]")))),
            (Errors{
                "server.toml: tenant[0].warmup[0].schedule[0]: sessions per hour must be 0 to "
                "4294967295, got -20",
                "server.toml: tenant[0].warmup[0].schedule[1]: sessions per hour must be 0 to "
                "4294967295, got 4294967296",
            }));
  EXPECT_EQ(errors_of(parse_server(with_warmups(
                edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]", "[[1, 0], [3, 100]]")))),
            (Errors{"server.toml: tenant[0].warmup[0].schedule[0]: 0 sessions an hour ends the "
                    "warm-up: only the last step may say 0"}));
}

TEST(ServerConfigWarmup, StepsAreTwoIntegers) {
  EXPECT_EQ(errors_of(parse_server(with_warmups(edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]",
                                                          R"([5, [1, 2, 3], [1, "20"]])")))),
            (Errors{
                "server.toml: tenant[0].warmup[0].schedule[0]: expected [from day, sessions per "
                "hour] such as [1, 20], got an integer",
                "server.toml: tenant[0].warmup[0].schedule[1]: expected [from day, sessions per "
                "hour] such as [1, 20], got an array of 3 values",
                "server.toml: tenant[0].warmup[0].schedule[2]: expected [from day, sessions per "
                "hour] such as [1, 20], got a string in it",
            }));
}

TEST(ServerConfigWarmup, AnEmptySchedule) {
  EXPECT_EQ(errors_of(parse_server(
                with_warmups(edit_text(kValid, "[[1, 20], [3, 100], [7, 500]]", "[]")))),
            (Errors{"server.toml: tenant[0].warmup[0].schedule: must list at least one entry"}));
}

TEST(ServerConfigWarmup, StartIsADate) {
  EXPECT_EQ(
      errors_of(parse_server(with_warmups(edit_text(kValid, "2026-12-01", "\"2026-12-01\"")))),
      (Errors{"server.toml: tenant[0].warmup[0].start: expected a date (start = 2026-12-01, "
              "no quotes), got a string"}));
}

TEST(ServerConfigWarmup, MissingKeys) {
  EXPECT_EQ(errors_of(parse_server(with_warmups("[[tenant.warmup]]\n"))),
            (Errors{
                "server.toml: tenant[0].warmup[0].source: required key is missing",
                "server.toml: tenant[0].warmup[0].start: required key is missing",
                "server.toml: tenant[0].warmup[0].schedule: required key is missing",
            }));
}

TEST(ServerConfigWarmup, UnknownKeys) {
  EXPECT_EQ(
      errors_of(parse_server(with_warmups(kValid + "schedules = []\n"))),
      (Errors{
          R"(server.toml: tenant[0].warmup[0].schedules: unknown key (did you mean "schedule"?))"}));
}

}  // namespace
}  // namespace mx
