// 32-byte values written as standard base64 with padding (44 characters):
// Ed25519 public keys and SPKI SHA-256 pins.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mx {

using Key32 = std::array<uint8_t, 32>;

// On failure `why` says what is wrong, e.g. "decodes to 31 bytes, expected 32".
std::optional<Key32> decode_base64_key32(std::string_view text, std::string& why);

std::string encode_base64_key32(const Key32& key);

}  // namespace mx
