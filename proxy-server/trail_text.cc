#include "trail_text.h"

namespace mx {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    const Utf8Step step = utf8_step(text, i);
    const uint32_t cp = step.code_point;
    if (!step.valid || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9F)) {
      escape(c);  // one byte at a time: the rest is looked at again
      ++i;
      continue;
    }
    out.append(text.substr(i, step.size));
    i += step.size;
  }
  return out;
}

}  // namespace mx
