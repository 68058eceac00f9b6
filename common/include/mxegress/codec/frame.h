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
  Auth = 0x01,          // client → server: version, Ed25519 public key, signature
  AuthResult = 0x02,    // server → client: status, reason text
  Connect = 0x03,       // client → server: target (SOCKS5 address encoding)
  ConnectReply = 0x04,  // server → client: SOCKS5 reply code, bound address
  Data = 0x05,          // relayed bytes
  Fin = 0x06,           // no more Data in this direction for this session
  Rst = 0x07,           // abortive close of the session; the tunnel closes too
  Ping = 0x08,          // keepalive while pooled; answered by Pong with the same payload
  Pong = 0x09,
  GoAway = 0x0a,  // server → client: finish the current session(s), then close
  End = 0x0b,     // server → client: the session is over on the server; tunnel idle
  Window = 0x0c,  // multiplexed tunnels: u32 session id | u32 credit returned
};

inline constexpr size_t kHeaderSize = 3;
// A read of the relay (60 KiB) fits one Data frame, so the far end writes it
// to its socket in one system call; OpenSSL cuts the frame into records.
inline constexpr size_t kMaxDataPayload = 65535 - kHeaderSize;
inline constexpr size_t kMaxPayload = kMaxDataPayload;
inline constexpr uint8_t kProtocolVersion = 1;
// Multiplexed tunnels (docs/PROTOCOL.md): every session frame's payload
// starts with the session id, so a Data frame carries 4 bytes less.
inline constexpr size_t kSessionIdSize = 4;
inline constexpr size_t kMaxMuxDataPayload = kMaxDataPayload - kSessionIdSize;
// The AUTH / AUTH_RESULT extension that asks for (and grants) the
// multiplexed mode; its value is the sender's per-session receive window.
inline constexpr uint8_t kMuxExtension = 1;

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

struct AuthMessage {
  uint8_t version = kProtocolVersion;
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> signature{};
  std::optional<uint32_t> mux_window;  // set: the client asks for the multiplexed mode
};
struct AuthResultMessage {
  AuthStatus status = AuthStatus::Ok;
  std::string reason;
  std::optional<uint32_t> mux_window;  // set: the server granted it
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
// `session`: the session id of a multiplexed tunnel, written first.
void encode_connect(Bytes& out, const Target& target, std::optional<uint32_t> session = {});
std::optional<Target> parse_connect(ByteView payload, bool& bad_address_type);
void encode_connect_reply(Bytes& out, const ConnectReplyMessage& msg,
                          std::optional<uint32_t> session = {});
std::optional<ConnectReplyMessage> parse_connect_reply(ByteView payload);

// Multiplexed tunnels: a session frame is its id, then the version 1 payload.
struct SessionFrame {
  uint32_t session = 0;
  ByteView body;
};
bool is_session_frame(Type type);  // Connect, ConnectReply, Data, Fin, Rst, Window
std::optional<SessionFrame> split_session(ByteView payload);
void encode_session_frame(Bytes& out, Type type, uint32_t session, ByteView body);
void encode_window(Bytes& out, uint32_t session, uint32_t increment);
std::optional<uint32_t> parse_window(ByteView body);

}  // namespace mx::frame
