// `mxegress-server trail --count-by FIELDS`: the matching trail records
// counted by tenant, source address and/or provider, with what the MXes
// said (banner classes, STARTTLS offered and used): the view of a source
// address's standing that the per-session lines do not give. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "trail.h"

namespace mx {

class TrailSummary {
 public:
  enum class Field : uint8_t { Tenant, Source, Provider };
  // "tenant", "source,provider", ...: nullopt for an unknown or repeated field.
  static std::optional<std::vector<Field>> parse_fields(std::string_view text);

  explicit TrailSummary(std::vector<Field> fields) : fields_(std::move(fields)) {}
  void add(const TrailRecord& record);
  // One header line, then one line per key, sorted; columns separated by spaces.
  void print(std::ostream& out) const;

 private:
  struct Counts {
    uint64_t sessions = 0;  // every matching record
    uint64_t smtp = 0;      // of them with a banner
    uint64_t banner_2xx = 0, banner_4xx = 0, banner_5xx = 0;
    uint64_t starttls_offered = 0, starttls_used = 0;
  };
  std::vector<Field> fields_;
  std::map<std::vector<std::string>, Counts> counts_;
};

}  // namespace mx
