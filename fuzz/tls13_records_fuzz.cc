// Feeds arbitrary bytes to Tls13RecordLayer::open as a server would get them
// from a client after the handshake, in two ways chosen by the first byte:
//   even: the bytes as they are (headers, lengths, tags an attacker forges);
//   odd:  the bytes read as records to protect, [inner type][u16 length][content]
//         each, sealed under the client's real keys before they are fed, so the
//         fuzzer reaches what only authenticated records reach (post-handshake
//         messages, alerts, padding, KeyUpdate in and out).
// Either way, in irregular pieces. Besides not crashing: what open() hands on
// never exceeds what went in; a failed layer has a reason and stays failed.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "mxegress/crypto/tls13_record_layer.h"

namespace {

using namespace mx;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "record layer invariant broken: %s\n", what);
  std::abort();
}

const Bytes kClientSecret(32, 0x11);
const Bytes kServerSecret(32, 0x22);

Bytes seal_items(ByteView in) {
  auto direction = Tls13RecordLayer::Direction::make(Tls13Suite::Aes128GcmSha256, kClientSecret);
  Bytes wire;
  while (in.size() >= 3) {
    const uint8_t type = in[0];
    const size_t length = std::min<size_t>(read_u16(in.data() + 1), in.size() - 3);
    const ByteView content = in.subspan(3, length);
    in = in.subspan(3 + length);
    const size_t inner = content.size() + 1;
    const size_t body = inner + RecordCipher::kTagLength;
    const size_t at = wire.size();
    wire.resize(at + Tls13RecordLayer::kHeaderLength + body);
    uint8_t* record = wire.data() + at;
    record[0] = 23;
    record[1] = 3;
    record[2] = 3;
    record[3] = static_cast<uint8_t>(body >> 8);
    record[4] = static_cast<uint8_t>(body);
    direction->cipher.begin(direction->next_nonce(), ByteView(record, 5), true);
    direction->cipher.update(record + 5, content.data(), content.size());
    direction->cipher.update(record + 5 + content.size(), &type, 1);
    direction->cipher.seal(
        std::span<uint8_t, RecordCipher::kTagLength>(record + 5 + inner, RecordCipher::kTagLength));
    // A KeyUpdate moves the client to new keys, as a real client would.
    if (type == 22 && content.size() == 5 && content[0] == 24) direction->update_keys();
  }
  return wire;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || !RecordCipher::available()) return 0;
  auto server = Tls13RecordLayer::create(
      Tls13Suite::Aes128GcmSha256, Tls13RecordLayer::Role::Server, kClientSecret, kServerSecret);
  require(server != nullptr, "create");
  const ByteView input(data + 1, size - 1);
  const Bytes wire = (data[0] & 1) != 0 ? seal_items(input) : Bytes(input.begin(), input.end());
  ByteBuffer plaintext;
  ByteBuffer out;
  const size_t piece = 1 + data[0] / 2;
  bool failed = false;
  for (size_t at = 0; at < wire.size(); at += piece) {
    const bool ok =
        server->open(ByteView(wire).subspan(at, std::min(piece, wire.size() - at)), plaintext, out);
    require(ok == !server->failed(), "result matches failed()");
    if (!ok) {
      require(!server->error().empty(), "a failure has a reason");
      failed = true;
    }
    require(!failed || server->failed(), "a failed layer stays failed");
  }
  require(plaintext.size() <= wire.size(), "no more plaintext than ciphertext");
  return 0;
}
