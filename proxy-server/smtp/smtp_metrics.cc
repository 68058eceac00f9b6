#include "smtp/smtp_metrics.h"

#include <vector>

namespace mx {
namespace {

using Type = PrometheusText::Type;
using Key = SmtpObservations::Key;

struct Row {
  Key key;
  SmtpCounters counters;
};

MetricLabels labels_of(const Key& key) {
  return {{"tenant", std::get<0>(key)}, {"source", std::get<1>(key)}, {"provider", std::get<2>(key)}};
}

void counter_family(PrometheusText& out, const std::vector<Row>& rows, const char* name,
                    const char* help, uint64_t SmtpCounters::*field) {
  out.family(name, Type::Counter, help);
  for (const Row& row : rows) out.sample(name, labels_of(row.key), row.counters.*field);
}

}  // namespace

void smtp_families(PrometheusText& out, const SmtpObservations& smtp) {
  // Copied out first: the lock is not held while the text is written.
  std::vector<Row> rows;
  smtp.for_each([&](const Key& key, const SmtpCounters& c) { rows.push_back({key, c}); });

  counter_family(out, rows, "mxegress_smtp_sessions_total",
                 "Sessions to an observed port whose MX sent a banner, by tenant, source "
                 "address and provider.",
                 &SmtpCounters::sessions);
  out.family("mxegress_smtp_banners_total", Type::Counter,
             "Those sessions' banners by class: 2xx welcome, 4xx temporary (421 throttling), "
             "5xx refusal.");
  for (const Row& row : rows) {
    const std::pair<const char*, uint64_t> classes[] = {{"2xx", row.counters.banner_2xx},
                                                       {"4xx", row.counters.banner_4xx},
                                                       {"5xx", row.counters.banner_5xx}};
    for (const auto& [label, value] : classes) {
      MetricLabels labels = labels_of(row.key);
      labels.emplace_back("class", label);
      out.sample("mxegress_smtp_banners_total", labels, value);
    }
  }
  counter_family(out, rows, "mxegress_smtp_starttls_offered_total",
                 "Sessions whose EHLO answer offered STARTTLS.", &SmtpCounters::starttls_offered);
  counter_family(out, rows, "mxegress_smtp_starttls_used_total",
                 "Sessions where the gateway started TLS (STARTTLS answered 2xx).",
                 &SmtpCounters::starttls_used);
  counter_family(out, rows, "mxegress_smtp_starttls_unused_total",
                 "Sessions offered STARTTLS whose gateway went on to MAIL FROM without it.",
                 &SmtpCounters::starttls_unused);
  counter_family(out, rows, "mxegress_smtp_starttls_downgrades_total",
                 "Sessions to an MX that offered STARTTLS to this server before and did not now.",
                 &SmtpCounters::downgrades);

  out.family("mxegress_smtp_source_suspect", Type::Gauge,
             "1 while a source address is suspect at a provider (the share of 5xx or 421 "
             "banners in the window crossed the threshold), 0 once it recovered.");
  for (const SourceHealth::Entry& entry : smtp.suspects()) {
    out.sample("mxegress_smtp_source_suspect",
               {{"source", entry.source}, {"provider", entry.provider}},
               static_cast<uint64_t>(entry.suspect ? 1 : 0));
  }
}

}  // namespace mx
