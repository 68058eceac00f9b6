#include "mxegress/crypto/private_key_mode.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

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

std::string create_key_directory(const std::filesystem::path& dir) {
  if (dir.empty()) return {};
  std::filesystem::path made;
  for (const auto& part : dir) {
    made /= part;
    if (::mkdir(made.c_str(), 0750) == 0 || errno == EEXIST) continue;
    return "cannot create directory " + made.string() + ": " + std::strerror(errno);
  }
  struct stat status;
  if (::stat(dir.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
    return dir.string() + " is not a directory";
  }
  return {};
}

}  // namespace mx
