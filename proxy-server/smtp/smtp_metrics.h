// The SMTP observations in /metrics (docs/metrics.md, docs/smtp-health.md).
#pragma once

#include "mxegress/metrics/prometheus_text.h"
#include "smtp/smtp_observations.h"

namespace mx {

void smtp_families(PrometheusText& out, const SmtpObservations& smtp);

}  // namespace mx
