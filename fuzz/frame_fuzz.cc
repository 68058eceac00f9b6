// Feeds arbitrary bytes to the tunnel frame codec: frame::decode in a loop, as
// the tunnel does over its decrypted stream, and every typed payload parser on
// the whole input and on each decoded payload. Besides not crashing, each result
// must keep the codec's promises: NeedMore only below one whole frame, Ok with
// the exact frame length and a payload inside the input, Error with a reason;
// a parsed message re-encodes to the fixed fields it was parsed from.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/codec/socks5.h"

namespace {

using namespace mx;
using namespace mx::frame;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "frame invariant broken: %s\n", what);
  std::abort();
}

// `encoded` is one whole frame from an encoder; its payload must start with `fixed`.
void require_prefix(const Bytes& encoded, ByteView payload, const char* what) {
  require(encoded.size() >= kHeaderSize, what);
  const size_t fixed = encoded.size() - kHeaderSize;
  require(fixed <= payload.size(), what);
  require(std::equal(encoded.begin() + kHeaderSize, encoded.end(), payload.begin()), what);
}

void parse_payload(ByteView payload) {
  if (auto auth = parse_auth(payload)) {
    // The mux extension may sit anywhere among the extensions: compare the
    // fixed fields without it, and round-trip it on its own.
    AuthMessage fixed = *auth;
    fixed.mux_window.reset();
    Bytes again;
    encode_auth(again, fixed);
    require_prefix(again, payload, "AUTH does not re-encode to its fixed fields");
    Bytes with_window;
    encode_auth(with_window, *auth);
    auto reparsed = parse_auth(ByteView(with_window).subspan(kHeaderSize));
    require(reparsed && reparsed->mux_window == auth->mux_window, "AUTH mux window lost");
  }
  if (auto result = parse_auth_result(payload)) {
    require(result->reason.size() <= 255, "AUTH_RESULT reason longer than 255");
    AuthResultMessage fixed = *result;
    fixed.mux_window.reset();
    Bytes again;
    encode_auth_result(again, fixed);
    require_prefix(again, payload, "AUTH_RESULT does not re-encode to its fixed fields");
    Bytes with_window;
    encode_auth_result(with_window, *result);
    auto reparsed = parse_auth_result(ByteView(with_window).subspan(kHeaderSize));
    require(reparsed && reparsed->mux_window == result->mux_window, "AUTH_RESULT mux window lost");
    (void)auth_status_name(result->status);
  }
  // A multiplexed tunnel's session frame: the id, then a version 1 payload.
  if (auto sf = split_session(payload)) {
    require(sf->body.size() + kSessionIdSize == payload.size(), "session id is not 4 bytes");
    if (auto increment = parse_window(sf->body)) {
      require(*increment != 0, "WINDOW of 0 accepted");
      Bytes again;
      encode_window(again, sf->session, *increment);
      require_prefix(again, payload, "WINDOW does not re-encode");
    }
  }
  bool bad_address_type = false;
  const auto target = parse_connect(payload, bad_address_type);
  require(!(target && bad_address_type), "CONNECT parsed and flagged a bad address type");
  if (target) {
    require(target->kind != Target::Kind::Domain || socks5::valid_domain(target->domain),
            "CONNECT accepted an invalid domain");
    Bytes again;
    encode_connect(again, *target);
    require_prefix(again, payload, "CONNECT does not re-encode to its fixed fields");
  }
  if (bad_address_type) {
    require(!payload.empty(), "bad address type from an empty payload");
  }
  if (auto reply = parse_connect_reply(payload)) {
    Bytes again;
    encode_connect_reply(again, *reply);
    require_prefix(again, payload, "CONNECT_REPLY does not re-encode to its fixed fields");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);

  // The stream as the tunnel sees it: decode frames until one is incomplete or bad.
  ByteView rest = input;
  for (;;) {
    const DecodeResult r = decode(rest);
    if (r.status == DecodeStatus::NeedMore) {
      require(r.consumed == 0, "NeedMore consumed bytes");
      require(rest.size() < kHeaderSize + kMaxPayload, "NeedMore with a whole maximal frame");
      break;
    }
    if (r.status == DecodeStatus::Error) {
      require(r.consumed == 0, "Error consumed bytes");
      require(!r.error.empty(), "Error without a reason");
      require(rest.size() >= kHeaderSize, "Error before the header was complete");
      break;
    }
    require(r.consumed >= kHeaderSize && r.consumed <= rest.size(), "Ok length out of range");
    require(r.consumed == kHeaderSize + r.frame.payload.size(),
            "Ok length is not header + payload");
    require(r.frame.payload.size() <= kMaxPayload, "payload above the maximum");
    require(r.frame.payload.data() == rest.data() + kHeaderSize, "payload not in place");
    require(is_known_type(static_cast<uint8_t>(r.frame.type)), "Ok with an unknown type");
    require(std::string(type_name(r.frame.type)) != "UNKNOWN", "known type without a name");
    require(decode(rest.first(r.consumed - 1)).status == DecodeStatus::NeedMore,
            "one byte short of a frame is not NeedMore");
    Bytes again;
    encode_frame(again, r.frame.type, r.frame.payload);
    require(std::equal(again.begin(), again.end(), rest.begin()) && again.size() == r.consumed,
            "frame does not re-encode to its bytes");
    parse_payload(r.frame.payload);
    rest = rest.subspan(r.consumed);
  }

  // The typed parsers on the raw input too: a payload can be anything up to the cap.
  parse_payload(input);
  if (size > 0) {
    (void)type_name(static_cast<Type>(data[0]));
    (void)auth_status_name(static_cast<AuthStatus>(data[0]));
  }
  return 0;
}
