#include "mxegress/config/decoders.h"

#include <sodium.h>

#include "mxegress/config/config_errors.h"
#include "mxegress/config/duration.h"
#include "mxegress/config/toml_reader.h"

namespace mx::decode {
namespace {

const std::string* as_string(const toml::node& node, std::string& why) {
  if (const auto* value = node.as_string()) return &value->get();
  why = "expected a string, got " + describe_type(node);
  return nullptr;
}

}  // namespace

std::optional<std::string> string(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  if (text->empty()) {
    why = "must not be empty";
    return std::nullopt;
  }
  return *text;
}

std::optional<LogLevel> log_level(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  auto level = parse_log_level(*text);
  if (!level) why = R"(expected one of "debug", "info", "warn", "error", got )" + quote(*text);
  return level;
}

std::optional<LogFormat> log_format(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  auto format = parse_log_format(*text);
  if (!format) why = R"(expected "text" or "json", got )" + quote(*text);
  return format;
}

std::optional<std::chrono::milliseconds> duration_or_zero(const toml::node& node,
                                                          std::string& why) {
  if (const auto* number = node.as_integer()) {
    const std::string count = std::to_string(number->get());
    why = "expected a duration string with a unit, like \"" + count +
          "s\" (units: ms, s, m, h, d), got the bare integer " + count;
    return std::nullopt;
  }
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  auto parsed = parse_duration(*text);
  if (!parsed) {
    why = R"(expected a duration like "30s", "10m", "1h", "500ms", got )" + quote(*text);
  }
  return parsed;
}

std::optional<std::chrono::milliseconds> duration(const toml::node& node, std::string& why) {
  auto parsed = duration_or_zero(node, why);
  if (parsed && parsed->count() == 0) {
    why = "must be greater than zero";
    return std::nullopt;
  }
  return parsed;
}

std::optional<std::chrono::milliseconds> tcp_keepalive(const toml::node& node, std::string& why) {
  using std::chrono::seconds;
  auto parsed = duration_or_zero(node, why);
  if (!parsed || parsed->count() == 0) return parsed;
  const std::string got = "; got " + format_duration(*parsed);
  if (*parsed < seconds(1)) {
    why = R"(must be "0s" (off) or at least 1s)" + got;
  } else if (*parsed % seconds(1) != parsed->zero()) {
    why = "must be whole seconds: the kernel counts keepalive time in seconds" + got;
  } else if (*parsed > seconds(32767)) {
    why = "must be at most 32767s, the kernel's limit for TCP_KEEPIDLE" + got;
  } else {
    return parsed;
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> tcp_user_timeout(const toml::node& node,
                                                          std::string& why) {
  auto parsed = duration_or_zero(node, why);
  if (!parsed || parsed->count() == 0) return parsed;
  const std::string got = "; got " + format_duration(*parsed);
  if (*parsed < std::chrono::seconds(1)) {
    why = R"(must be "0s" (the kernel's default) or at least 1s: shorter, ordinary packet )"
          "loss would end connections" +
          got;
  } else if (*parsed > std::chrono::days(24)) {
    why = "must be at most 24d: TCP_USER_TIMEOUT counts milliseconds in a 32-bit integer" + got;
  } else {
    return parsed;
  }
  return std::nullopt;
}

std::optional<SocketAddress> ip_port(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  auto address = SocketAddress::parse(*text);
  if (address) return address;
  if (parse_host_port(*text)) {
    why = quote(*text) + " names a host; only IP addresses are allowed here (e.g. 0.0.0.0:8443)";
  } else {
    why = quote(*text) + " is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443)";
  }
  return std::nullopt;
}

std::optional<HostPort> host_port(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  auto parsed = parse_host_port(*text);
  if (!parsed) {
    why = quote(*text) + " is not host:port (expected e.g. egress.example.net:8443)";
  } else if (parsed->port == 0) {
    why = quote(*text) + ": port 0 is not allowed";
    return std::nullopt;
  }
  return parsed;
}

std::optional<Cidr> cidr(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  auto parsed = Cidr::parse(*text);
  if (!parsed) {
    why = quote(*text) +
          " is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; "
          "the bits after the prefix must be zero)";
  }
  return parsed;
}

std::optional<uint16_t> port(const toml::node& node, std::string& why) {
  const auto* number = node.as_integer();
  if (number == nullptr) {
    why = "expected an integer port number, got " + describe_type(node);
    return std::nullopt;
  }
  const int64_t value = number->get();
  if (value < 1 || value > 65535) {
    why = "expected a port number 1..65535, got " + std::to_string(value);
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

std::optional<Key32> ed25519_public_key(const toml::node& node, std::string& why) {
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  std::string problem;
  auto key = decode_base64_key32(*text, problem);
  if (!key) why = quote(*text) + " " + problem + " (an Ed25519 public key is base64 of 32 bytes)";
  return key;
}

std::optional<Key32> spki_pin(const toml::node& node, std::string& why) {
  constexpr std::string_view kPrefix = "sha256/";
  const std::string* text = as_string(node, why);
  if (text == nullptr) return std::nullopt;
  if (!text->starts_with(kPrefix)) {
    why = R"(expected "sha256/" followed by the base64 SPKI SHA-256 of the server key, got )" +
          quote(*text);
    return std::nullopt;
  }
  std::string problem;
  auto pin = decode_base64_key32(std::string_view(*text).substr(kPrefix.size()), problem);
  if (!pin) why = "the base64 after \"sha256/\" " + problem;
  return pin;
}

std::optional<std::string> socks5_user_name(const toml::node& node, std::string& why) {
  auto name = string(node, why);
  if (name && name->size() > 255) {
    why = "is longer than 255 bytes, the RFC 1929 limit";
    return std::nullopt;
  }
  return name;
}

std::optional<std::string> argon2id_hash(const toml::node& node, std::string& why) {
  auto hash = string(node, why);
  if (!hash) return std::nullopt;
  if (!hash->starts_with("$argon2id$") || hash->size() >= crypto_pwhash_STRBYTES) {
    why = R"(expected an Argon2id hash (a string starting with "$argon2id$"))";
    return std::nullopt;
  }
  return hash;
}

}  // namespace mx::decode
