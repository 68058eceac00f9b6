// Feeds one passive SMTP observer a session from both sides. Input:
// [cap byte] then chunks of [header][bytes]: the header's top bit says the
// side (set: the MX's, clear: the gateway's), its low 7 bits the length (0:
// the rest of the input). The cap byte picks the byte cap: below 128 the
// default, else 16..1032. Besides not crashing: a call returns whether the
// observer still wants bytes and that is !stopped(); once stopped, every call
// returns false and the facts no longer change; the banner text is printable
// ASCII of at most 200 bytes; a STARTTLS reply only after STARTTLS was sent,
// TlsStarted only with a 2xx reply to it; ByteCap only once more bytes than
// the cap were fed, and always then unless something stopped it before; and
// the facts do not depend on how each side's bytes were cut (fed as given,
// byte by byte, and with each run of one side's chunks joined).
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "mxegress/codec/smtp_observer.h"

namespace {

using namespace mx;
using namespace mx::smtp;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "smtp_observer invariant broken: %s\n", what);
  std::abort();
}

struct Chunk {
  bool from_server;
  ByteView bytes;
};

bool same(const SessionFacts& a, const SessionFacts& b) {
  return a.banner_code == b.banner_code && a.banner_text == b.banner_text &&
         a.starttls_offered == b.starttls_offered && a.starttls_sent == b.starttls_sent &&
         a.starttls_reply == b.starttls_reply && a.stop == b.stop;
}

void check_facts(const SessionFacts& f) {
  require(f.banner_text.size() <= SessionFacts::kMaxBannerText, "banner text too long");
  for (char c : f.banner_text) require(c >= 0x20 && c <= 0x7e, "banner text not printable");
  require(f.banner_code || f.banner_text.empty(), "banner text without a banner");
  require(!f.banner_code || (*f.banner_code >= 200 && *f.banner_code <= 599),
          "banner code out of range");
  require(!f.starttls_reply || f.starttls_sent, "a STARTTLS reply without STARTTLS");
  require(f.stop != ObserverStop::TlsStarted || (f.starttls_reply && *f.starttls_reply / 100 == 2),
          "TLS started without a 2xx reply to STARTTLS");
}

// Feeds each chunk in pieces of at most `piece` bytes.
SessionFacts run(const std::vector<Chunk>& chunks, size_t piece, size_t cap) {
  SessionObserver observer(cap);
  size_t fed = 0;
  std::optional<SessionFacts> at_stop;
  for (const Chunk& chunk : chunks) {
    size_t at = 0;
    do {
      const ByteView bytes = chunk.bytes.subspan(at, std::min(piece, chunk.bytes.size() - at));
      at += bytes.size();
      fed += bytes.size();
      const bool wants =
          chunk.from_server ? observer.from_server(bytes) : observer.from_client(bytes);
      require(wants == !observer.stopped(), "the return value is not !stopped()");
      require(wants == (observer.facts().stop == ObserverStop::None), "stopped() is not stop");
      check_facts(observer.facts());
      if (at_stop) {
        require(!wants, "bytes wanted after the stop");
        require(same(*at_stop, observer.facts()), "facts changed after the stop");
      } else if (!wants) {
        at_stop = observer.facts();
      }
      const bool cap_passed = fed > cap;
      require(observer.facts().stop != ObserverStop::ByteCap || cap_passed,
              "byte cap before the cap");
      require(!cap_passed || observer.stopped(), "more bytes than the cap and still reading");
    } while (at < chunk.bytes.size());
  }
  return observer.facts();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t cap = data[0] < 128 ? SessionObserver::kDefaultByteCap : 16 + (data[0] - 128) * 8u;
  std::vector<Chunk> chunks;
  for (size_t at = 1; at < size;) {
    const uint8_t header = data[at++];
    const size_t left = size - at;
    const size_t length = (header & 0x7f) == 0 ? left : std::min<size_t>(header & 0x7f, left);
    chunks.push_back({(header & 0x80) != 0, ByteView(data + at, length)});
    at += length;
  }
  // The same bytes with each run of one side's chunks joined into one.
  // (Copied: headers sit between them in the input.)
  std::vector<Chunk> joined;
  std::vector<std::vector<uint8_t>> storage;
  for (const Chunk& chunk : chunks) {
    if (!joined.empty() && joined.back().from_server == chunk.from_server) {
      storage.back().insert(storage.back().end(), chunk.bytes.begin(), chunk.bytes.end());
    } else {
      storage.emplace_back(chunk.bytes.begin(), chunk.bytes.end());
      joined.push_back({chunk.from_server, {}});
    }
  }
  for (size_t i = 0; i < joined.size(); ++i) joined[i].bytes = storage[i];

  const SessionFacts given = run(chunks, SIZE_MAX, cap);
  require(same(given, run(chunks, 1, cap)), "byte by byte differs");
  require(same(given, run(joined, SIZE_MAX, cap)), "joined chunks differ");
  return 0;
}
