// A local client's connection while its CONNECT is under way: what it sends
// is held (to be relayed first once the destination answers), and its
// leaving is noticed. Without this the connection is not read until the
// reply, so a gateway that gives up (closes) is only found out afterwards,
// and the server keeps dialing for it, holding the tenant's connection slot
// until connect_timeout.
//
// A FIN this early counts as leaving: a SOCKS5 client waits for the reply
// before it sends, and an SMTP client for the banner, so a client that
// half-closes before either is gone (docs/architecture.md).
#pragma once

#include <functional>
#include <string>

#include "mxegress/relay/stream.h"
#include "mxegress/util/bytes.h"

namespace mx {

class HeldInput final : private StreamReader {
 public:
  // Past this many bytes held, reading pauses (and leaving goes unnoticed
  // until the reply): a bound on what a client can park here.
  static constexpr size_t kMaxHeld = 64 * 1024;
  using GoneCallback = std::function<void(const std::string& why)>;

  // `already`: bytes that came with the request. Reading starts at once.
  HeldInput(Stream& client, Bytes already, GoneCallback on_gone);
  ~HeldInput() override;
  HeldInput(const HeldInput&) = delete;
  HeldInput& operator=(const HeldInput&) = delete;

  // Stops watching and hands over what was held. `keep_reading`: the caller
  // sets its own reader in this turn (the relay), so reading need not pause.
  Bytes release(bool keep_reading = false);

 private:
  void on_stream_data(ByteView data) override;
  void on_stream_eof() override;
  void on_stream_error(const std::string& why) override;
  void gone(const std::string& why);

  Stream& client_;
  Bytes held_;
  GoneCallback on_gone_;
  bool watching_ = true;
};

}  // namespace mx
