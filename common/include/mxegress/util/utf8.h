// Well-formed UTF-8, by Unicode Table 3-7 (no overlong forms, surrogates or
// code points above U+10FFFF): the one decoder of the code, for the JSON
// strings we write (util/json_string) and for what the trail query prints.
// Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mx {

// The UTF-8 sequence at text[at] (at < text.size()): its size and code point
// when well-formed; else `valid` false and `size` the length of its maximal
// subpart (Unicode 15 section 3.9), at least 1.
struct Utf8Step {
  size_t size = 1;
  bool valid = false;
  uint32_t code_point = 0;
};
Utf8Step utf8_step(std::string_view text, size_t at);

bool is_valid_utf8(std::string_view text);

// `text` with each ill-formed subpart replaced by U+FFFD (as JSON strings
// get it: util/json_string).
std::string replace_invalid_utf8(std::string_view text);

}  // namespace mx
