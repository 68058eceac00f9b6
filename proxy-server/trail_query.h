// `mxegress-server trail`: searches the abuse trail (JSON lines) for the
// connections that match a complaint: which tenant connected from source S
// to destination D around time T.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace mx {

// args: everything after "trail". Returns the exit code (0 found, 1 none, 2 usage).
int run_trail_query(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mx
