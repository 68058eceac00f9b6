#include "warmup.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "mxegress/config/config_errors.h"

namespace mx {
namespace {

// The last step lasts this many days unless a [N, 0] step ends it.
constexpr int64_t kLastStepDays = 7;

std::string date_of(int64_t day) {
  const std::chrono::year_month_day date{std::chrono::sys_days(std::chrono::days(day))};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

}  // namespace

int64_t warmup_day(const Warmup& warmup, WallTime now) {
  const int64_t today = std::chrono::floor<std::chrono::days>(now).time_since_epoch().count();
  return today - warmup.start_day + 1;
}

std::optional<uint32_t> warmup_per_hour(const Warmup& warmup, WallTime now) {
  const int64_t day = warmup_day(warmup, now);
  if (day < 1) return 0;
  const Warmup::Step* current = nullptr;
  for (const Warmup::Step& step : warmup.schedule) {
    if (step.from_day <= day) current = &step;
  }
  if (current == nullptr) return std::nullopt;  // no schedule (the parser wants one from day 1)
  if (current == &warmup.schedule.back() &&
      (current->per_hour == 0 || day >= current->from_day + kLastStepDays)) {
    return std::nullopt;
  }
  return current->per_hour;
}

const Warmup* warmup_of(const std::vector<Warmup>& warmups, const SocketAddress& source) {
  for (const Warmup& warmup : warmups) {
    if (std::find(warmup.source.begin(), warmup.source.end(), source) != warmup.source.end()) {
      return &warmup;
    }
  }
  return nullptr;
}

void take_warmup_token(const std::vector<Warmup>& warmups, TenantUsage& usage,
                       const SocketAddress& source, SteadyTime now, WallTime wall) {
  const Warmup* warmup = warmup_of(warmups, source);
  if (warmup == nullptr) return;
  const std::optional<uint32_t> per_hour = warmup_per_hour(*warmup, wall);
  if (per_hour && *per_hour > 0) usage.take_warmup_token(source, *per_hour, now);
}

std::vector<std::string> describe_warmups(const ServerConfig& config, WallTime now) {
  std::vector<std::string> lines;
  for (const ServerConfig::Tenant& tenant : config.tenants) {
    for (const Warmup& warmup : tenant.warmup) {
      const std::optional<uint32_t> per_hour = warmup_per_hour(warmup, now);
      if (!per_hour) continue;
      for (const SocketAddress& source : warmup.source) {
        std::string line = "tenant " + quote(tenant.name) + ": " + source.ip_string();
        if (*per_hour == 0) {
          line += " is not in service before " + date_of(warmup.start_day) + " (warm-up)";
        } else {
          line += " warms up: day " + std::to_string(warmup_day(warmup, now)) + ", at most " +
                  std::to_string(*per_hour) + " sessions an hour";
        }
        lines.push_back(std::move(line));
      }
    }
  }
  return lines;
}

SourceVerdict WarmupCheck::operator()(const SocketAddress& source) {
  const Warmup* warmup = warmup_of(warmups_, source);
  if (warmup == nullptr) return SourceVerdict::Use;
  const std::optional<uint32_t> per_hour = warmup_per_hour(*warmup, wall_);
  if (!per_hour) return SourceVerdict::Use;
  std::string why;
  if (*per_hour == 0) {
    why =
        "warmup of " + source.ip_string() + ": not in service before " + date_of(warmup->start_day);
  } else if (!usage_.warmup_token_left(source, *per_hour, now_)) {
    why = "warmup of " + source.ip_string() + " (day " +
          std::to_string(warmup_day(*warmup, wall_)) + "): " + std::to_string(*per_hour) +
          " sessions an hour reached";
  } else {
    return SourceVerdict::Use;
  }
  if (!refusal_.empty()) refusal_ += "; ";
  refusal_ += why;
  return SourceVerdict::Skip;
}

SourceCheck WarmupCheck::as_source_check() {
  if (warmups_.empty()) return {};
  return [this](const SocketAddress& source) { return (*this)(source); };
}

}  // namespace mx
