#include "mxegress/net/cidr.h"

#include <sys/socket.h>

#include <algorithm>

namespace mx {
namespace {

std::optional<int> parse_prefix_length(std::string_view text, int max) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

// Whether the first `bits` bits of a and b agree.
bool same_prefix(std::span<const uint8_t> a, std::span<const uint8_t> b, int bits) {
  const size_t whole_bytes = static_cast<size_t>(bits / 8);
  if (!std::equal(a.begin(), a.begin() + whole_bytes, b.begin())) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole_bytes] & mask) == (b[whole_bytes] & mask);
}

bool has_host_bits(std::span<const uint8_t> bytes, int prefix_length) {
  for (int bit = prefix_length; bit < static_cast<int>(bytes.size()) * 8; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) return true;
  }
  return false;
}

}  // namespace

Cidr::Cidr(int family, const std::array<uint8_t, 16>& bytes, int prefix_length)
    : family_(family), bytes_(bytes), prefix_length_(prefix_length) {}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto address = SocketAddress::parse_ip(text.substr(0, slash), 0);
  if (!address) return std::nullopt;
  const int max_length = address->family() == AF_INET ? 32 : 128;
  int prefix_length = max_length;
  if (slash != std::string_view::npos) {
    const auto parsed = parse_prefix_length(text.substr(slash + 1), max_length);
    if (!parsed) return std::nullopt;
    prefix_length = *parsed;
  }
  const auto bytes = address->ip_bytes();
  if (has_host_bits(bytes, prefix_length)) return std::nullopt;
  if (address->is_ipv4_mapped() && prefix_length >= 96) {
    address = address->unmapped();
    prefix_length -= 96;
  }
  std::array<uint8_t, 16> stored{};
  std::ranges::copy(address->ip_bytes(), stored.begin());
  return Cidr(address->family(), stored, prefix_length);
}

bool Cidr::contains(const SocketAddress& address) const {
  const SocketAddress candidate = address.unmapped();
  if (candidate.family() != family_) return false;
  const size_t size = family_ == AF_INET ? 4 : 16;
  return same_prefix(std::span(bytes_.data(), size), candidate.ip_bytes(), prefix_length_);
}

std::string Cidr::to_string() const {
  const auto address =
      family_ == AF_INET ? SocketAddress::ipv4(std::span<const uint8_t, 4>(bytes_.data(), 4), 0)
                         : SocketAddress::ipv6(std::span<const uint8_t, 16>(bytes_.data(), 16), 0);
  return address.ip_string() + "/" + std::to_string(prefix_length_);
}

}  // namespace mx
