#include "mxegress/util/command_line.h"

#include <string_view>

namespace mx {

CommandLine parse_command_line(int argc, char** argv, std::string default_config) {
  CommandLine cl;
  cl.config_path = std::move(default_config);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    // After a subcommand, every argument is the subcommand's own.
    if (!cl.positional.empty()) {
      cl.positional.emplace_back(arg);
      continue;
    }
    if (arg == "-c" || arg == "--config") {
      if (i + 1 >= argc) {
        cl.error = std::string(arg) + " needs a file name";
        return cl;
      }
      cl.config_path = argv[++i];
    } else if (arg == "--check") {
      cl.check = true;
    } else if (arg == "--for-reload") {
      cl.for_reload = true;
    } else if (arg == "--online") {
      cl.online = true;
    } else if (arg == "--version" || arg == "-V") {
      cl.version = true;
    } else if (arg == "--help" || arg == "-h") {
      cl.help = true;
    } else if (!arg.empty() && arg[0] == '-') {
      cl.error = "unknown option " + std::string(arg);
      return cl;
    } else {
      cl.positional.emplace_back(arg);
    }
  }
  if ((cl.for_reload || cl.online) && !cl.check) {
    cl.error = std::string(cl.for_reload ? "--for-reload" : "--online") + " goes with --check";
  }
  return cl;
}

}  // namespace mx
