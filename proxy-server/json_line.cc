#include "json_line.h"

#include <ctime>
#include <limits>

namespace mx {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Parser {
 public:
  Parser(std::string_view text, std::string& error) : text_(text), error_(error) {}

  std::optional<JsonObject> object() {
    skip_space();
    if (!expect('{')) return std::nullopt;
    JsonObject fields;
    skip_space();
    if (peek() == '}') {
      ++pos_;
    } else {
      for (;;) {
        skip_space();
        if (peek() != '"') return fail("expected a field name");
        const size_t name_at = pos_;
        auto name = string();
        if (!name) return std::nullopt;
        for (const auto& field : fields) {
          if (field.first == *name) {
            pos_ = name_at;
            return fail("duplicate field \"" + *name + "\"");
          }
        }
        skip_space();
        if (!expect(':')) return std::nullopt;
        skip_space();
        auto value = this->value();
        if (!value) return std::nullopt;
        fields.emplace_back(std::move(*name), std::move(*value));
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == '}') {
          ++pos_;
          break;
        }
        return fail("expected ',' or '}'");
      }
    }
    skip_space();
    if (pos_ != text_.size()) return fail("unexpected text after the object");
    return fields;
  }

 private:
  // 0 at the end of the text: never a valid token start, and a NUL byte in
  // the text is an error wherever it appears.
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  std::nullopt_t fail(const std::string& what) {
    if (pos_ >= text_.size()) {
      error_ = "at the end of the line: " + what;
    } else {
      error_ = "at byte " + std::to_string(pos_ + 1) + ": " + what;
    }
    return std::nullopt;
  }

  bool expect(char c) {
    if (peek() != c || pos_ >= text_.size()) {
      fail(std::string("expected '") + c + "'");
      return false;
    }
    ++pos_;
    return true;
  }

  std::optional<JsonValue> value() {
    JsonValue v;
    const char c = peek();
    if (c == '"') {
      auto s = string();
      if (!s) return std::nullopt;
      v.kind = JsonValue::Kind::String;
      v.string = std::move(*s);
      return v;
    }
    if (c == '-' || is_digit(c)) {
      auto n = integer();
      if (!n) return std::nullopt;
      v.kind = JsonValue::Kind::Integer;
      v.integer = *n;
      return v;
    }
    if (text_.substr(pos_, 4) == "null") {
      pos_ += 4;
      v.kind = JsonValue::Kind::Null;
      return v;
    }
    if (c == '{' || c == '[') return fail("nested objects and arrays are not allowed");
    if (text_.substr(pos_, 4) == "true" || text_.substr(pos_, 5) == "false") {
      return fail("booleans are not allowed");
    }
    return fail("expected a string, an integer or null");
  }

  std::optional<int64_t> integer() {
    const bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!is_digit(peek())) return fail("expected a digit");
    if (peek() == '0' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1])) {
      return fail("leading zero in a number");
    }
    // Accumulate negatively: the range of int64 is one larger below zero.
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    int64_t value = 0;
    while (is_digit(peek())) {
      const int digit = peek() - '0';
      if (value < (kMin + digit) / 10) return fail("number out of range");
      value = value * 10 - digit;
      ++pos_;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') {
      return fail("only integers are allowed");
    }
    if (!negative) {
      if (value == kMin) return fail("number out of range");
      value = -value;
    }
    return value;
  }

  std::optional<uint32_t> hex4() {
    if (pos_ + 4 > text_.size()) return fail("\\u needs four hex digits");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return fail("\\u needs four hex digits");
      }
      value = value * 16 + static_cast<uint32_t>(digit);
      ++pos_;
    }
    return value;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::optional<std::string> string() {
    if (!expect('"')) return std::nullopt;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) return fail("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto cp = hex4();
          if (!cp) return std::nullopt;
          if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail("lone low surrogate in \\u escape");
          if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") return fail("lone high surrogate in \\u escape");
            pos_ += 2;
            auto low = hex4();
            if (!low) return std::nullopt;
            if (*low < 0xDC00 || *low > 0xDFFF) return fail("lone high surrogate in \\u escape");
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
          }
          append_utf8(out, *cp);
          break;
        }
        default:
          --pos_;
          return fail(std::string("unknown escape \\") + e);
      }
    }
  }

  std::string_view text_;
  std::string& error_;
  size_t pos_ = 0;
};

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
  return Parser(line, error).object();
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
  return record;
}

}  // namespace mx
