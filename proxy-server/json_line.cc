#include "json_line.h"

#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "mxegress/util/utf8.h"

namespace mx {
namespace {

using Json = nlohmann::json;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// nlohmann's SAX events (the json_sax concept) into a flat JsonObject. A
// handler returning false stops the parse; its `error` says why.
class FlatObject {
 public:
  FlatObject(JsonObject& fields, std::string& error) : fields_(fields), error_(error) {}

  bool null() { return value(JsonValue{}); }
  bool boolean(bool b) {
    JsonValue v;
    v.kind = JsonValue::Kind::Boolean;
    v.boolean = b;
    return value(std::move(v));
  }
  bool number_integer(Json::number_integer_t n) { return integer(n); }
  bool number_unsigned(Json::number_unsigned_t n) {
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return refuse("number out of range");
    }
    return integer(static_cast<int64_t>(n));
  }
  // nlohmann reads an integer beyond int64/uint64 as a float too.
  bool number_float(Json::number_float_t, const Json::string_t& text) {
    const bool integral = text.find_first_of(".eE") == std::string::npos;
    return refuse(integral ? "number out of range" : "only integers are allowed");
  }
  bool string(Json::string_t& text) {
    JsonValue v;
    v.kind = JsonValue::Kind::String;
    v.string = std::move(text);
    return value(std::move(v));
  }
  bool binary(Json::binary_t&) { return refuse("binary values are not allowed"); }
  bool start_object(size_t) {
    if (++depth_ > 1) return refuse("nested objects and arrays are not allowed");
    return true;
  }
  bool end_object() { return true; }
  bool start_array(size_t) { return refuse("nested objects and arrays are not allowed"); }
  bool end_array() { return true; }
  bool key(Json::string_t& name) {
    for (const auto& field : fields_) {
      if (field.first == name) {
        error_ = "duplicate field \"" + name + "\"";
        return false;
      }
    }
    fields_.emplace_back(std::move(name), JsonValue{});
    return true;
  }
  // nlohmann's text after its "[json.exception.parse_error.101] parse error
  // at line 1, column 6: " prefix; `position` counts the bytes read, the end
  // of the input included.
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    std::string_view what = e.what();
    if (const size_t colon = what.find(": "); colon != std::string_view::npos) {
      what.remove_prefix(colon + 2);
    }
    error_ = position > size_ ? "at the end of the line: "
                              : "at byte " + std::to_string(position) + ": ";
    error_ += what;
    return false;
  }

  void set_size(size_t size) { size_ = size; }

 private:
  bool integer(int64_t n) {
    JsonValue v;
    v.kind = JsonValue::Kind::Integer;
    v.integer = n;
    return value(std::move(v));
  }
  // The top level is an object (checked before parsing), so every value
  // follows a key.
  bool value(JsonValue v) {
    fields_.back().second = std::move(v);
    return true;
  }
  bool refuse(const char* what) {
    error_ = "field \"" + fields_.back().first + "\": " + what;
    return false;
  }

  JsonObject& fields_;
  std::string& error_;
  size_t size_ = 0;
  int depth_ = 0;
};

std::optional<JsonObject> parse_object(std::string_view line, std::string& error) {
  size_t first = 0;
  while (first < line.size() && is_space(line[first])) ++first;
  if (first == line.size()) {
    error = "at the end of the line: expected '{'";
    return std::nullopt;
  }
  if (line[first] != '{') {
    error = "at byte " + std::to_string(first + 1) + ": expected '{'";
    return std::nullopt;
  }
  // nlohmann takes a NUL byte for the end of the input: "{}\0junk" would pass.
  if (const size_t nul = line.find('\0'); nul != std::string_view::npos) {
    error = "at byte " + std::to_string(nul + 1) + ": a NUL byte";
    return std::nullopt;
  }
  JsonObject fields;
  FlatObject handler(fields, error);
  handler.set_size(line.size());
  // strict: nothing but whitespace after the object.
  if (!Json::sax_parse(line.begin(), line.end(), &handler, nlohmann::json::input_format_t::json,
                       /*strict=*/true)) {
    if (error.empty()) error = "not a JSON object";
    return std::nullopt;
  }
  return fields;
}

// Reads exactly `width` digits at text[pos]; advances pos.
std::optional<int> digits(std::string_view text, size_t& pos, size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

const JsonValue* find(const JsonObject& object, std::string_view name) {
  for (const auto& [field, value] : object) {
    if (field == name) return &value;
  }
  return nullptr;
}

}  // namespace

std::optional<JsonObject> parse_json_object(std::string_view line, std::string& error) {
  error.clear();
  auto fields = parse_object(line, error);
  if (fields || is_valid_utf8(line)) return fields;
  // nlohmann reads UTF-8 only; older trails hold raw ill-formed bytes.
  error.clear();
  return parse_object(replace_invalid_utf8(line), error);
}

std::optional<WallTime> parse_rfc3339(std::string_view text) {
  size_t pos = 0;
  auto expect = [&](char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  const auto year = digits(text, pos, 4);
  if (!year || !expect('-')) return std::nullopt;
  const auto month = digits(text, pos, 2);
  if (!month || *month < 1 || *month > 12 || !expect('-')) return std::nullopt;
  const auto day = digits(text, pos, 2);
  if (!day || *day < 1 || *day > days_in_month(*year, *month)) return std::nullopt;
  if (!expect('T') && !expect('t') && !expect(' ')) return std::nullopt;
  const auto hour = digits(text, pos, 2);
  if (!hour || *hour > 23 || !expect(':')) return std::nullopt;
  const auto minute = digits(text, pos, 2);
  if (!minute || *minute > 59 || !expect(':')) return std::nullopt;
  const auto second = digits(text, pos, 2);
  if (!second || *second > 60) return std::nullopt;

  int millis = 0;
  if (expect('.')) {
    const size_t start = pos;
    while (pos < text.size() && is_digit(text[pos])) {
      if (pos - start < 3) millis = millis * 10 + (text[pos] - '0');
      ++pos;
    }
    const size_t count = pos - start;
    if (count == 0) return std::nullopt;
    for (size_t i = count; i < 3; ++i) millis *= 10;
  }

  int offset_minutes = 0;
  if (expect('Z') || expect('z')) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    const auto off_hour = digits(text, pos, 2);
    if (!off_hour || *off_hour > 23 || !expect(':')) return std::nullopt;
    const auto off_minute = digits(text, pos, 2);
    if (!off_minute || *off_minute > 59) return std::nullopt;
    offset_minutes = sign * (*off_hour * 60 + *off_minute);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;  // timegm normalizes :60 into the next minute
  const std::time_t local = timegm(&tm);
  const auto utc = std::chrono::seconds(local - static_cast<std::time_t>(offset_minutes) * 60) +
                   std::chrono::milliseconds(millis);
  // WallTime may count nanoseconds (about 1678 to 2262): refuse what it
  // cannot hold rather than overflow.
  using std::chrono::milliseconds;
  constexpr auto kMax = std::chrono::duration_cast<milliseconds>(WallTime::duration::max());
  constexpr auto kMin = std::chrono::duration_cast<milliseconds>(WallTime::duration::min());
  if (utc >= kMax || utc <= kMin) return std::nullopt;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(utc));
}

std::optional<TrailRecord> parse_trail_line(std::string_view line, std::string& error) {
  auto object = parse_json_object(line, error);
  if (!object) return std::nullopt;

  auto missing = [&](std::string_view name) {
    error = "field \"" + std::string(name) + "\" missing";
    return std::nullopt;
  };
  auto wrong = [&](std::string_view name, std::string_view what) {
    error = "field \"" + std::string(name) + "\" must be " + std::string(what);
    return std::nullopt;
  };

  TrailRecord record;
  const auto text = [&](std::string_view name, std::string& into) {
    const JsonValue* v = find(*object, name);
    if (!v) return missing(name), false;
    if (v->kind != JsonValue::Kind::String) return wrong(name, "a string"), false;
    into = v->string;
    return true;
  };
  const auto nullable = [&](std::string_view name, std::optional<std::string>& into) {
    const JsonValue* v = find(*object, name);
    if (!v) return missing(name), false;
    if (v->kind == JsonValue::Kind::Null) {
      into.reset();
      return true;
    }
    if (v->kind != JsonValue::Kind::String) return wrong(name, "a string or null"), false;
    into = v->string;
    return true;
  };
  const auto number = [&](std::string_view name, int64_t max, int64_t& into) {
    const JsonValue* v = find(*object, name);
    if (!v) return missing(name), false;
    if (v->kind != JsonValue::Kind::Integer || v->integer < 0 || v->integer > max) {
      return wrong(name, "an integer from 0 to " + std::to_string(max)), false;
    }
    into = v->integer;
    return true;
  };

  std::string time;
  if (!text("time", time)) return std::nullopt;
  const auto when = parse_rfc3339(time);
  if (!when) return wrong("time", "an RFC 3339 time"), std::nullopt;
  record.time = *when;
  if (!text("tenant", record.tenant) || !text("via", record.via) || !text("peer", record.peer)) {
    return std::nullopt;
  }
  const JsonValue* key = find(*object, "key");
  const JsonValue* user = find(*object, "user");
  if (key && user) {
    error = "fields \"key\" and \"user\" both present";
    return std::nullopt;
  }
  if (!key && !user) {
    error = "field \"key\" (or \"user\") missing";
    return std::nullopt;
  }
  if (!text(key ? "key" : "user", record.credential)) return std::nullopt;
  if (!text("target", record.target) || !nullable("connected", record.connected) ||
      !nullable("source", record.source)) {
    return std::nullopt;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t reply = 0, up = 0, down = 0;
  const JsonValue* reply_value = find(*object, "reply");
  const bool no_reply = reply_value && reply_value->kind == JsonValue::Kind::Null;
  if ((!no_reply && !number("reply", 255, reply)) || !number("bytes_up", kMax, up) ||
      !number("bytes_down", kMax, down) || !number("duration_ms", kMax, record.duration_ms)) {
    return std::nullopt;
  }
  record.reply = no_reply ? std::nullopt : std::optional<int>(static_cast<int>(reply));
  record.bytes_up = static_cast<uint64_t>(up);
  record.bytes_down = static_cast<uint64_t>(down);
  if (!text("end", record.end)) return std::nullopt;
  // The SMTP fields (docs/smtp-health.md): present together, or not at all.
  if (const JsonValue* banner = find(*object, "smtp_banner")) {
    if (banner->kind != JsonValue::Kind::Integer || banner->integer < 100 ||
        banner->integer > 599) {
      return wrong("smtp_banner", "an integer from 100 to 599"), std::nullopt;
    }
    TrailSmtp& smtp = record.smtp.emplace();
    smtp.banner = static_cast<int>(banner->integer);
    if (!text("provider", smtp.provider)) return std::nullopt;
    const JsonValue* offered = find(*object, "starttls_offered");
    if (offered && offered->kind == JsonValue::Kind::Boolean) {
      smtp.starttls_offered = offered->boolean;
    } else if (offered && offered->kind != JsonValue::Kind::Null) {
      return wrong("starttls_offered", "true, false or null"), std::nullopt;
    }
    const JsonValue* used = find(*object, "starttls_used");
    if (!used || used->kind != JsonValue::Kind::Boolean) {
      return wrong("starttls_used", "true or false"), std::nullopt;
    }
    smtp.starttls_used = used->boolean;
  }
  return record;
}

std::optional<TrailLostNote> parse_lost_note(std::string_view line) {
  std::string error;
  const auto object = parse_json_object(line, error);
  if (!object) return std::nullopt;
  TrailLostNote note;
  bool has_lines = false;
  for (const auto& [name, value] : *object) {
    if (name == "lost_lines" && value.kind == JsonValue::Kind::Integer) {
      note.lines = value.integer;
      has_lines = true;
    } else if (name == "lost_from" && value.kind == JsonValue::Kind::String) {
      note.from = value.string;
    } else if (name == "lost_until" && value.kind == JsonValue::Kind::String) {
      note.until = value.string;
    }
  }
  if (!has_lines) return std::nullopt;
  return note;
}

}  // namespace mx
