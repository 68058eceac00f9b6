// One tunnel: a TLS 1.3 connection to the peer program carrying frames. It
// carries one relayed TCP connection at a time; between sessions it is idle
// and can carry the next (handshakes are paid per tunnel, not per session).
//
// Control frames go to the TunnelHandler. During a session a StreamReader
// (the relay pump) is attached, and the tunnel is a Stream: Data frames are
// its bytes, Fin its half-close, Rst its abort.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <optional>
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
  // The tunnel is dead (peer closed, TLS or protocol error). It sends nothing more.
  virtual void on_tunnel_closed(const std::string& why) = 0;
  // Written bytes reached the kernel (multiplexed tunnels resume their streams).
  virtual void on_tunnel_drained() {}
};

// Frames written during a loop turn are collected and encrypted and sent
// together at the turn's end (TurnEndTask): several sessions' frames, or a
// reply and the data behind it, share one TLS record and one write.
class Tunnel final : public Stream, private StreamReader, private TurnEndTask {
 public:
  Tunnel(Loop& loop, std::unique_ptr<TcpConnection> transport, SSL_CTX* tls_context,
         TlsEngine::Role role, std::string server_name = {});
  ~Tunnel() override;
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  void set_handler(TunnelHandler* handler) { handler_ = handler; }
  void start();  // starts reading; the client side sends its ClientHello
  // Queues frames; they leave at the end of this loop turn (or on close()).
  void send(const Bytes& encoded_frames);
  TlsEngine& tls() { return tls_; }
  TcpConnection& transport() { return *transport_; }
  bool dead() const { return dead_; }
  // Sends close_notify, lets the bytes drain, closes. The tunnel is dead after.
  void close();
  // Bytes accepted but not yet handed to the kernel (TLS and TCP together).
  size_t transport_pending() const;

  // Multiplexed mode (docs/PROTOCOL.md): every frame, session frames
  // included, goes to the handler, which owns the sessions (MuxTunnel).
  void set_multiplexed() { multiplexed_ = true; }
  bool multiplexed() const { return multiplexed_; }
  // Sends `data` as Data frames of session `session` (multiplexed mode).
  void write_session_data(uint32_t session, ByteView data);

  // Session: while a reader is attached, Data/Fin/Rst frames go to it.
  void attach_session(StreamReader* reader);
  void detach_session();
  bool fin_sent() const { return fin_sent_; }
  bool fin_received() const { return fin_received_; }
  bool session_complete() const { return fin_sent_ && fin_received_ && !dead_; }
  // The server's END for the last session (it may arrive before the client's
  // own relay has finished flushing).
  bool end_received() const { return end_received_; }

  // Stream (the data phase)
  void set_reader(StreamReader* reader) override { attach_session(reader); }
  void write(ByteView data) override;
  size_t pending_bytes() const override;
  void shutdown_write() override;  // sends Fin
  // Sends Rst, then closes the tunnel; does nothing once FIN has gone both
  // ways (the session is over on the wire: there is nothing left to reset).
  void abort() override;
  void pause_reading() override;
  void resume_reading() override;
  std::string describe() const override;

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
  void write_data_frames(ByteView data, std::optional<uint32_t> session);
  void dispatch_frames();
  bool dispatch_one(const frame::Frame& frame);
  void die(const std::string& why);

  Loop& loop_;
  std::unique_ptr<TcpConnection> transport_;
  TlsEngine tls_;
  Bytes outbox_;  // encoded frames of this turn, not yet encrypted
  bool flush_scheduled_ = false;
  TunnelHandler* handler_ = nullptr;
  StreamReader* session_ = nullptr;
  bool ready_ = false;
  bool multiplexed_ = false;
  bool paused_ = false;
  bool dispatching_ = false;
  bool dead_ = false;
  bool fin_sent_ = false;
  bool fin_received_ = false;
  bool end_received_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
