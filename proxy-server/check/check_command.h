// `mxegress-server [-c FILE] check [--domain D] [--dnsbl ZONE...] [--json]`
// (docs/check.md): reads the server configuration, checks every tenant
// source address (source_check.h) and prints a table or JSON.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mx::check {

// `args` follow "check". Returns the exit code: 0 every address passes
// every check asked for, 1 one does not (or cannot be checked), 2 a usage
// or configuration error.
int run_check_command(const std::vector<std::string>& args, std::string config_path,
                      std::ostream& out, std::ostream& err);

}  // namespace mx::check
