#include "check/check_report.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace mx::check {
namespace {

using Row = std::array<std::string, 5>;

// What people read in the RESULT column: a DNS error is not a pass.
const char* column(Outcome outcome) {
  switch (outcome) {
    case Outcome::Ok:
      return "ok";
    case Outcome::Skipped:
      return "skipped";
    case Outcome::Fail:
    case Outcome::Error:
      return "FAIL";
  }
  return "FAIL";
}

}  // namespace

bool all_ok(const std::vector<TenantReport>& reports) {
  return std::ranges::all_of(reports, [](const TenantReport& t) { return t.ok(); });
}

void print_table(std::ostream& out, const std::vector<TenantReport>& reports) {
  std::vector<Row> rows{{"TENANT", "ADDRESS", "CHECK", "RESULT", "DETAIL"}};
  size_t addresses = 0;
  size_t failing = 0;
  for (const TenantReport& tenant : reports) {
    if (tenant.any_source) {
      rows.push_back({tenant.tenant, "any", "-", "-",
                      "source = \"any\": the kernel picks the address, nothing to check"});
      continue;
    }
    for (const AddressReport& address : tenant.addresses) {
      ++addresses;
      if (!address.ok()) ++failing;
      for (const CheckResult& r : address.checks) {
        const std::string name = r.check == "dnsbl" && r.facts.contains("zone")
                                     ? "dnsbl " + r.facts.at("zone")
                                     : r.check;
        rows.push_back(
            {tenant.tenant, address.address.ip_string(), name, column(r.outcome), r.detail});
      }
    }
  }
  std::array<size_t, 4> width{};
  for (const Row& row : rows) {
    for (size_t i = 0; i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      line += row[i] + std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << row[4] << "\n";
  }
  out << addresses << " addresses checked, " << failing << " with a failing check\n";
}

std::string to_json(const std::vector<TenantReport>& reports) {
  nlohmann::json tenants = nlohmann::json::array();
  for (const TenantReport& tenant : reports) {
    nlohmann::json addresses = nlohmann::json::array();
    for (const AddressReport& address : tenant.addresses) {
      nlohmann::json checks = nlohmann::json::array();
      for (const CheckResult& r : address.checks) {
        nlohmann::json check = {
            {"check", r.check}, {"result", describe(r.outcome)}, {"detail", r.detail}};
        for (const auto& [key, value] : r.facts) check[key] = value;
        if (r.check == "ptr") check["names"] = r.values;
        if (r.check == "dnsbl") check["codes"] = r.values;
        checks.push_back(std::move(check));
      }
      addresses.push_back({{"address", address.address.ip_string()},
                           {"ok", address.ok()},
                           {"checks", std::move(checks)}});
    }
    tenants.push_back({{"tenant", tenant.tenant},
                       {"source", tenant.any_source ? "any" : "list"},
                       {"domain", tenant.domain},
                       {"ok", tenant.ok()},
                       {"addresses", std::move(addresses)}});
  }
  // Replacement characters for any byte that is not UTF-8 (a TXT reason).
  return nlohmann::json{{"ok", all_ok(reports)}, {"tenants", std::move(tenants)}}.dump(
             2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

}  // namespace mx::check
