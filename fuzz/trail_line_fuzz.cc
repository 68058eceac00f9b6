// The abuse trail's JSON lines (proxy-server/json_line.h, trail.h): arbitrary
// bytes read as a trail line (nlohmann::json's parser under our flat-object
// rules) and written as every text field of a record (the hand-written
// escaping writer). Besides not crashing: a line that parses re-encodes to a
// line that parses to the same record and re-encodes identically; whatever
// bytes a field holds, the writer's line is one line of valid UTF-8 that
// nlohmann parses strictly and that reads back as the field with ill-formed
// UTF-8 replaced by U+FFFD.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "json_line.h"
#include "trail.h"
#include "mxegress/util/utf8.h"

namespace {

using namespace mx;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "trail line invariant broken: %s\n", what);
  std::abort();
}

void round_trip(std::string_view text) {
  std::string error;
  const auto record = parse_trail_line(text, error);
  require(record.has_value() == error.empty(), "a result and an error, or neither");
  // rfc3339_ms (common/util) writes times from 1970 on: the server writes
  // its clock's now. Earlier ones parse (1678 on) but are not re-encoded.
  if (!record || record->time < WallTime{}) return;
  const std::string line = to_json_line(*record);
  const auto again = parse_trail_line(line, error);
  require(again.has_value(), "a record re-encoded does not parse");
  require(to_json_line(*again) == line, "a record re-encoded differs");
}

void write_fields(std::string_view bytes) {
  TrailRecord r;
  r.tenant = std::string(bytes);
  r.via = bytes.size() % 2 ? "socks5" : "tunnel";
  r.peer = r.credential = r.target = r.end = r.tenant;
  r.connected = r.tenant;
  const std::string line = to_json_line(r);
  require(line.find('\n') == line.size() - 1, "not one line");
  require(is_valid_utf8(line), "not UTF-8");
  const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  require(json.is_object(), "nlohmann does not parse the writer's line");
  const std::string expected = replace_invalid_utf8(bytes);
  require(json["target"] == expected && json["end"] == expected, "a field reads back changed");
  std::string error;
  require(parse_trail_line(line, error).has_value(), "the writer's line is not a trail line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  round_trip(bytes);
  write_fields(bytes);
  return 0;
}
