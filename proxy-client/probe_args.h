// The command line of `mxegress-client probe HOST[:PORT] [options]`, parsed
// without side effects (the default HELO name is the caller's).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mx {

struct ProbeArgs {
  std::string host;  // a domain, an MX host name or an IP literal (no brackets)
  uint16_t port = 25;
  bool explicit_port = false;
  std::string helo;                          // --helo; empty: the caller's default (the host name)
  bool json = false;                         // --json
  bool tls = true;                           // false: --no-tls
  bool verify = false;                       // --verify
  std::chrono::milliseconds timeout{30000};  // --timeout SECONDS, per step
  std::filesystem::path cert;                // --cert FILE
  std::filesystem::path key;                 // --key FILE
  std::string config_path;                   // -c/--config FILE, after the subcommand too
  std::string error;                         // set when the command line is unusable
};

// `args` are what follows "probe"; `config_path` the one given before it (or the default).
ProbeArgs parse_probe_args(const std::vector<std::string>& args, std::string config_path);

}  // namespace mx
