#include "mxegress/codec/smtp_reply.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace mx::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string Reply::text() const {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

const char* reply_error_name(ReplyError error) {
  switch (error) {
    case ReplyError::None:
      return "no error";
    case ReplyError::LineTooLong:
      return "reply line too long";
    case ReplyError::ReplyTooLong:
      return "reply too long";
    case ReplyError::NotSmtp:
      return "not an SMTP reply";
    case ReplyError::CodeMismatch:
      return "reply lines with different codes";
  }
  return "unknown error";
}

FeedResult ReplyParser::feed(ByteView in) {
  FeedResult result;
  if (error_ != ReplyError::None) {
    result.error = error_;
    return result;
  }
  size_t i = 0;
  while (i < in.size()) {
    size_t take = 1;  // the bytes of `in` added to line_ in this step
    if (line_.size() >= 4) {
      // Past the code and its separator: up to the line's end at once.
      const auto* start = reinterpret_cast<const char*>(in.data()) + i;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', in.size() - i));
      take = newline != nullptr ? static_cast<size_t>(newline - start) + 1 : in.size() - i;
    }
    if (line_.size() + take > limits_.max_line) {
      error_ = ReplyError::LineTooLong;
      break;
    }
    line_.append(reinterpret_cast<const char*>(in.data()) + i, take);
    i += take;
    const char c = line_.back();
    if (c != '\n') {
      // The code is known after three bytes: a server that is not SMTP
      // is told apart at once, not after max_line bytes.
      if (line_.size() <= 4) {
        const size_t n = line_.size();
        const bool ok = n <= 3 ? is_digit(c) : (c == '-' || c == ' ' || c == '\r');
        if (!ok || (n == 1 && (c < '2' || c > '5'))) {
          error_ = ReplyError::NotSmtp;
          break;
        }
      }
      continue;
    }
    line_.pop_back();
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    bool last = false;
    if (ReplyError e = take_line(last); e != ReplyError::None) {
      error_ = e;
      break;
    }
    if (!last) continue;
    result.consumed = i;
    result.reply = Reply{code_, std::move(lines_)};
    lines_.clear();
    code_ = 0;
    reply_bytes_ = 0;
    return result;
  }
  result.error = error_;
  result.consumed = error_ == ReplyError::None ? in.size() : 0;
  return result;
}

ReplyError ReplyParser::take_line(bool& last) {
  // Swapped out, not moved: GCC 12 at -O3 misreads a moved-from string's
  // buffer as read out of bounds (-Warray-bounds) in the checks below.
  std::string line;
  line.swap(line_);
  if (line.size() < 3 || (line.size() > 3 && line[3] != '-' && line[3] != ' ')) {
    return ReplyError::NotSmtp;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (lines_.empty()) {
    code_ = code;
  } else if (code != code_) {
    return ReplyError::CodeMismatch;
  }
  reply_bytes_ += line.size() + 2;
  if (reply_bytes_ > limits_.max_reply) return ReplyError::ReplyTooLong;
  last = line.size() == 3 || line[3] == ' ';
  lines_.push_back(line.size() > 4 ? line.substr(4) : std::string());
  return ReplyError::None;
}

bool EhloKeywords::has(std::string_view keyword) const {
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const Extension& e) { return iequal(e.keyword, keyword); });
}

EhloKeywords parse_ehlo_keywords(const Reply& reply) {
  EhloKeywords keywords;
  if (reply.code != 250) return keywords;
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    EhloKeywords::Extension extension;
    std::string_view rest = reply.lines[i];
    while (!rest.empty()) {
      const size_t start = rest.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      const size_t end = std::min(rest.find(' '), rest.size());
      std::string word(rest.substr(0, end));
      rest.remove_prefix(end);
      if (extension.keyword.empty()) {
        extension.keyword = std::move(word);
      } else {
        extension.params.push_back(std::move(word));
      }
    }
    if (!extension.keyword.empty()) keywords.extensions.push_back(std::move(extension));
  }
  return keywords;
}

}  // namespace mx::smtp
