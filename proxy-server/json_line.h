// Reading the abuse trail back: one flat JSON object per line (what
// to_json_line in trail.h writes) and its RFC 3339 times.
//
// The JSON is parsed by nlohmann::json (docs/dependencies.md), through its
// SAX interface: no document is built, and this file only says what a trail
// line may hold. That is deliberately strict: an object whose values are
// strings, integers (no fraction, no exponent, int64 range), booleans (the
// SMTP fields) or null. Nested objects, arrays, floats, duplicate names or anything after the
// closing brace make the line malformed. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trail.h"

namespace mx {

struct JsonValue {
  enum class Kind { String, Integer, Boolean, Null };
  Kind kind = Kind::Null;
  std::string string;   // Kind::String: the unescaped bytes (UTF-8)
  int64_t integer = 0;  // Kind::Integer
  bool boolean = false;  // Kind::Boolean
};

// The fields in the order they appear; names are unique.
using JsonObject = std::vector<std::pair<std::string, JsonValue>>;

// nullopt and `error` set when `line` is not one flat object: "at byte 6:
// syntax error ..." (nlohmann's words), "at the end of the line: ...",
// "field \"a\": booleans are not allowed", "duplicate field \"a\"".
// Whitespace around tokens is allowed, a trailing '\r' too. A line with
// ill-formed UTF-8 (written before the writer replaced it, or edited) is
// read with each ill-formed subpart as U+FFFD rather than lost.
std::optional<JsonObject> parse_json_object(std::string_view line, std::string& error);

// "2026-11-22T20:30:00Z", "2026-11-22T20:30:00.123Z",
// "2026-11-22T21:30:00+01:00" (RFC 3339 date-time; 't'/'z' in lower case and
// a space for 'T' accepted). Fractions finer than a millisecond are
// truncated. A leap second (:60) counts as the first second of the next
// minute.
std::optional<WallTime> parse_rfc3339(std::string_view text);

// One trail line into a record. Required: strings time (RFC 3339), tenant,
// via, peer, target, end; exactly one of the strings key or user (the
// credential); connected and source, each a string or null; reply, an
// integer (0..255) or null; integers bytes_up, bytes_down, duration_ms (all
// >= 0); with smtp_banner (100..599), also provider (a string),
// starttls_offered (a boolean or null) and starttls_used (a boolean).
// Unknown fields of those types are ignored, so older query tools read
// newer trails.
std::optional<TrailRecord> parse_trail_line(std::string_view line, std::string& error);

// The server's note that trail lines were lost (TrailFile: the file could
// not be written and the backlog was full): {"time":..,"lost_lines":N,
// "lost_from":..,"lost_until":..,"end":..}. nullopt for any other line.
struct TrailLostNote {
  int64_t lines = 0;
  std::string from;  // as written (RFC 3339)
  std::string until;
};
std::optional<TrailLostNote> parse_lost_note(std::string_view line);

}  // namespace mx
