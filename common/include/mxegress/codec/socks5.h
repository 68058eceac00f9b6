// SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929),
// server side and client side, without I/O. A parser takes everything buffered
// so far and answers NeedMore, Done (with the exact length of the message, so
// pipelined bytes after it stay with the caller) or Error. An encoder appends
// one message to a buffer the caller owns. Bad input never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/net/target.h"
#include "mxegress/util/bytes.h"

namespace mx::socks5 {

inline constexpr uint8_t kVersion = 0x05;
inline constexpr uint8_t kUserPassVersion = 0x01;  // RFC 1929 sub-negotiation version

enum class Reply : uint8_t {
  Succeeded = 0x00,
  GeneralFailure = 0x01,
  NotAllowed = 0x02,
  NetworkUnreachable = 0x03,
  HostUnreachable = 0x04,
  ConnectionRefused = 0x05,
  TtlExpired = 0x06,
  CommandNotSupported = 0x07,
  AddressTypeNotSupported = 0x08,
};

// "succeeded", "connection refused", ...; "unassigned reply code" outside 0x00..0x08.
const char* reply_name(Reply reply);
// The Reply for a wire byte, or nullopt for the unassigned codes 0x09..0xFF.
std::optional<Reply> reply_from_wire(uint8_t code);

inline constexpr uint8_t kMethodNoAuth = 0x00;
inline constexpr uint8_t kMethodUserPass = 0x02;
inline constexpr uint8_t kMethodNoAcceptable = 0xFF;

enum class Command : uint8_t { Connect = 0x01, Bind = 0x02, UdpAssociate = 0x03 };

// The longest each client message can be; a parser that says NeedMore always
// holds fewer bytes than this, so these are safe read-buffer caps.
inline constexpr size_t kMaxGreeting = 257;  // VER NMETHODS METHODS[255]
inline constexpr size_t kMaxUserPass = 513;  // VER ULEN UNAME[255] PLEN PASSWD[255]
inline constexpr size_t kMaxRequest = 262;   // VER CMD RSV ATYP LEN NAME[255] PORT
inline constexpr size_t kMaxAddress = 259;   // ATYP LEN NAME[255] PORT
inline constexpr size_t kMaxReply = kMaxRequest;

enum class ParseStatus { NeedMore, Done, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  // When Done: the length of the message. The input may hold more (pipelined data).
  size_t consumed = 0;
  // When Error: the reply to send if one is due (0x07 unknown command,
  // 0x08 unknown address type, 0x01 otherwise).
  Reply reply = Reply::GeneralFailure;
  // When Error: a short reason for the log, e.g. "version 4 is not SOCKS5 (a SOCKS4 client?)".
  // Never contains credential bytes.
  std::string error;
};

struct Greeting {
  std::vector<uint8_t> methods;
};

struct Credentials {
  std::string user;      // 1..255 opaque bytes
  std::string password;  // 1..255 opaque bytes
};

// Bind and UdpAssociate parse fine (the caller answers CommandNotSupported);
// any other command byte is an Error with reply 0x07.
struct Request {
  Command command = Command::Connect;
  Target target;
};

struct ReplyMessage {
  Reply reply = Reply::GeneralFailure;
  Target bound;
};

// Every parser writes `out` only when it returns Done.

// ---- Server side: what a SOCKS5 client sends, and our answers. ----
ParseResult parse_greeting(ByteView in, Greeting& out);
ParseResult parse_credentials(ByteView in, Credentials& out);
ParseResult parse_request(ByteView in, Request& out);
void encode_method_selection(Bytes& out, uint8_t method);
void encode_auth_status(Bytes& out, bool ok);
// `bound` is normally IPv4/IPv6; a Domain bound is encoded as a domain (RFC 1928 allows it).
void encode_reply(Bytes& out, Reply reply, const Target& bound);

// ---- The address encoding ATYP ADDR PORT, shared with the tunnel CONNECT frame. ----
// A domain must be 1..255 bytes; longer names are a programmer error (asserted,
// cut to 255 in release builds). Check names from config with valid_domain().
void encode_address(Bytes& out, const Target& target);
ParseResult decode_address(ByteView in, Target& out);
// 1..255 bytes, none of them below 0x21 or equal to 0x7F.
bool valid_domain(std::string_view name);

// ---- Client side: for tests and the benchmark load generator. ----
// 1..255 methods (asserted; more are cut to 255 in release builds).
void encode_greeting(Bytes& out, std::span<const uint8_t> methods);
// Throws std::invalid_argument if user or password is empty or longer than 255 bytes.
void encode_credentials(Bytes& out, std::string_view user, std::string_view password);
void encode_request(Bytes& out, Command command, const Target& target);
ParseResult parse_method_selection(ByteView in, uint8_t& method);
ParseResult parse_auth_status(ByteView in, bool& ok);
// An unassigned reply code (0x09..0xFF) is an Error.
ParseResult parse_reply(ByteView in, ReplyMessage& out);

}  // namespace mx::socks5
