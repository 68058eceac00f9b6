// `mxegress-client probe HOST[:PORT]`: looks up the MX hosts of HOST (or
// takes HOST itself), then probes them in order of preference through the
// configured servers (an in-process TunnelPool, exactly as the client's
// sessions go) until one gets through CONNECT, and prints each step
// (probe_output.h). The exit code says how it went (ProbeFailure).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace mx {

// `args` follow "probe"; `config_path` is -c's (or the default).
int run_probe(const std::vector<std::string>& args, const std::string& config_path,
              std::ostream& out, std::ostream& err);

// This host's FQDN (its canonical name), else its host name: the default --helo.
std::string default_helo_name();

}  // namespace mx
