#include "trail_summary.h"

#include <algorithm>

#include "mxegress/net/socket_address.h"
#include "trail_text.h"

namespace mx {
namespace {

// The source's IP without its port: a complaint names an address.
std::string source_ip(const TrailRecord& record) {
  if (!record.source) return "-";
  if (auto address = SocketAddress::parse(*record.source)) return address->ip_string();
  return printable(*record.source);
}

std::string_view field_name(TrailSummary::Field field) {
  switch (field) {
    case TrailSummary::Field::Tenant:
      return "tenant";
    case TrailSummary::Field::Source:
      return "source";
    case TrailSummary::Field::Provider:
      return "provider";
  }
  return "?";
}

}  // namespace

std::optional<std::vector<TrailSummary::Field>> TrailSummary::parse_fields(std::string_view text) {
  std::vector<Field> fields;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view word = text.substr(0, comma);
    std::optional<Field> field;
    for (Field f : {Field::Tenant, Field::Source, Field::Provider}) {
      if (word == field_name(f)) field = f;
    }
    if (!field || std::find(fields.begin(), fields.end(), *field) != fields.end()) {
      return std::nullopt;
    }
    fields.push_back(*field);
    if (comma == std::string_view::npos) return fields;
    text.remove_prefix(comma + 1);
  }
}

void TrailSummary::add(const TrailRecord& record) {
  std::vector<std::string> key;
  for (Field field : fields_) {
    switch (field) {
      case Field::Tenant:
        key.push_back(printable(record.tenant));
        break;
      case Field::Source:
        key.push_back(source_ip(record));
        break;
      case Field::Provider:
        key.push_back(record.smtp ? printable(record.smtp->provider) : "-");
        break;
    }
  }
  Counts& c = counts_[key];
  ++c.sessions;
  if (!record.smtp) return;
  ++c.smtp;
  const int kind = record.smtp->banner / 100;
  c.banner_2xx += kind == 2;
  c.banner_4xx += kind == 4;
  c.banner_5xx += kind == 5;
  c.starttls_offered += record.smtp->starttls_offered.value_or(false);
  c.starttls_used += record.smtp->starttls_used;
}

void TrailSummary::print(std::ostream& out) const {
  for (Field field : fields_) out << field_name(field) << ' ';
  out << "sessions smtp banner_2xx banner_4xx banner_5xx starttls_offered starttls_used\n";
  for (const auto& [key, c] : counts_) {
    for (const std::string& part : key) out << part << ' ';
    out << c.sessions << ' ' << c.smtp << ' ' << c.banner_2xx << ' ' << c.banner_4xx << ' '
        << c.banner_5xx << ' ' << c.starttls_offered << ' ' << c.starttls_used << '\n';
  }
}

}  // namespace mx
