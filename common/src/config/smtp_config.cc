#include "mxegress/config/smtp_config.h"

#include <algorithm>

#include "mxegress/config/config_errors.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/server_decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

bool is_provider_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

// A table of "mx-domain.example" = "provider": the domains as domain_name
// reads them; the names in lower case, as they appear in metric labels.
std::optional<std::map<std::string, std::string>> provider_table(const toml::node& node,
                                                                std::string& why) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    why = R"(expected a table of "domain" = "provider" (providers = { "example.net" = "example" }))";
    return std::nullopt;
  }
  std::map<std::string, std::string> providers;
  for (const auto& [key, value] : *table) {
    const toml::value<std::string> key_node{std::string(key.str())};
    std::string key_why;
    auto domain = decode::domain_name(key_node, key_why);
    if (!domain) {
      why = key_why;  // names the key
      return std::nullopt;
    }
    const auto* name = value.as_string();
    if (name == nullptr || !is_provider_name(name->get())) {
      why = quote(key.str()) + ": expected a provider name (1 to 64 of a-z 0-9 . _ -)";
      return std::nullopt;
    }
    providers[*domain] = name->get();
  }
  return providers;
}

std::optional<uint32_t> percent(const toml::node& node, std::string& why) {
  auto value = decode::limit_count(node, why);
  if (value && (*value < 1 || *value > 100)) {
    why = "expected a percentage from 1 to 100, got " + std::to_string(*value);
    return std::nullopt;
  }
  return value;
}

std::optional<uint32_t> positive_count(const toml::node& node, std::string& why) {
  auto value = decode::limit_count(node, why);
  if (value && *value == 0) {
    why = "expected 1 or more";
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool SmtpConfig::observes(uint16_t port) const {
  return observe && std::find(ports.begin(), ports.end(), port) != ports.end();
}

void read_smtp(TableReader& root, SmtpConfig& config) {
  if (!root.has("smtp")) return;
  TableReader table = root.table("smtp");
  table.optional("observe", config.observe, decode::boolean);
  if (table.optional("ports", config.ports, decode::port)) {
    reject_repeats(table, "ports", config.ports);
  }
  table.optional("providers", config.providers, provider_table);
  table.optional("window", config.window, decode::duration);
  table.optional("suspect_min_sessions", config.suspect_min_sessions, positive_count);
  table.optional("suspect_percent", config.suspect_percent, percent);
  table.optional("cooldown", config.cooldown, decode::duration);
  table.reject_unknown_keys();
}

}  // namespace mx
