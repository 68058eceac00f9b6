// The AUTH exchange that opens every tunnel (docs/PROTOCOL.md,
// "Authentication"), as a codec: the caller supplies the TLS exporter of its
// connection and gets frames to send, or verdicts on frames received. No I/O,
// so both halves are unit-tested back to back (tests/unit/codec/auth_test.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/util/bytes.h"

namespace mx::auth {

using Exporter = std::span<const uint8_t, 32>;

// The client's half.

// The AUTH frame: our key, its signature over this connection's exporter,
// and the credit we grant each session (`window`, non-zero).
Bytes request(const ClientIdentity& identity, Exporter exporter, uint32_t window);

// The server's answer to it: the credit it grants each session, or why not.
struct Answer {
  std::optional<uint32_t> window;            // set: authenticated
  std::optional<frame::AuthStatus> refusal;  // set: the server refused our key (its status)
  std::string error;                         // why not, for the log
};
Answer read_answer(const frame::Frame& f);

// The server's half.

struct Verdict {
  frame::AuthStatus status = frame::AuthStatus::Malformed;
  PublicKey key{};      // the key the client presented (when it parsed)
  uint32_t window = 0;  // the client's credit per session (when Ok)
  std::string detail;   // why not, for the log
};
// Parses AUTH and checks, in this order: version, that `known(key)` (an
// unknown key costs no signature check), the signature, a non-zero window.
// Whether the key's tenant may open this tunnel is the caller's policy.
Verdict check_request(const frame::Frame& f, Exporter exporter,
                      const std::function<bool(const PublicKey&)>& known);

// The AUTH_RESULT frame for a verdict; `window` is ours, sent only with Ok.
Bytes answer(frame::AuthStatus status, uint32_t window);

}  // namespace mx::auth
