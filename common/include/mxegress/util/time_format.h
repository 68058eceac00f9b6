// RFC 3339 UTC timestamps with milliseconds, as logs and the trail print them:
// 2026-11-22T20:30:00.123Z
#pragma once

#include <chrono>
#include <string>

namespace mx {

std::string rfc3339_ms(std::chrono::system_clock::time_point time);

}  // namespace mx
