#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mx {

// A parsed configuration, or every reason it was refused.
template <class Config>
struct ConfigResult {
  std::optional<Config> config;     // set exactly when `errors` is empty
  std::vector<std::string> errors;  // "SOURCE: KEY: WHY", in the order found

  bool ok() const { return config.has_value(); }
};

}  // namespace mx
