// The output of `mxegress-server check`: a table for people, JSON for
// machines (docs/check.md describes both).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "check/source_check.h"

namespace mx::check {

// One line per check: TENANT ADDRESS CHECK RESULT DETAIL, columns aligned;
// a tenant with source = "any" gets one line saying so. Then a summary line.
void print_table(std::ostream& out, const std::vector<TenantReport>& reports);

// {"ok": bool, "tenants": [{"tenant", "source": "list"|"any", "domain",
//   "ok", "addresses": [{"address", "ok", "checks": [{"check", "result",
//   "detail", ...facts, "values"?}]}]}]}
std::string to_json(const std::vector<TenantReport>& reports);

// Every address passes every check asked for.
bool all_ok(const std::vector<TenantReport>& reports);

}  // namespace mx::check
