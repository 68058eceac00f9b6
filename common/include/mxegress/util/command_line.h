// The command line both programs share: a subcommand or "run", -c FILE,
// --check [--for-reload] [--online], --version, --help.
#pragma once

#include <string>
#include <vector>

namespace mx {

struct CommandLine {
  std::string config_path;
  bool check = false;
  // --check --for-reload: leave out the probe of the listen addresses, which
  // the running program holds (the server's ExecReload).
  bool for_reload = false;
  // --check --online: also open a tunnel to each server (the client).
  bool online = false;
  bool version = false;
  bool help = false;
  std::vector<std::string> positional;  // subcommand and its arguments (options included)
  std::string error;                    // set when the command line is unusable
};

CommandLine parse_command_line(int argc, char** argv, std::string default_config);

}  // namespace mx
