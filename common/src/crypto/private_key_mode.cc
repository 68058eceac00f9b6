#include "mxegress/crypto/private_key_mode.h"

#include <cstdio>

namespace mx {

std::string private_key_mode_error(const std::filesystem::path& path, mode_t mode) {
  if ((mode & 077) == 0) return {};
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  return "private key " + path.string() + " is accessible by group or others (mode " + octal +
         "); it must be readable by its owner only: run chmod 600 " + path.string();
}

std::string private_key_file_error(const std::filesystem::path& path) {
  struct stat status;
  if (::stat(path.c_str(), &status) != 0) return {};
  return private_key_mode_error(path, status.st_mode);
}

}  // namespace mx
