// A private key file must be readable by its owner only, as OpenSSH
// insists: a key that group or others can read may already be copied, and
// an operator should hear so at start, not find out from an incident.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace mx {

// "" when `mode` (a st_mode) keeps the key to its owner; else the error,
// naming the file, its mode and the fix.
std::string private_key_mode_error(const std::filesystem::path& path, mode_t mode);

// The same for a file by name ("" too when it cannot be stat'ed: opening
// it will then say why).
std::string private_key_file_error(const std::filesystem::path& path);

}  // namespace mx
