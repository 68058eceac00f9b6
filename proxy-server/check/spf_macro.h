// SPF macro expansion (RFC 7208 §7) of a domain-spec, without I/O. In a
// check there is no message: the sender is postmaster@ the domain asked
// about (what §2.4 says a receiver uses for an empty MAIL FROM), and there is
// no HELO name. So %{h} and %{p} (which needs lookups and which §7.3 says
// not to use) are refused as unsupported rather than guessed; %{c}, %{r},
// %{t} belong to exp= only and are a syntax error here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mxegress/net/socket_address.h"

namespace mx::check::spf {

struct MacroContext {
  const SocketAddress& ip;
  std::string_view sender_local;   // "postmaster"
  std::string_view sender_domain;  // the domain the check started from
  std::string_view domain;         // the current domain (%{d}): changes in includes
};

struct MacroResult {
  enum class Error {
    None,
    Syntax,       // a malformed macro, or one of exp='s letters
    Unsupported,  // %{h} or %{p}
  };
  std::string text;  // when error is None
  Error error = Error::None;
  char letter = 0;  // the macro letter at fault
};

// Expands `spec`; a result longer than 253 characters loses labels on the
// left until it fits (§4.8).
MacroResult expand_macros(std::string_view spec, const MacroContext& context);

}  // namespace mx::check::spf
