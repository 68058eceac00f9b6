// The bytes of the abuse trail's text fields, written and shown safely.
//
// Trail fields carry bytes from the network: a SOCKS5 domain may hold any
// byte but NUL, controls and space, so also bytes that are not UTF-8 (0xff).
// JSON text is UTF-8, so the writer replaces each ill-formed sequence by
// U+FFFD, exactly as nlohmann::json's dump(error_handler_t::replace) does
// (one U+FFFD per maximal subpart, Unicode 15 section 3.9; a unit test
// compares the two): every line the trail gets is valid JSON. The query prints fields for a
// terminal with controls and ill-formed bytes as \xNN. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxegress/util/utf8.h"

namespace mx {

// `text` with each ill-formed subpart replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view text);

// Appends `text` as a JSON string, quotes included: '"', '\\' and control
// characters escaped (\n, \r, \t, else \u00XX), ill-formed UTF-8 replaced by
// U+FFFD, everything else as it is. One allocation at most (out's growth).
void append_json_string(std::string& out, std::string_view text);

// `text` for a terminal: controls (C0, DEL, C1) and ill-formed UTF-8 as
// \xNN (one per byte), a backslash doubled, other UTF-8 as it is.
std::string printable(std::string_view text);

}  // namespace mx
