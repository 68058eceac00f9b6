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

// Creates `dir` and its missing parents for key files, each new one mode
// 0750 (less if the umask says so): the service's group may enter, others
// not. Directories that exist are left as they are. "" or the error.
std::string create_key_directory(const std::filesystem::path& dir);

}  // namespace mx
