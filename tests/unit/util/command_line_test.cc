#include "mxegress/util/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx {
namespace {

CommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "mxegress-test");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), "/etc/default.toml");
}

TEST(CommandLine, CheckTakesForReloadOrOnline) {
  const CommandLine reload = parse({"--check", "--for-reload", "-c", "x.toml"});
  EXPECT_EQ(reload.error, "");
  EXPECT_TRUE(reload.check);
  EXPECT_TRUE(reload.for_reload);
  EXPECT_FALSE(reload.online);
  EXPECT_EQ(reload.config_path, "x.toml");

  const CommandLine online = parse({"--online", "--check"});
  EXPECT_EQ(online.error, "");
  EXPECT_TRUE(online.online);
  EXPECT_EQ(online.config_path, "/etc/default.toml");
}

TEST(CommandLine, ForReloadAndOnlineNeedCheck) {
  EXPECT_EQ(parse({"--for-reload"}).error, "--for-reload goes with --check");
  EXPECT_EQ(parse({"--online"}).error, "--online goes with --check");
  // Both: the servers of a client that runs (and holds its listen addresses).
  const CommandLine both = parse({"--check", "--online", "--for-reload"});
  EXPECT_EQ(both.error, "");
  EXPECT_TRUE(both.online && both.for_reload);
}

TEST(CommandLine, OptionsAfterASubcommandAreItsOwn) {
  const CommandLine cl = parse({"pin", "--online"});
  EXPECT_EQ(cl.error, "");
  EXPECT_FALSE(cl.online);
  EXPECT_EQ(cl.positional, (std::vector<std::string>{"pin", "--online"}));
}

}  // namespace
}  // namespace mx
