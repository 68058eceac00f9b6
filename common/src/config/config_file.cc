#include "mxegress/config/config_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace mx {
namespace {

constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

}  // namespace

std::optional<std::string> read_config_file(const std::filesystem::path& path, std::string& why) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    why = error ? "cannot read: " + error.message() : "cannot read: not a regular file";
    return std::nullopt;
  }
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error || size > kMaxConfigBytes) {
    why = error ? "cannot read: " + error.message() : "cannot read: larger than 1 MiB";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::string("cannot read: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    why = "cannot read: I/O error";
    return std::nullopt;
  }
  return text;
}

std::filesystem::path config_base_dir(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) return path.parent_path();
  return absolute.parent_path();
}

}  // namespace mx
