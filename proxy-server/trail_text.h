// The bytes of the abuse trail's text fields, shown safely on a terminal.
//
// Trail fields carry bytes from the network: a SOCKS5 domain may hold any
// byte but NUL, controls and space, so also bytes that are not UTF-8 (0xff).
// The writer makes them valid JSON (util/json_string); the query prints
// fields for a terminal with controls and ill-formed bytes as \xNN. Pure.
#pragma once

#include <string>
#include <string_view>

#include "mxegress/util/utf8.h"

namespace mx {

// `text` for a terminal: controls (C0, DEL, C1) and ill-formed UTF-8 as
// \xNN (one per byte), a backslash doubled, other UTF-8 as it is.
std::string printable(std::string_view text);

}  // namespace mx
