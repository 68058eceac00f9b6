#include "mxegress/util/utf8.h"

namespace mx {

Utf8Step utf8_step(std::string_view text, size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  if (lead < 0x80) return {1, true, lead};
  size_t follow = 0;
  uint32_t cp = 0;
  // The range of the second byte depends on the first (Table 3-7); the
  // others are always 80..BF.
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    follow = 1, cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    follow = 2, cp = lead & 0x0F;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    follow = 3, cp = lead & 0x07;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false, 0};
  }
  size_t n = 1;
  for (; n <= follow; ++n) {
    if (at + n >= text.size()) return {n, false, 0};
    const auto c = static_cast<unsigned char>(text[at + n]);
    if (c < low || c > high) return {n, false, 0};
    cp = (cp << 6) | (c & 0x3F);
    low = 0x80, high = 0xBF;
  }
  return {n, true, cp};
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const Utf8Step step = utf8_step(text, i);
    if (step.valid) {
      out.append(text.substr(i, step.size));
    } else {
      out.append("\xef\xbf\xbd");  // U+FFFD
    }
    i += step.size;
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Step step = utf8_step(text, i);
    if (!step.valid) return false;
    i += step.size;
  }
  return true;
}

}  // namespace mx
