// JSON strings from bytes that come off the network, for the one writer of
// each JSON text we produce: log lines (util/log) and the abuse trail.
//
// Such bytes need not be UTF-8 (a SOCKS5 domain may hold 0xff), and JSON text
// is UTF-8, so each ill-formed sequence becomes U+FFFD, one per maximal
// subpart (Unicode 15 section 3.9), exactly as nlohmann::json's
// dump(error_handler_t::replace) does (a unit test compares the two): every
// line we write parses. Pure.
#pragma once

#include <string>
#include <string_view>

namespace mx {

// Appends `text` as a JSON string, quotes included: '"', '\\' and control
// characters escaped (\n, \r, \t, else \u00XX), ill-formed UTF-8 replaced by
// U+FFFD, everything else as it is (DEL and C1 controls too: JSON allows
// them). At most one allocation (out's growth).
void append_json_string(std::string& out, std::string_view text);

// The same as a new string.
std::string json_string(std::string_view text);

}  // namespace mx
