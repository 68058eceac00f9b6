// Helpers shared by the frame codec tests (frame_test.cc, frame_payloads_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/codec/frame.h"

namespace mx {
// static: other test files may print Targets too, and must not collide at link time.
static inline void PrintTo(const Target& target, std::ostream* os) { *os << target.to_string(); }
}  // namespace mx

namespace mx::frame {

static inline std::ostream& operator<<(std::ostream& os, DecodeStatus status) {
  switch (status) {
    case DecodeStatus::NeedMore:
      return os << "NeedMore";
    case DecodeStatus::Ok:
      return os << "Ok";
    case DecodeStatus::Error:
      return os << "Error";
  }
  return os << "DecodeStatus(?)";
}

static inline std::ostream& operator<<(std::ostream& os, Type type) {
  return os << type_name(type);
}

namespace test {

// "02 0004 00" -> {0x02, 0x00, 0x04, 0x00}; spaces are ignored.
inline Bytes hex(std::string_view text) {
  Bytes out;
  std::string digits;
  for (char c : text) {
    if (c != ' ') digits.push_back(c);
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline Bytes pattern(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + 3);
  return out;
}

// The payload of a frame: whatever follows the 3-byte header.
inline Bytes payload_of(const Bytes& frame) {
  return Bytes(frame.begin() + kHeaderSize, frame.end());
}

// The body of a session frame: whatever follows the header and the session id.
inline Bytes body_of(const Bytes& frame) {
  return Bytes(frame.begin() + kHeaderSize + kSessionIdSize, frame.end());
}

// Two extensions: type 0x07 with "abc", and type 0xfe with an empty value.
inline const Bytes kExtensions = hex("07 0003 616263  fe 0000");

// Every frame type of protocol version 2 (0x0b, version 1's END, is gone).
inline constexpr std::array<Type, 11> kAllTypes = {
    Type::Auth, Type::AuthResult, Type::Connect, Type::ConnectReply, Type::Data,  Type::Fin,
    Type::Rst,  Type::Ping,       Type::Pong,    Type::GoAway,       Type::Window};

inline constexpr std::array<uint8_t, 16> kDocIPv6 = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};  // 2001:db8::1

inline std::vector<Target> sample_targets() {
  return {Target::ipv4({192, 0, 2, 1}, 25), Target::ipv4({255, 255, 255, 255}, 65535),
          Target::ipv6(kDocIPv6, 25), Target::domain_name("mx.example.org", 25),
          Target::domain_name(std::string(255, 'x'), 465)};
}

inline AuthMessage sample_auth() {
  AuthMessage msg;
  msg.version = kProtocolVersion;
  for (size_t i = 0; i < msg.public_key.size(); ++i) msg.public_key[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < msg.signature.size(); ++i) {
    msg.signature[i] = static_cast<uint8_t>(0xff - i);
  }
  msg.window = 0x00400000;
  return msg;
}

}  // namespace test
}  // namespace mx::frame
