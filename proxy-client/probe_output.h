// How `mxegress-client probe` shows its ProbeReport: text for a person
// (each step as it happens, then the TLS facts and the verdict), or one
// JSON object for machines (--json).
#pragma once

#include <ostream>
#include <string>

#include "probe_report.h"

namespace mx {

// "   12 ms  connect   ok    mx.example.org:25 from 192.0.2.7:40312"
std::string format_step(const ProbeStep& step);
// The lines after the TLS step: version, cipher, subject, DNS names,
// fingerprint, verdict.
std::string format_tls(const ProbeTls& tls);
// The last line: "probe OK: ..." or "probe FAILED at <step>: <reason> (exit N)".
std::string format_verdict(const ProbeReport& report);

// The whole report as one JSON object (and a newline).
std::string probe_json(const ProbeReport& report);

}  // namespace mx
