#include "mxegress/codec/socks5.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <stdexcept>

namespace mx::socks5 {
namespace {

constexpr size_t kMaxNameLength = 255;

ParseResult need_more() { return {}; }

ParseResult done(size_t consumed) {
  ParseResult result;
  result.status = ParseStatus::Done;
  result.consumed = consumed;
  return result;
}

ParseResult error(std::string why, Reply reply = Reply::GeneralFailure) {
  ParseResult result;
  result.status = ParseStatus::Error;
  result.reply = reply;
  result.error = std::move(why);
  return result;
}

std::string hex(uint8_t byte) {
  char text[5];
  std::snprintf(text, sizeof text, "0x%02x", byte);
  return text;
}

// What usually sits behind a wrong first byte, for the operator reading the log.
const char* version_hint(uint8_t version) {
  if (version == 0x04) return " (a SOCKS4 client?)";
  if (version == 0x16) return " (a TLS ClientHello?)";
  if (version >= 'A' && version <= 'Z') return " (an HTTP request?)";
  return "";
}

// Error on a wrong first byte, NeedMore on empty input, nullopt to go on.
std::optional<ParseResult> stop_unless_socks5(ByteView in) {
  if (in.empty()) return need_more();
  if (in[0] == kVersion) return std::nullopt;
  return error("version " + std::to_string(in[0]) + " is not SOCKS5" + version_hint(in[0]));
}

std::optional<ParseResult> stop_unless_userpass_version(ByteView in) {
  if (in.empty()) return need_more();
  if (in[0] == kUserPassVersion) return std::nullopt;
  return error("username/password version " + std::to_string(in[0]) + " is not 1 (RFC 1929)");
}

bool known_command(uint8_t byte) {
  return byte == static_cast<uint8_t>(Command::Connect) ||
         byte == static_cast<uint8_t>(Command::Bind) ||
         byte == static_cast<uint8_t>(Command::UdpAssociate);
}

template <size_t N>
ParseResult decode_ip(ByteView in, Target& out) {
  constexpr size_t kLength = 1 + N + 2;
  if (in.size() < kLength) return need_more();
  Target target;
  target.kind = N == 4 ? Target::Kind::IPv4 : Target::Kind::IPv6;
  std::copy_n(in.begin() + 1, N, target.ip.begin());
  target.port = read_u16(in.data() + 1 + N);
  out = std::move(target);
  return done(kLength);
}

ParseResult decode_domain(ByteView in, Target& out) {
  if (in.size() < 2) return need_more();
  const size_t name_length = in[1];
  // An empty name, or one with NUL, space or control bytes, could smuggle a
  // different name past getaddrinfo (which stops at NUL) or into the log line.
  // It is refused with 0x01 (general failure): the address type itself is fine.
  if (name_length == 0) return error("empty domain name");
  const size_t length = 2 + name_length + 2;
  if (in.size() < length) return need_more();
  std::string name(reinterpret_cast<const char*>(in.data() + 2), name_length);
  if (!valid_domain(name)) return error("domain name holds a control, space or NUL byte");
  out = Target::domain_name(std::move(name), read_u16(in.data() + 2 + name_length));
  return done(length);
}

// VER CODE RSV ADDRESS, the shape of both a request and a reply. RSV should be
// X'00' (RFC 1928) but is not checked: it carries nothing, so be liberal.
ParseResult decode_header_address(ByteView in, Target& target) {
  if (in.size() < 3) return need_more();
  ParseResult result = decode_address(in.subspan(3), target);
  if (result.status == ParseStatus::Done) result.consumed += 3;
  return result;
}

void append_name(Bytes& out, std::string_view name) {
  assert(!name.empty() && name.size() <= kMaxNameLength);
  const size_t length = std::min(name.size(), kMaxNameLength);
  out.push_back(static_cast<uint8_t>(length));
  out.insert(out.end(), name.begin(), name.begin() + length);
}

}  // namespace

const char* reply_name(Reply reply) {
  switch (reply) {
    case Reply::Succeeded:
      return "succeeded";
    case Reply::GeneralFailure:
      return "general SOCKS server failure";
    case Reply::NotAllowed:
      return "connection not allowed by ruleset";
    case Reply::NetworkUnreachable:
      return "network unreachable";
    case Reply::HostUnreachable:
      return "host unreachable";
    case Reply::ConnectionRefused:
      return "connection refused";
    case Reply::TtlExpired:
      return "TTL expired";
    case Reply::CommandNotSupported:
      return "command not supported";
    case Reply::AddressTypeNotSupported:
      return "address type not supported";
  }
  return "unassigned reply code";
}

std::optional<Reply> reply_from_wire(uint8_t code) {
  if (code > static_cast<uint8_t>(Reply::AddressTypeNotSupported)) return std::nullopt;
  return static_cast<Reply>(code);
}

bool valid_domain(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto byte = static_cast<uint8_t>(c);
    return byte < 0x21 || byte == 0x7f;
  });
}

// ---- Server side ----

ParseResult parse_greeting(ByteView in, Greeting& out) {
  if (auto stop = stop_unless_socks5(in)) return *stop;
  if (in.size() < 2) return need_more();
  const size_t method_count = in[1];
  if (method_count == 0) return error("greeting offers no methods");
  const size_t length = 2 + method_count;
  if (in.size() < length) return need_more();
  out.methods.assign(in.begin() + 2, in.begin() + length);
  return done(length);
}

ParseResult parse_credentials(ByteView in, Credentials& out) {
  if (auto stop = stop_unless_userpass_version(in)) return *stop;
  if (in.size() < 2) return need_more();
  const size_t user_length = in[1];
  if (user_length == 0) return error("empty username");
  if (in.size() < 2 + user_length + 1) return need_more();
  const size_t password_length = in[2 + user_length];
  if (password_length == 0) return error("empty password");
  const size_t length = 2 + user_length + 1 + password_length;
  if (in.size() < length) return need_more();
  const auto* bytes = reinterpret_cast<const char*>(in.data());
  out.user.assign(bytes + 2, user_length);
  out.password.assign(bytes + 3 + user_length, password_length);
  return done(length);
}

ParseResult parse_request(ByteView in, Request& out) {
  if (auto stop = stop_unless_socks5(in)) return *stop;
  if (in.size() < 2) return need_more();
  if (!known_command(in[1])) {
    return error("command " + hex(in[1]) + " is not supported", Reply::CommandNotSupported);
  }
  Target target;
  ParseResult result = decode_header_address(in, target);
  if (result.status == ParseStatus::Done) out = {static_cast<Command>(in[1]), std::move(target)};
  return result;
}

void encode_method_selection(Bytes& out, uint8_t method) {
  out.push_back(kVersion);
  out.push_back(method);
}

void encode_auth_status(Bytes& out, bool ok) {
  out.push_back(kUserPassVersion);
  out.push_back(ok ? 0x00 : 0x01);
}

void encode_reply(Bytes& out, Reply reply, const Target& bound) {
  out.push_back(kVersion);
  out.push_back(static_cast<uint8_t>(reply));
  out.push_back(0x00);
  encode_address(out, bound);
}

// ---- Address ----

void encode_address(Bytes& out, const Target& target) {
  out.push_back(static_cast<uint8_t>(target.kind));
  switch (target.kind) {
    case Target::Kind::IPv4:
      out.insert(out.end(), target.ip.begin(), target.ip.begin() + 4);
      break;
    case Target::Kind::IPv6:
      out.insert(out.end(), target.ip.begin(), target.ip.end());
      break;
    case Target::Kind::Domain:
      append_name(out, target.domain);
      break;
  }
  append_u16(out, target.port);
}

ParseResult decode_address(ByteView in, Target& out) {
  if (in.empty()) return need_more();
  switch (static_cast<Target::Kind>(in[0])) {
    case Target::Kind::IPv4:
      return decode_ip<4>(in, out);
    case Target::Kind::IPv6:
      return decode_ip<16>(in, out);
    case Target::Kind::Domain:
      return decode_domain(in, out);
  }
  return error("address type " + hex(in[0]) + " is not supported", Reply::AddressTypeNotSupported);
}

// ---- Client side ----

void encode_greeting(Bytes& out, std::span<const uint8_t> methods) {
  assert(!methods.empty() && methods.size() <= 255);
  const size_t count = std::min<size_t>(methods.size(), 255);
  out.push_back(kVersion);
  out.push_back(static_cast<uint8_t>(count));
  out.insert(out.end(), methods.begin(), methods.begin() + count);
}

void encode_credentials(Bytes& out, std::string_view user, std::string_view password) {
  const auto fits = [](std::string_view s) { return !s.empty() && s.size() <= kMaxNameLength; };
  if (!fits(user)) throw std::invalid_argument("SOCKS5 username must be 1..255 bytes");
  if (!fits(password)) throw std::invalid_argument("SOCKS5 password must be 1..255 bytes");
  out.push_back(kUserPassVersion);
  append_name(out, user);
  append_name(out, password);
}

void encode_request(Bytes& out, Command command, const Target& target) {
  out.push_back(kVersion);
  out.push_back(static_cast<uint8_t>(command));
  out.push_back(0x00);
  encode_address(out, target);
}

ParseResult parse_method_selection(ByteView in, uint8_t& method) {
  if (auto stop = stop_unless_socks5(in)) return *stop;
  if (in.size() < 2) return need_more();
  method = in[1];
  return done(2);
}

ParseResult parse_auth_status(ByteView in, bool& ok) {
  if (auto stop = stop_unless_userpass_version(in)) return *stop;
  if (in.size() < 2) return need_more();
  ok = in[1] == 0x00;  // RFC 1929: any other STATUS is a failure
  return done(2);
}

ParseResult parse_reply(ByteView in, ReplyMessage& out) {
  if (auto stop = stop_unless_socks5(in)) return *stop;
  if (in.size() < 2) return need_more();
  const std::optional<Reply> reply = reply_from_wire(in[1]);
  if (!reply) return error("reply code " + hex(in[1]) + " is unassigned");
  Target bound;
  ParseResult result = decode_header_address(in, bound);
  if (result.status == ParseStatus::Done) out = {*reply, std::move(bound)};
  return result;
}

}  // namespace mx::socks5
