// One session of a multiplexed tunnel, as a Stream: its Data frames are the
// bytes, its FIN the half-close, its RST the abort (the tunnel stays up).
// Each direction is flow-controlled by credit (session_credit.h), so a
// session whose reader is slow holds at most one window in the tunnel and
// never stalls its neighbours. Before the data phase, CONNECT_REPLY (and an
// RST that refuses the session) go to a MuxStreamControl.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/relay/session_credit.h"
#include "mxegress/relay/stream.h"
#include "mxegress/util/byte_buffer.h"

namespace mx {

class MuxTunnel;

class MuxStreamControl {
 public:
  virtual ~MuxStreamControl() = default;
  // CONNECT_REPLY (the client), or RST before the data phase (either side).
  virtual void on_session_frame(frame::Type type, ByteView body) = 0;
  // The tunnel died before the data phase.
  virtual void on_session_closed(const std::string& why) = 0;
};

class MuxStream final : public Stream {
 public:
  MuxStream(MuxTunnel& tunnel, uint32_t id, uint32_t receive_window, uint32_t send_window);
  // A session that did not end on the wire (no RST, not FIN both ways, not
  // forgotten) is reset, so the peer frees its side.
  ~MuxStream() override;
  MuxStream(const MuxStream&) = delete;
  MuxStream& operator=(const MuxStream&) = delete;

  uint32_t id() const { return id_; }
  void set_control(MuxStreamControl* control) { control_ = control; }
  // CONNECT or CONNECT_REPLY for this session.
  void send_frame(frame::Type type, ByteView body);
  // The session ended by the protocol (a failed CONNECT_REPLY): no RST.
  void forget() { ended_ = true; }
  // The peer opened this session (the server's side of a CONNECT).
  void opened_by_peer() { id_known_to_peer_ = true; }
  // False once the tunnel is gone, the session was reset, or forgotten.
  bool live() const { return tunnel_ != nullptr && !ended_; }
  // Whether the tunnel has carried any frame from the peer since `when`.
  bool heard_since(std::chrono::steady_clock::time_point when) const;
  // Sends a PING on the tunnel: its PONG (or any frame) proves it alive.
  void probe_tunnel();

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
  friend class MuxTunnel;
  void on_frame(frame::Type type, ByteView body);
  void on_tunnel_closed(const std::string& why);
  void on_tunnel_drained();
  void detach() { tunnel_ = nullptr; }
  void send_credit(bool all);
  bool send_held();  // false when the write ended the session
  void send_fin();
  void end_with_error(const std::string& why);

  MuxTunnel* tunnel_;
  uint32_t id_;
  ReceiveCredit receive_;
  SendCredit send_;
  ByteBuffer held_;  // written beyond the peer's credit
  StreamReader* reader_ = nullptr;
  MuxStreamControl* control_ = nullptr;
  bool fin_wanted_ = false;
  bool fin_sent_ = false;
  bool fin_received_ = false;
  // The peer opened this id, or we sent a frame of it (the CONNECT first).
  bool id_known_to_peer_ = false;
  bool ended_ = false;  // reset either way, or forgotten: nothing more is sent
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
