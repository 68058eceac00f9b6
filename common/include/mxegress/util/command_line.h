// The command line both programs share: a subcommand or "run", -c FILE,
// --check, --version, --help.
#pragma once

#include <string>
#include <vector>

namespace mx {

struct CommandLine {
  std::string config_path;
  bool check = false;
  bool version = false;
  bool help = false;
  std::vector<std::string> positional;  // subcommand and its arguments (options included)
  std::string error;                    // set when the command line is unusable
};

CommandLine parse_command_line(int argc, char** argv, std::string default_config);

}  // namespace mx
