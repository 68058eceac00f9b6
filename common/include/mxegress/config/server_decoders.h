// Decoders for the value types only the server configuration uses (tenant
// limits, source addresses, direct SOCKS5 users), for TableReader. Like those
// in decoders.h, each returns the value or nullopt with `why` set.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>

#include "mxegress/net/socket_address.h"

namespace mx::decode {

// true or false.
std::optional<bool> boolean(const toml::node& node, std::string& why);
// An integer 0..4294967295, for limits where 0 means unlimited.
std::optional<uint32_t> limit_count(const toml::node& node, std::string& why);
// An integer 0..256: event-loop threads, 0 meaning one per core.
std::optional<uint32_t> thread_count(const toml::node& node, std::string& why);
// An integer 1..64: threads of a worker pool (password checks).
std::optional<uint32_t> worker_count(const toml::node& node, std::string& why);
// An integer number of bytes (0 or more), or a string such as "50GiB"
// (see byte_size.h).
std::optional<uint64_t> byte_size(const toml::node& node, std::string& why);
// An IP literal without port or brackets, returned with port 0: "203.0.113.10",
// "2001:db8::10". An IPv4-mapped IPv6 address is returned as the IPv4 address
// it is; the unspecified addresses (0.0.0.0, ::) are refused.
std::optional<SocketAddress> ip_address(const toml::node& node, std::string& why);
// A domain name of two or more labels ("example.org"): letters, digits, '-'
// and '_' (as in "_spf"), labels of 1 to 63, at most 253 in all, no IP
// literal. Returned in lower case without a trailing dot.
std::optional<std::string> domain_name(const toml::node& node, std::string& why);

}  // namespace mx::decode
