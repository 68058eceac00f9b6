#include "probe_output.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace mx {

std::string format_step(const ProbeStep& step) {
  char head[64];
  std::snprintf(head, sizeof head, "%7lld ms  %-9s %-6s ", static_cast<long long>(step.ms),
                step.name.c_str(), step.ok ? "ok" : "FAIL");
  return head + step.detail;
}

std::string format_tls(const ProbeTls& tls) {
  std::string text = "           TLS: " + tls.version + ", cipher " + tls.cipher + "\n";
  if (!tls.has_certificate) return text + "           certificate: none presented\n";
  const ProbeCertificate& c = tls.certificate;
  text += "           certificate subject: " + c.subject + "\n";
  std::string names;
  for (const auto& name : c.dns_names) names += (names.empty() ? "" : ", ") + name;
  text += "           DNS names: " + (names.empty() ? std::string("(none)") : names) + "\n";
  text += "           SHA-256 fingerprint: " + c.sha256 + "\n";
  text += "           verified (system CA store, host name): " +
          (c.verified ? std::string("yes") : "no: " + c.verify_error) + "\n";
  return text;
}

std::string format_verdict(const ProbeReport& report) {
  if (report.ok()) {
    return "probe OK: " + report.mx_host + " via " + report.server + " from " + report.source +
           (report.tls_done ? ", STARTTLS " + report.tls.version : std::string(", no TLS"));
  }
  return "probe FAILED at " + report.failed_step + ": " + report.reason + " (exit " +
         std::to_string(exit_code(report.failure)) + ")";
}

std::string probe_json(const ProbeReport& report) {
  nlohmann::json steps = nlohmann::json::array();
  for (const ProbeStep& step : report.steps) {
    steps.push_back(
        {{"step", step.name}, {"ms", step.ms}, {"ok", step.ok}, {"detail", step.detail}});
  }
  nlohmann::json out = {
      {"target", report.target},
      {"ok", report.ok()},
      {"exit_code", exit_code(report.failure)},
      {"failure",
       report.ok() ? nlohmann::json(nullptr) : nlohmann::json(probe_failure_name(report.failure))},
      {"failed_step", report.ok() ? nlohmann::json(nullptr) : nlohmann::json(report.failed_step)},
      {"reason", report.ok() ? nlohmann::json(nullptr) : nlohmann::json(report.reason)},
      {"mx_host", report.mx_host},
      {"server", report.server},
      {"source", report.source},
      {"banner_code", report.banner_code},
      {"starttls_offered", report.starttls_offered},
      {"steps", steps},
  };
  if (report.tls_done) {
    nlohmann::json tls = {{"version", report.tls.version}, {"cipher", report.tls.cipher}};
    if (report.tls.has_certificate) {
      const ProbeCertificate& c = report.tls.certificate;
      tls["certificate"] = {
          {"subject", c.subject},
          {"dns_names", c.dns_names},
          {"sha256", c.sha256},
          {"verified", c.verified},
          {"verify_error", c.verified ? nlohmann::json(nullptr) : nlohmann::json(c.verify_error)}};
    } else {
      tls["certificate"] = nullptr;
    }
    out["tls"] = tls;
  } else {
    out["tls"] = nullptr;
  }
  // Replaced, not thrown on: an MX's reply text may hold any bytes.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace mx
