#include "mxegress/config/server_decoders.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "mxegress/config/byte_size.h"
#include "mxegress/config/config_errors.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx::decode {
namespace {

const std::string kSizeForms =
    std::string(R"(an integer number of bytes or a string like "50GiB" or "500MB" (units: )") +
    std::string(kByteSizeUnits) + ")";

}  // namespace

std::optional<bool> boolean(const toml::node& node, std::string& why) {
  if (const auto* value = node.as_boolean()) return value->get();
  why = "expected true or false, got " + describe_type(node);
  return std::nullopt;
}

std::optional<uint32_t> thread_count(const toml::node& node, std::string& why) {
  auto value = limit_count(node, why);
  if (value && *value > 256) {
    why = "expected 0 (one per core) to 256 threads, got " + std::to_string(*value);
    return std::nullopt;
  }
  return value;
}

std::optional<uint32_t> worker_count(const toml::node& node, std::string& why) {
  const auto* number = node.as_integer();
  if (number == nullptr) {
    why = "expected an integer from 1 to 64 threads, got " + describe_type(node);
    return std::nullopt;
  }
  if (number->get() < 1 || number->get() > 64) {
    why = "expected 1 to 64 threads, got " + std::to_string(number->get());
    return std::nullopt;
  }
  return static_cast<uint32_t>(number->get());
}

std::optional<uint32_t> limit_count(const toml::node& node, std::string& why) {
  const auto* number = node.as_integer();
  if (number == nullptr) {
    why = "expected an integer (0 = unlimited), got " + describe_type(node);
    return std::nullopt;
  }
  const int64_t value = number->get();
  if (value < 0) {
    why = "must be 0 (unlimited) or more, got " + std::to_string(value);
    return std::nullopt;
  }
  if (value > std::numeric_limits<uint32_t>::max()) {
    why = "must be at most 4294967295, got " + std::to_string(value);
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

std::optional<uint64_t> byte_size(const toml::node& node, std::string& why) {
  if (const auto* number = node.as_integer()) {
    const int64_t value = number->get();
    if (value < 0) {
      why = "must be 0 (unlimited) or more, got " + std::to_string(value);
      return std::nullopt;
    }
    return static_cast<uint64_t>(value);
  }
  const auto* text = node.as_string();
  if (text == nullptr) {
    why = "expected a byte size, " + kSizeForms + ", got " + describe_type(node);
    return std::nullopt;
  }
  bool too_large = false;
  auto bytes = parse_byte_size(text->get(), &too_large);
  if (too_large) {
    why = quote(text->get()) + " is too large (at most 18446744073709551615 bytes, about 16EiB)";
  } else if (!bytes) {
    why = "expected a byte size, " + kSizeForms + ", got " + quote(text->get());
  }
  return bytes;
}

std::optional<SocketAddress> ip_address(const toml::node& node, std::string& why) {
  auto text = string(node, why);
  if (!text) return std::nullopt;
  constexpr std::string_view kExample = "(e.g. 203.0.113.10 or 2001:db8::10)";
  auto address = SocketAddress::parse_ip(*text, 0);
  if (!address) {
    if (SocketAddress::parse(*text)) {
      why = quote(*text) + " has a port; give the address alone " + std::string(kExample);
    } else if (text->starts_with('[') && text->ends_with(']') &&
               SocketAddress::parse_ip(std::string_view(*text).substr(1, text->size() - 2), 0)) {
      why = quote(*text) +
            " has brackets; write IPv6 addresses without them here (e.g. 2001:db8::10)";
    } else if (text->find('/') != std::string::npos) {
      why = quote(*text) + " is a prefix; give single addresses " + std::string(kExample);
    } else if (std::ranges::any_of(*text, [](unsigned char c) { return std::isalpha(c) != 0; }) &&
               (parse_host_port(*text) || parse_host_port(*text + ":0"))) {
      why = quote(*text) + " names a host; only IP addresses are allowed here " +
            std::string(kExample);
    } else {
      why = quote(*text) + " is not an IP address " + std::string(kExample);
    }
    return std::nullopt;
  }
  address = address->unmapped();
  const auto bytes = address->ip_bytes();
  if (std::ranges::all_of(bytes, [](uint8_t byte) { return byte == 0; })) {
    why = quote(*text) +
          " is the unspecified address; write source = \"any\" to let the kernel pick "
          "the address";
    return std::nullopt;
  }
  return address;
}

std::optional<std::string> domain_name(const toml::node& node, std::string& why) {
  auto text = string(node, why);
  if (!text) return std::nullopt;
  std::string name = *text;
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  bool ok = name.size() <= 253 && name.find('.') != std::string::npos;
  bool all_digits_last = true;
  size_t label = 0;
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '.') {
      ok = ok && label > 0;
      label = 0;
      all_digits_last = true;
      continue;
    }
    const bool digit = c >= '0' && c <= '9';
    ok = ok && ((c >= 'a' && c <= 'z') || digit || c == '-' || c == '_') && ++label <= 63;
    all_digits_last = all_digits_last && digit;
  }
  if (!ok || label == 0 || all_digits_last) {
    why = quote(*text) + " is not a domain name (such as \"example.org\")";
    return std::nullopt;
  }
  return name;
}

}  // namespace mx::decode
