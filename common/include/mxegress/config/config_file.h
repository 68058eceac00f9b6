// Reading a configuration file from disk, for load_client_config and
// load_server_config.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "mxegress/config/config_result.h"

namespace mx {

// The whole file, or nullopt with `why` (unreadable, not a regular file,
// larger than 1 MiB).
std::optional<std::string> read_config_file(const std::filesystem::path& path, std::string& why);

// The absolute directory holding `path`: relative file names in it resolve there.
std::filesystem::path config_base_dir(const std::filesystem::path& path);

// Reads `path` and hands it to `parse(text, source_name, base_dir)`. The
// source name in error messages is the path as given.
template <class Config, class Parse>
ConfigResult<Config> load_config_file(const std::filesystem::path& path, Parse parse) {
  std::string why;
  std::optional<std::string> text = read_config_file(path, why);
  if (!text) return {std::nullopt, {path.string() + ": " + why}};
  return parse(*text, path.string(), config_base_dir(path));
}

}  // namespace mx
