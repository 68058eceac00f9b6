// Feeds arbitrary bytes to every SOCKS5 parser. Besides not crashing, each
// result must keep the codec's promises: NeedMore only below the message cap,
// Done with an exact length (one byte less needs more), the parsed message
// re-encodes to the same bytes, and Error carries a reason and a sane reply.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mxegress/codec/socks5.h"

namespace {

using namespace mx;
using namespace mx::socks5;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "socks5 invariant broken: %s\n", what);
  std::abort();
}

void keep_as_is(Bytes&) {}

// Request and reply: RSV is tolerated on input but always encoded as zero.
void zero_reserved(Bytes& message) { message[2] = 0x00; }

// Any non-zero auth STATUS is a failure, which we encode as 0x01.
void canonical_status(Bytes& message) { message[1] = message[1] == 0x00 ? 0x00 : 0x01; }

// `reencode` appends the parsed message; `canonical` turns the input bytes into
// what the encoder writes for the same message.
template <typename Parse, typename Reencode>
void check(ByteView in, size_t cap, Parse parse, Reencode reencode,
           void (*canonical)(Bytes&) = keep_as_is) {
  const ParseResult result = parse(in);
  switch (result.status) {
    case ParseStatus::NeedMore:
      require(in.size() < cap, "NeedMore at or beyond the cap");
      require(result.consumed == 0, "NeedMore consumed bytes");
      return;
    case ParseStatus::Error:
      require(!result.error.empty(), "Error without a reason");
      require(result.reply == Reply::GeneralFailure || result.reply == Reply::CommandNotSupported ||
                  result.reply == Reply::AddressTypeNotSupported,
              "Error with an unexpected reply");
      return;
    case ParseStatus::Done:
      break;
  }
  require(result.consumed > 0 && result.consumed <= in.size(), "Done length out of range");
  require(result.consumed <= cap, "Done beyond the cap");
  require(parse(in.first(result.consumed)).status == ParseStatus::Done, "exact length not Done");
  require(parse(in.first(result.consumed - 1)).status == ParseStatus::NeedMore,
          "one byte short not NeedMore");
  Bytes expected(in.begin(), in.begin() + static_cast<ptrdiff_t>(result.consumed));
  canonical(expected);
  Bytes again;
  reencode(again);
  require(again == expected, "re-encoding differs from the input");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in(data, size);

  Greeting greeting;
  check(
      in, kMaxGreeting, [&](ByteView b) { return parse_greeting(b, greeting); },
      [&](Bytes& out) { encode_greeting(out, greeting.methods); });

  Credentials credentials;
  check(
      in, kMaxUserPass, [&](ByteView b) { return parse_credentials(b, credentials); },
      [&](Bytes& out) { encode_credentials(out, credentials.user, credentials.password); });

  Request request;
  check(
      in, kMaxRequest, [&](ByteView b) { return parse_request(b, request); },
      [&](Bytes& out) { encode_request(out, request.command, request.target); }, zero_reserved);

  Target target;
  check(
      in, kMaxAddress, [&](ByteView b) { return decode_address(b, target); },
      [&](Bytes& out) { encode_address(out, target); });

  ReplyMessage reply;
  check(
      in, kMaxReply, [&](ByteView b) { return parse_reply(b, reply); },
      [&](Bytes& out) { encode_reply(out, reply.reply, reply.bound); }, zero_reserved);

  uint8_t method = 0;
  check(
      in, 2, [&](ByteView b) { return parse_method_selection(b, method); },
      [&](Bytes& out) { encode_method_selection(out, method); });

  bool ok = false;
  check(
      in, 2, [&](ByteView b) { return parse_auth_status(b, ok); },
      [&](Bytes& out) { encode_auth_status(out, ok); }, canonical_status);

  if (size > 0) reply_name(static_cast<Reply>(data[0]));
  valid_domain(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
