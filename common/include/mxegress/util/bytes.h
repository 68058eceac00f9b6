// Byte buffer vocabulary shared by every codec: input is a read-only span,
// output is appended to a vector the caller owns.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mx {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline void append_u16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

inline uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

inline void append_u32(Bytes& out, uint32_t v) {
  append_u16(out, static_cast<uint16_t>(v >> 16));
  append_u16(out, static_cast<uint16_t>(v & 0xffff));
}

inline uint32_t read_u32(const uint8_t* p) {
  return (static_cast<uint32_t>(read_u16(p)) << 16) | read_u16(p + 2);
}

}  // namespace mx
