// One tunnel's transport: a TLS 1.3 connection to the peer program that
// carries frames. It knows nothing of sessions (TunnelEndpoint routes them):
// it decrypts and decodes what arrives and hands every frame to its handler,
// and collects what is sent during a loop turn to encrypt and write it once
// at the turn's end, so several sessions' frames, or a reply and the data
// behind it, share one TLS record and one write.
//
// Its end is reported once, to the handler, whoever caused it: the peer,
// the socket, a protocol error, or close() here.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/crypto/tls_engine.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/relay/stream.h"

namespace mx {

class TunnelHandler {
 public:
  virtual ~TunnelHandler() = default;
  virtual void on_tunnel_ready() = 0;  // TLS handshake complete
  virtual void on_tunnel_frame(const frame::Frame& frame) = 0;
  // The tunnel is over (peer closed, socket error, TLS or protocol error, or
  // close()). Called once; nothing is sent or delivered after it.
  virtual void on_tunnel_closed(const std::string& why) = 0;
  // Written bytes reached the kernel: sessions paused on the tunnel resume.
  virtual void on_tunnel_drained() {}
};

class Tunnel final : private StreamReader, private TurnEndTask {
 public:
  Tunnel(Loop& loop, std::unique_ptr<TcpConnection> transport, SSL_CTX* tls_context,
         TlsEngine::Role role, std::string server_name = {});
  ~Tunnel() override;
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  void set_handler(TunnelHandler* handler) { handler_ = handler; }
  void start();  // starts reading; the client side sends its ClientHello
  // Queues whole encoded frames; they leave at the end of this loop turn.
  void send(ByteView encoded_frames);
  // Sends `data` as Data frames of `session`.
  void send_data(uint32_t session, ByteView data);
  // Sends close_notify, lets the bytes drain, closes; reports `why` to the
  // handler. Nothing happens on a tunnel that is over already.
  void close(const std::string& why);
  // Drops the connection at once, queued bytes and all: for a peer known to
  // be gone (a lost tunnel), where a graceful close would only wait.
  void abort(const std::string& why) { end(why, false); }
  bool closed() const { return closed_; }
  // The peer sent at least one byte (a TCP probe that connects and leaves
  // sends none).
  bool heard_from_peer() const { return heard_; }
  // Bytes accepted but not yet handed to the kernel (TLS and TCP together).
  size_t pending_bytes() const;

  TlsEngine& tls() { return tls_; }
  TcpConnection& transport() { return *transport_; }
  std::string describe() const { return "tunnel " + transport_->describe(); }

 private:
  // StreamReader: events from the TCP transport.
  void on_stream_data(ByteView data) override;
  void on_stream_eof() override;
  void on_stream_error(const std::string& why) override;
  void on_stream_drained() override;

  void on_turn_end() override;
  void schedule_flush();
  bool encrypt_outbox();  // false when the tunnel died
  bool encrypt_with_outbox(ByteView payload);
  void flush_ciphertext();
  void dispatch_frames();
  void end(const std::string& why, bool graceful);

  Loop& loop_;
  std::unique_ptr<TcpConnection> transport_;
  TlsEngine tls_;
  Bytes outbox_;  // encoded frames of this turn, not yet encrypted
  bool flush_scheduled_ = false;
  TunnelHandler* handler_ = nullptr;
  bool ready_ = false;
  bool dispatching_ = false;
  bool closed_ = false;
  bool heard_ = false;
};

}  // namespace mx
