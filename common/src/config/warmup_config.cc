#include "mxegress/config/warmup_config.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>

#include "mxegress/config/config_errors.h"
#include "mxegress/config/server_decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

// A TOML local date (2026-12-01), taken as a UTC day: days since the epoch.
std::optional<int64_t> utc_day(const toml::node& node, std::string& why) {
  const auto* date = node.as_date();
  if (date == nullptr) {
    why = "expected a date (start = 2026-12-01, no quotes), got " + describe_type(node);
    return std::nullopt;
  }
  const toml::date value = date->get();
  const std::chrono::year_month_day ymd{
      std::chrono::year(value.year), std::chrono::month(value.month), std::chrono::day(value.day)};
  return std::chrono::sys_days(ymd).time_since_epoch().count();
}

// [from day, sessions per hour], each an integer: day 1 or more, count 0 or more.
std::optional<Warmup::Step> step(const toml::node& node, std::string& why) {
  const std::string expected = "expected [from day, sessions per hour] such as [1, 20], got ";
  const auto* pair = node.as_array();
  if (pair == nullptr) {
    why = expected + describe_type(node);
    return std::nullopt;
  }
  if (pair->size() != 2) {
    why = expected + "an array of " + std::to_string(pair->size()) + " values";
    return std::nullopt;
  }
  for (size_t i = 0; i < 2; ++i) {
    if (!pair->get(i)->is_integer()) {
      why = expected + describe_type(*pair->get(i)) + " in it";
      return std::nullopt;
    }
  }
  const int64_t day = pair->get(0)->as_integer()->get();
  const int64_t per_hour = pair->get(1)->as_integer()->get();
  if (day < 1 || day > UINT32_MAX) {
    why = "the day must be 1 or more (day 1 is `start`), got " + std::to_string(day);
    return std::nullopt;
  }
  if (per_hour < 0 || per_hour > UINT32_MAX) {
    why = "sessions per hour must be 0 to 4294967295, got " + std::to_string(per_hour);
    return std::nullopt;
  }
  return Warmup::Step{static_cast<uint32_t>(day), static_cast<uint32_t>(per_hour)};
}

void check_schedule(TableReader& table, const std::vector<Warmup::Step>& schedule) {
  // Else day 1 would have no limit at all, which nobody means.
  if (schedule[0].from_day != 1) {
    table.error(
        "schedule", 0,
        "the first step must be day 1 (`start`), got day " + std::to_string(schedule[0].from_day));
  }
  for (size_t i = 1; i < schedule.size(); ++i) {
    if (schedule[i].from_day <= schedule[i - 1].from_day) {
      table.error("schedule", i,
                  "day " + std::to_string(schedule[i].from_day) + " must come after day " +
                      std::to_string(schedule[i - 1].from_day) + " of the step before");
    }
  }
  for (size_t i = 0; i + 1 < schedule.size(); ++i) {
    if (schedule[i].per_hour == 0) {
      table.error("schedule", i,
                  "0 sessions an hour ends the warm-up: only the last step may say 0");
    }
  }
}

}  // namespace

std::vector<Warmup> read_warmups(TableReader& tenant_table,
                                 const std::vector<SocketAddress>& tenant_source,
                                 const std::string& tenant_name) {
  std::vector<Warmup> warmups;
  std::map<std::string, std::string> path_by_address;  // an address warms up once
  for (TableReader& table : tenant_table.optional_tables("warmup")) {
    Warmup warmup;
    if (table.required("source", warmup.source, decode::ip_address)) {
      reject_repeats(table, "source", warmup.source);
      for (size_t i = 0; i < warmup.source.size(); ++i) {
        const std::string ip = warmup.source[i].ip_string();
        if (std::find(tenant_source.begin(), tenant_source.end(), warmup.source[i]) ==
            tenant_source.end()) {
          table.error("source", i,
                      ip + " is not one of tenant " + quote(tenant_name) + "'s source addresses");
          continue;
        }
        const std::string path = table.path_of("source") + "[" + std::to_string(i) + "]";
        const auto [earlier, inserted] = path_by_address.emplace(ip, path);
        if (!inserted && !earlier->second.starts_with(table.path() + ".")) {
          table.error("source", i, ip + " already warms up at " + earlier->second);
        }
      }
    }
    table.required("start", warmup.start_day, utc_day);
    if (table.required("schedule", warmup.schedule, step)) check_schedule(table, warmup.schedule);
    table.reject_unknown_keys();
    warmups.push_back(std::move(warmup));
  }
  return warmups;
}

}  // namespace mx
