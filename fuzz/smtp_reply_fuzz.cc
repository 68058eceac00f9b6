// Feeds arbitrary bytes to the SMTP reply parser, whole and in pieces. Besides
// not crashing: the replies (and the error, if any) do not depend on how the
// input was cut, every reply has a code in 200..599 and at least one line,
// consumed never exceeds the input, no line or reply exceeds its cap, and
// EHLO keywords are extracted from whatever reply came out.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mxegress/codec/smtp_reply.h"

namespace {

using namespace mx;
using namespace mx::smtp;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "smtp_reply invariant broken: %s\n", what);
  std::abort();
}

struct Outcome {
  std::vector<Reply> replies;
  ReplyError error = ReplyError::None;
};

Outcome run(ByteView in, size_t chunk, const Limits& limits) {
  ReplyParser parser(limits);
  Outcome out;
  for (size_t at = 0; at < in.size() && out.error == ReplyError::None; at += chunk) {
    ByteView piece = in.subspan(at, std::min(chunk, in.size() - at));
    while (!piece.empty()) {
      const FeedResult r = parser.feed(piece);
      require(r.consumed <= piece.size(), "consumed beyond the input");
      if (r.error != ReplyError::None) {
        require(!r.reply, "a reply with an error");
        out.error = r.error;
        break;
      }
      if (r.reply) {
        require(r.consumed > 0, "a reply from no bytes");
        out.replies.push_back(*r.reply);
      } else {
        require(r.consumed == piece.size(), "no reply but bytes left unconsumed");
      }
      piece = piece.subspan(r.consumed);
    }
  }
  return out;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.error != b.error || a.replies.size() != b.replies.size()) return false;
  for (size_t i = 0; i < a.replies.size(); ++i) {
    if (a.replies[i].code != b.replies[i].code || a.replies[i].lines != b.replies[i].lines) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the caps and the size of the pieces.
  Limits limits;
  limits.max_line = 8 + (data[0] & 0x3f);
  limits.max_reply = limits.max_line * (1 + (data[0] >> 6));
  const ByteView in(data + 1, size - 1);
  const Outcome whole = run(in, in.size() + 1, limits);
  const Outcome bytewise = run(in, 1, limits);
  const Outcome pieces = run(in, 1 + (data[0] % 13), limits);
  require(same(whole, bytewise), "byte by byte differs from whole");
  require(same(whole, pieces), "pieces differ from whole");
  for (const Reply& reply : whole.replies) {
    require(reply.code >= 200 && reply.code <= 599, "code out of range");
    require(!reply.lines.empty(), "a reply without lines");
    size_t bytes = 0;
    for (const auto& line : reply.lines) {
      require(line.size() + 5 <= limits.max_line, "line beyond its cap");
      bytes += line.size();
    }
    require(bytes <= limits.max_reply, "reply beyond its cap");
    const EhloKeywords keywords = parse_ehlo_keywords(reply);
    require(reply.code == 250 || keywords.extensions.empty(), "keywords of a non-250 reply");
    require(keywords.extensions.size() < reply.lines.size() || keywords.extensions.empty(),
            "more keywords than lines");
    (void)reply.text();
  }
  return 0;
}
