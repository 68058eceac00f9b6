#include "probe_args.h"

#include <charconv>

namespace mx {
namespace {

bool parse_port(std::string_view text, uint16_t& port) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

// "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 literal.
bool split_target(const std::string& text, ProbeArgs& out) {
  if (text.empty()) return false;
  if (text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close == 1) return false;
    out.host = text.substr(1, close - 1);
    if (close + 1 == text.size()) return true;
    if (text[close + 1] != ':') return false;
    out.explicit_port = true;
    return parse_port(std::string_view(text).substr(close + 2), out.port);
  }
  const size_t colon = text.find(':');
  if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos) {
    out.host = text;  // a name, or an IPv6 literal without a port
    return true;
  }
  out.host = text.substr(0, colon);
  out.explicit_port = true;
  return !out.host.empty() && parse_port(std::string_view(text).substr(colon + 1), out.port);
}

}  // namespace

ProbeArgs parse_probe_args(const std::vector<std::string>& args, std::string config_path) {
  ProbeArgs out;
  out.config_path = std::move(config_path);
  bool have_target = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= args.size()) {
        out.error = arg + " needs a value";
        return false;
      }
      into = args[++i];
      return true;
    };
    std::string text;
    if (arg == "--json") {
      out.json = true;
    } else if (arg == "--no-tls") {
      out.tls = false;
    } else if (arg == "--verify") {
      out.verify = true;
    } else if (arg == "--helo") {
      if (!value(out.helo)) return out;
      if (out.helo.empty() || out.helo.find_first_of(" \r\n") != std::string::npos) {
        out.error = "--helo needs a name without spaces";
        return out;
      }
    } else if (arg == "--timeout") {
      if (!value(text)) return out;
      unsigned seconds = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
      if (ec != std::errc() || end != text.data() + text.size() || seconds == 0 || seconds > 3600) {
        out.error = "--timeout needs whole seconds, 1..3600";
        return out;
      }
      out.timeout = std::chrono::seconds(seconds);
    } else if (arg == "--cert" || arg == "--key") {
      if (!value(text)) return out;
      (arg == "--cert" ? out.cert : out.key) = text;
    } else if (arg == "-c" || arg == "--config") {
      if (!value(out.config_path)) return out;
    } else if (!arg.empty() && arg[0] == '-') {
      out.error = "unknown option " + arg;
      return out;
    } else if (have_target) {
      out.error = "one HOST[:PORT] only";
      return out;
    } else {
      have_target = true;
      if (!split_target(arg, out)) {
        out.error = "not HOST[:PORT]: " + arg;
        return out;
      }
    }
  }
  if (!have_target) {
    out.error = "probe needs HOST[:PORT]";
  } else if (out.cert.empty() != out.key.empty()) {
    out.error = "--cert and --key go together";
  } else if (!out.tls && (out.verify || !out.cert.empty())) {
    out.error = "--no-tls leaves no certificate to verify or present";
  }
  return out;
}

}  // namespace mx
