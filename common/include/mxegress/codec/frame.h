// The tunnel's framing, inside TLS: type (1 byte) | length (2 bytes, big
// endian) | payload. Pure codec: no I/O. docs/PROTOCOL.md has the exact bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "mxegress/net/target.h"
#include "mxegress/util/bytes.h"

namespace mx::frame {

enum class Type : uint8_t {
  Auth = 0x01,          // client → server: version, Ed25519 public key, signature, window
  AuthResult = 0x02,    // server → client: status, reason text, window
  Connect = 0x03,       // client → server: session id, target (SOCKS5 address encoding)
  ConnectReply = 0x04,  // server → client: session id, SOCKS5 reply code, bound address
  Data = 0x05,          // session id, relayed bytes
  Fin = 0x06,           // session id: no more Data in this direction
  Rst = 0x07,           // session id: the session is aborted (the tunnel carries on)
  Ping = 0x08,          // liveness; answered by Pong with the same payload
  Pong = 0x09,
  GoAway = 0x0a,  // server → client: start no new session here; closed after the last
  // 0x0b was version 1's END; it is not a frame of version 2.
  Window = 0x0c,  // session id, u32 credit returned
};

inline constexpr size_t kHeaderSize = 3;
inline constexpr size_t kMaxPayload = 65535 - kHeaderSize;
inline constexpr uint8_t kProtocolVersion = 2;
// Every session frame's payload starts with its session id.
inline constexpr size_t kSessionIdSize = 4;
// A Data frame's bytes; a read of the relay is four of these exactly
// (TcpConnection::kReadBufferSize), so the far end writes whole frames.
inline constexpr size_t kMaxDataPayload = kMaxPayload - kSessionIdSize;

const char* type_name(Type type);
bool is_known_type(uint8_t type);

struct Frame {
  Type type;
  ByteView payload;  // points into the decoder's input
};

enum class DecodeStatus { NeedMore, Ok, Error };
struct DecodeResult {
  DecodeStatus status = DecodeStatus::NeedMore;
  size_t consumed = 0;
  Frame frame{Type::Data, {}};
  std::string error;
};

// Decodes one frame from the front of `in`.
DecodeResult decode(ByteView in);

// Encoders append one whole frame to `out`.
void encode_header(Bytes& out, Type type, size_t payload_size);
void encode_frame(Bytes& out, Type type, ByteView payload);

enum class AuthStatus : uint8_t {
  Ok = 0,
  UnknownKey = 1,
  BadSignature = 2,
  UnsupportedVersion = 3,
  NotAllowed = 4,  // tenant disabled, or tunnel from an address it may not use
  Malformed = 5,
};
const char* auth_status_name(AuthStatus status);

// AUTH and AUTH_RESULT carry the credit each side grants every session
// (the receive window, non-zero on success); codec/auth.h builds and checks
// them.
struct AuthMessage {
  uint8_t version = kProtocolVersion;
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> signature{};
  uint32_t window = 0;
};
struct AuthResultMessage {
  AuthStatus status = AuthStatus::Ok;
  std::string reason;
  uint32_t window = 0;  // 0 unless status is Ok
};
struct ConnectReplyMessage {
  uint8_t reply = 0;  // a SOCKS5 reply code
  Target bound;
};

// Fixed fields come first; whatever follows them is a list of extensions
// (type 1 byte, length 2 bytes, value) that this version skips unread, so a
// later version can add fields without breaking this one.
void encode_auth(Bytes& out, const AuthMessage& msg);
std::optional<AuthMessage> parse_auth(ByteView payload);
void encode_auth_result(Bytes& out, const AuthResultMessage& msg);
std::optional<AuthResultMessage> parse_auth_result(ByteView payload);

// Session frames: the id, then the body.
struct SessionFrame {
  uint32_t session = 0;
  ByteView body;
};
bool is_session_frame(Type type);  // Connect, ConnectReply, Data, Fin, Rst, Window
std::optional<SessionFrame> split_session(ByteView payload);
void encode_session_frame(Bytes& out, Type type, uint32_t session, ByteView body);
void encode_connect(Bytes& out, uint32_t session, const Target& target);
// The body of a CONNECT (after the session id).
std::optional<Target> parse_connect(ByteView body, bool& bad_address_type);
void encode_connect_reply(Bytes& out, uint32_t session, const ConnectReplyMessage& msg);
std::optional<ConnectReplyMessage> parse_connect_reply(ByteView body);
void encode_window(Bytes& out, uint32_t session, uint32_t increment);
std::optional<uint32_t> parse_window(ByteView body);

}  // namespace mx::frame
