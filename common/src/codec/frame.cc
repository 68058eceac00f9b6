#include "mxegress/codec/frame.h"

#include <algorithm>

#include "mxegress/codec/socks5.h"

namespace mx::frame {
namespace {

// Extensions after the fixed fields: each is type(1) length(2) value. They
// must be well formed even though this version ignores them.
bool extensions_well_formed(ByteView rest) {
  while (!rest.empty()) {
    if (rest.size() < 3) return false;
    const size_t len = read_u16(rest.data() + 1);
    if (rest.size() < 3 + len) return false;
    rest = rest.subspan(3 + len);
  }
  return true;
}

}  // namespace

const char* type_name(Type type) {
  switch (type) {
    case Type::Auth:
      return "AUTH";
    case Type::AuthResult:
      return "AUTH_RESULT";
    case Type::Connect:
      return "CONNECT";
    case Type::ConnectReply:
      return "CONNECT_REPLY";
    case Type::Data:
      return "DATA";
    case Type::Fin:
      return "FIN";
    case Type::Rst:
      return "RST";
    case Type::Ping:
      return "PING";
    case Type::Pong:
      return "PONG";
    case Type::GoAway:
      return "GOAWAY";
    case Type::Window:
      return "WINDOW";
  }
  return "UNKNOWN";
}

bool is_known_type(uint8_t type) { return type >= 0x01 && type <= 0x0c && type != 0x0b; }

DecodeResult decode(ByteView in) {
  DecodeResult result;
  if (in.size() < kHeaderSize) return result;
  const uint8_t type = in[0];
  const size_t len = read_u16(in.data() + 1);
  if (!is_known_type(type)) {
    result.status = DecodeStatus::Error;
    result.error = "unknown frame type " + std::to_string(type);
    return result;
  }
  if (len > kMaxPayload) {
    result.status = DecodeStatus::Error;
    result.error = "frame of " + std::to_string(len) + " bytes exceeds the maximum";
    return result;
  }
  if (in.size() < kHeaderSize + len) return result;
  result.status = DecodeStatus::Ok;
  result.consumed = kHeaderSize + len;
  result.frame = Frame{static_cast<Type>(type), in.subspan(kHeaderSize, len)};
  return result;
}

void encode_header(Bytes& out, Type type, size_t payload_size) {
  out.push_back(static_cast<uint8_t>(type));
  append_u16(out, static_cast<uint16_t>(payload_size));
}

void encode_frame(Bytes& out, Type type, ByteView payload) {
  encode_header(out, type, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
}

const char* auth_status_name(AuthStatus status) {
  switch (status) {
    case AuthStatus::Ok:
      return "ok";
    case AuthStatus::UnknownKey:
      return "unknown key";
    case AuthStatus::BadSignature:
      return "bad signature";
    case AuthStatus::UnsupportedVersion:
      return "unsupported protocol version";
    case AuthStatus::NotAllowed:
      return "not allowed";
    case AuthStatus::Malformed:
      return "malformed AUTH";
  }
  return "unknown status";
}

void encode_auth(Bytes& out, const AuthMessage& msg) {
  encode_header(out, Type::Auth, 1 + 32 + 64 + 4);
  out.push_back(msg.version);
  out.insert(out.end(), msg.public_key.begin(), msg.public_key.end());
  out.insert(out.end(), msg.signature.begin(), msg.signature.end());
  append_u32(out, msg.window);
}

std::optional<AuthMessage> parse_auth(ByteView payload) {
  // The version comes first and alone decides the rest: a peer of another
  // version gets "unsupported version", not "malformed".
  if (payload.empty()) return std::nullopt;
  AuthMessage msg;
  msg.version = payload[0];
  if (msg.version != kProtocolVersion) return msg;
  constexpr size_t kFixed = 1 + 32 + 64 + 4;
  if (payload.size() < kFixed || !extensions_well_formed(payload.subspan(kFixed))) {
    return std::nullopt;
  }
  std::copy_n(payload.begin() + 1, 32, msg.public_key.begin());
  std::copy_n(payload.begin() + 33, 64, msg.signature.begin());
  msg.window = read_u32(payload.data() + 97);
  return msg;
}

void encode_auth_result(Bytes& out, const AuthResultMessage& msg) {
  const size_t reason_len = std::min<size_t>(msg.reason.size(), 255);
  encode_header(out, Type::AuthResult, 2 + reason_len + 4);
  out.push_back(static_cast<uint8_t>(msg.status));
  out.push_back(static_cast<uint8_t>(reason_len));
  out.insert(out.end(), msg.reason.begin(), msg.reason.begin() + reason_len);
  append_u32(out, msg.window);
}

std::optional<AuthResultMessage> parse_auth_result(ByteView payload) {
  if (payload.size() < 2) return std::nullopt;
  const size_t reason_len = payload[1];
  const size_t fixed = 2 + reason_len + 4;
  if (payload.size() < fixed || !extensions_well_formed(payload.subspan(fixed))) {
    return std::nullopt;
  }
  AuthResultMessage msg;
  msg.status = static_cast<AuthStatus>(payload[0]);
  msg.reason.assign(reinterpret_cast<const char*>(payload.data() + 2), reason_len);
  msg.window = read_u32(payload.data() + 2 + reason_len);
  return msg;
}

bool is_session_frame(Type type) {
  switch (type) {
    case Type::Connect:
    case Type::ConnectReply:
    case Type::Data:
    case Type::Fin:
    case Type::Rst:
    case Type::Window:
      return true;
    default:
      return false;
  }
}

std::optional<SessionFrame> split_session(ByteView payload) {
  if (payload.size() < kSessionIdSize) return std::nullopt;
  return SessionFrame{read_u32(payload.data()), payload.subspan(kSessionIdSize)};
}

void encode_session_frame(Bytes& out, Type type, uint32_t session, ByteView body) {
  encode_header(out, type, kSessionIdSize + body.size());
  append_u32(out, session);
  out.insert(out.end(), body.begin(), body.end());
}

void encode_connect(Bytes& out, uint32_t session, const Target& target) {
  Bytes address;
  socks5::encode_address(address, target);
  encode_session_frame(out, Type::Connect, session, address);
}

std::optional<Target> parse_connect(ByteView body, bool& bad_address_type) {
  Target target;
  const socks5::ParseResult r = socks5::decode_address(body, target);
  bad_address_type =
      r.status == socks5::ParseStatus::Error && r.reply == socks5::Reply::AddressTypeNotSupported;
  if (r.status != socks5::ParseStatus::Done || !extensions_well_formed(body.subspan(r.consumed))) {
    return std::nullopt;
  }
  return target;
}

void encode_connect_reply(Bytes& out, uint32_t session, const ConnectReplyMessage& msg) {
  Bytes body;
  body.push_back(msg.reply);
  socks5::encode_address(body, msg.bound);
  encode_session_frame(out, Type::ConnectReply, session, body);
}

std::optional<ConnectReplyMessage> parse_connect_reply(ByteView body) {
  if (body.empty()) return std::nullopt;
  ConnectReplyMessage msg;
  msg.reply = body[0];
  const socks5::ParseResult r = socks5::decode_address(body.subspan(1), msg.bound);
  if (r.status != socks5::ParseStatus::Done ||
      !extensions_well_formed(body.subspan(1 + r.consumed))) {
    return std::nullopt;
  }
  return msg;
}

void encode_window(Bytes& out, uint32_t session, uint32_t increment) {
  encode_header(out, Type::Window, kSessionIdSize + 4);
  append_u32(out, session);
  append_u32(out, increment);
}

std::optional<uint32_t> parse_window(ByteView body) {
  if (body.size() != 4) return std::nullopt;
  const uint32_t increment = read_u32(body.data());
  if (increment == 0) return std::nullopt;
  return increment;
}

}  // namespace mx::frame
