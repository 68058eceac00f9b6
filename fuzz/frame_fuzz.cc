// Feeds arbitrary bytes to the tunnel frame codec: frame::decode in a loop, as
// the tunnel does over its decrypted stream, and every typed payload parser on
// the whole input and on each decoded payload. Besides not crashing, each result
// must keep the codec's promises: NeedMore only below one whole frame, Ok with
// the exact frame length and a payload inside the input, Error with a reason;
// a parsed message (AUTH, AUTH_RESULT, and a session frame's CONNECT,
// CONNECT_REPLY or WINDOW, protocol version 2) re-encodes to the fixed fields
// it was parsed from.
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
    // Another version parses as its version alone (the server answers
    // "unsupported version"); ours re-encodes to its fixed fields, which the
    // extensions follow.
    if (auth->version == kProtocolVersion) {
      Bytes again;
      encode_auth(again, *auth);
      require_prefix(again, payload, "AUTH does not re-encode to its fixed fields");
    } else {
      require(!payload.empty() && payload[0] == auth->version, "AUTH version misread");
    }
  }
  if (auto result = parse_auth_result(payload)) {
    require(result->reason.size() <= 255, "AUTH_RESULT reason longer than 255");
    Bytes again;
    encode_auth_result(again, *result);
    require_prefix(again, payload, "AUTH_RESULT does not re-encode to its fixed fields");
    (void)auth_status_name(result->status);
  }
  // A session frame: the id, then its body.
  if (auto sf = split_session(payload)) {
    require(sf->body.size() + kSessionIdSize == payload.size(), "session id is not 4 bytes");
    if (auto increment = parse_window(sf->body)) {
      require(*increment != 0, "WINDOW of 0 accepted");
      Bytes again;
      encode_window(again, sf->session, *increment);
      require_prefix(again, payload, "WINDOW does not re-encode");
    }
    bool bad_address_type = false;
    const auto target = parse_connect(sf->body, bad_address_type);
    require(!(target && bad_address_type), "CONNECT parsed and flagged a bad address type");
    if (target) {
      require(target->kind != Target::Kind::Domain || socks5::valid_domain(target->domain),
              "CONNECT accepted an invalid domain");
      Bytes again;
      encode_connect(again, sf->session, *target);
      require_prefix(again, payload, "CONNECT does not re-encode to its fixed fields");
    }
    if (bad_address_type) {
      require(!sf->body.empty(), "bad address type from an empty body");
    }
    if (auto reply = parse_connect_reply(sf->body)) {
      Bytes again;
      encode_connect_reply(again, sf->session, *reply);
      require_prefix(again, payload, "CONNECT_REPLY does not re-encode to its fixed fields");
    }
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
