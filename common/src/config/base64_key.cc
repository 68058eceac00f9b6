#include "mxegress/config/base64_key.h"

#include <sodium.h>

#include <vector>

namespace mx {

std::optional<Key32> decode_base64_key32(std::string_view text, std::string& why) {
  if (text.empty()) {
    why = "is empty";
    return std::nullopt;
  }
  // Decode into room for any length, so a wrong length is told apart from bad base64.
  std::vector<unsigned char> decoded(text.size() / 4 * 3 + 3);
  size_t length = 0;
  const int status = sodium_base642bin(decoded.data(), decoded.size(), text.data(), text.size(),
                                       nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL);
  if (status != 0) {
    why = "is not standard base64 (A-Z a-z 0-9 + / with = padding)";
    return std::nullopt;
  }
  if (length != 32) {
    why = "decodes to " + std::to_string(length) + " bytes, expected 32";
    return std::nullopt;
  }
  Key32 key;
  std::copy(decoded.begin(), decoded.begin() + 32, key.begin());
  return key;
}

std::string encode_base64_key32(const Key32& key) {
  char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(text, sizeof text, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  return text;
}

}  // namespace mx
