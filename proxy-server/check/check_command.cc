#include "check/check_command.h"

#include "check/check_report.h"
#include "check/dns_client.h"
#include "check/source_check.h"
#include "mxegress/config/server_config.h"
#include "mxegress/loop/loop.h"

namespace mx::check {
namespace {

constexpr const char* kUsage =
    R"(usage: mxegress-server [-c FILE] check [--domain D] [--dnsbl ZONE...] [--json]

Checks each tenant source address as a receiving MX sees it: bindable on this
host, PTR name, forward-confirmed PTR (FCrDNS), SPF of the domain (--domain,
else the tenant's `domain`; skipped without either), and each DNSBL zone.
DNS queries go to the [resolver] of the configuration. Exit 0 when every
address passes every check, 1 when one does not, 2 on a usage or
configuration error. See docs/check.md.
)";

// A zone or domain as typed: letters, digits, '-', '_', '.'; two labels or more.
bool plausible_name(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.find('.') == std::string::npos) return false;
  if (name.front() == '.' || name.find("..") != std::string::npos) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (s.size() > 1 && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

int run_check_command(const std::vector<std::string>& args, std::string config_path,
                      std::ostream& out, std::ostream& err) {
  CheckRequest request;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool has_value = i + 1 < args.size() && !args[i + 1].starts_with("-");
    if (arg == "--help" || arg == "-h") {
      out << kUsage;
      return 0;
    } else if (arg == "--json") {
      json = true;
    } else if ((arg == "-c" || arg == "--config") && has_value) {
      config_path = args[++i];
    } else if (arg == "--domain" && has_value && request.domain.empty()) {
      request.domain = lower(args[++i]);
      if (!plausible_name(request.domain)) {
        err << "mxegress-server check: --domain " << args[i] << " is not a domain name\n";
        return 2;
      }
    } else if (arg == "--dnsbl" && has_value) {
      // One or more zones: --dnsbl a.test b.test, or --dnsbl a.test --dnsbl b.test.
      while (i + 1 < args.size() && !args[i + 1].starts_with("-")) {
        const std::string zone = lower(args[++i]);
        if (!plausible_name(zone)) {
          err << "mxegress-server check: --dnsbl " << args[i] << " is not a DNS zone\n";
          return 2;
        }
        request.zones.push_back(zone);
      }
    } else {
      err << "mxegress-server check: unexpected argument " << arg << "\n" << kUsage;
      return 2;
    }
  }
  auto loaded = load_server_config(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) err << e << "\n";
    return 2;
  }
  const ServerConfig& config = *loaded.config;
  std::vector<TenantReport> reports;
  {
    Loop loop;
    std::string why;
    auto dns = DnsClient::create(loop, config.resolver.settings, why);
    if (!dns) {
      err << "mxegress-server check: resolver: " << why << "\n";
      return 2;
    }
    reports = run_checks(loop, *dns, config, request);
  }
  if (json) {
    out << to_json(reports);
  } else {
    print_table(out, reports);
  }
  return all_ok(reports) ? 0 : 1;
}

}  // namespace mx::check
