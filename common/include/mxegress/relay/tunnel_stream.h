// One session of a tunnel, as a Stream: its DATA frames are the bytes, its
// FIN the half-close, its RST the abort (the tunnel and its other sessions
// carry on). Each direction is flow-controlled by credit (session_credit.h),
// so a session whose reader is slow holds at most one window in the tunnel
// and never stalls its neighbours. Before the data phase, CONNECT_REPLY, an
// RST that refuses the session and the tunnel's loss go to a
// TunnelStreamControl; after it, to the reader (the relay pump).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/loop/loop.h"
#include "mxegress/relay/session_credit.h"
#include "mxegress/relay/stream.h"
#include "mxegress/util/byte_buffer.h"

namespace mx {

class TunnelEndpoint;

class TunnelStreamControl {
 public:
  virtual ~TunnelStreamControl() = default;
  // CONNECT_REPLY (the client's side), or RST before the data phase (either side).
  virtual void on_session_frame(frame::Type type, ByteView body) = 0;
  // The tunnel is gone (`why` says how) before the data phase.
  virtual void on_session_lost(const std::string& why) = 0;
};

class TunnelStream final : public Stream {
 public:
  TunnelStream(TunnelEndpoint& endpoint, uint32_t id, uint32_t receive_window,
               uint32_t send_window);
  // A session that did not end on the wire (no RST, not FIN both ways, not
  // forgotten) is reset, so the peer frees its side.
  ~TunnelStream() override;
  TunnelStream(const TunnelStream&) = delete;
  TunnelStream& operator=(const TunnelStream&) = delete;

  uint32_t id() const { return id_; }
  void set_control(TunnelStreamControl* control) { control_ = control; }
  // CONNECT (the client) or CONNECT_REPLY (the server) for this session.
  void send_connect(const Target& target);
  void send_reply(const frame::ConnectReplyMessage& reply);
  // The session ended by the protocol (a failed CONNECT_REPLY): no RST.
  void forget() { ended_ = true; }
  // The peer opened this session (the server's side of a CONNECT).
  void opened_by_peer() { id_known_to_peer_ = true; }
  // False once the tunnel is gone, the session was reset, or forgotten.
  bool live() const { return endpoint_ != nullptr && !ended_; }

  // Stream
  void set_reader(StreamReader* reader) override { reader_ = reader; }
  void write(ByteView data) override;
  // Bytes held for lack of credit, plus the tunnel's own backlog: a full
  // tunnel pauses every session's source, as one TCP connection would.
  size_t pending_bytes() const override;
  bool can_send_now() const override { return send_.available() > 0; }
  void shutdown_write() override;  // FIN, once the held bytes are sent
  void abort() override;           // RST for this session only
  void pause_reading() override;   // withholds credit
  void resume_reading() override;  // returns it
  std::string describe() const override;

 private:
  friend class TunnelEndpoint;
  void on_frame(frame::Type type, ByteView body);
  void on_tunnel_lost(const std::string& why);
  void on_tunnel_drained();
  void send_frame(frame::Type type, ByteView body);
  void send_credit(bool all);
  bool send_held();  // false when the write ended the session
  void send_fin();
  void end_with_error(const std::string& why);

  TunnelEndpoint* endpoint_;  // null once the tunnel is gone
  uint32_t id_;
  ReceiveCredit receive_;
  SendCredit send_;
  ByteBuffer held_;  // written beyond the peer's credit
  StreamReader* reader_ = nullptr;
  TunnelStreamControl* control_ = nullptr;
  DeferredCall shutdown_done_;  // tells the reader our FIN is out
  bool fin_wanted_ = false;
  bool fin_sent_ = false;
  bool fin_received_ = false;
  // The peer opened this id, or we sent a frame of it (the CONNECT first).
  bool id_known_to_peer_ = false;
  bool ended_ = false;  // reset either way, or forgotten: nothing more is sent
};

}  // namespace mx
