// The optional [smtp] table of server.toml (reference in
// docs/configuration.md, design in docs/smtp-health.md): what the server
// observes of the plaintext start of the SMTP sessions it relays, and when
// it calls a source address suspect at a receiving provider.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mx {

class TableReader;

struct SmtpConfig {
  // `observe`: read the banner, the EHLO answer and STARTTLS of sessions to
  // `ports` (docs/privacy.md says exactly what is read).
  bool observe = true;
  std::vector<uint16_t> ports = {25};
  // `providers`: "domain" = "provider", added to the built-in rollup of big
  // receivers (and winning over it).
  std::map<std::string, std::string> providers;
  // A source address is suspect at a provider when, among the banners it got
  // there within `window`, at least `suspect_min_sessions` were seen and at
  // least `suspect_percent` % were 5xx or 421.
  std::chrono::milliseconds window = std::chrono::hours(1);
  uint32_t suspect_min_sessions = 5;
  uint32_t suspect_percent = 50;
  // With on_suspect = "avoid": how long a suspect address is not used for
  // that provider before one session tries it again.
  std::chrono::milliseconds cooldown = std::chrono::minutes(30);

  bool observes(uint16_t port) const;
  bool operator==(const SmtpConfig&) const = default;
};

// Reads [smtp] from the root table `root` (absent: the defaults).
void read_smtp(TableReader& root, SmtpConfig& config);

}  // namespace mx
