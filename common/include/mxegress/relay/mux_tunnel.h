// A multiplexed tunnel (docs/PROTOCOL.md, "Multiplexed mode"): one TLS
// tunnel carrying many sessions at once, each a MuxStream. The MuxTunnel
// routes session frames by id, hands the rest (PING, PONG, GOAWAY, a CONNECT
// for a new session) to its owner, and fans the tunnel's death and drain
// out to every stream. It does not own the Tunnel: its owner keeps both.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/loop/loop.h"
#include "mxegress/relay/tunnel.h"

namespace mx {

class MuxStream;

// The credit each side grants a session: it bounds what one session can
// have in flight, so it must cover the bandwidth-delay product of the whole
// path, loop turns included. On the 2-core bench machine 1 MiB held one bulk
// session to ~200 MB/s, 4 MiB gave ~450 MB/s (the single mode's figure),
// 16 MiB ~460 (docs/performance.md); Chromium's HTTP/2 grants 6 MiB per stream.
// It costs nothing while a session is idle: it bounds buffering, it is not
// allocated.
inline constexpr uint32_t kDefaultSessionWindow = 4 * 1024 * 1024;

class MuxTunnelHandler {
 public:
  virtual ~MuxTunnelHandler() = default;
  // Every frame that is not for an open session: PING, PONG, GOAWAY, ...
  virtual void on_mux_frame(const frame::Frame& f) = 0;
  // A CONNECT for a new session id (the server's side).
  virtual void on_mux_connect(uint32_t session, ByteView body) { (void)session, (void)body; }
  // The tunnel is dead; every stream has been told already.
  virtual void on_mux_closed(const std::string& why) = 0;
  // A stream was destroyed (its session is over here).
  virtual void on_mux_stream_gone() {}
};

class MuxTunnel final : private TunnelHandler {
 public:
  // `receive_window`: the credit this side grants each session;
  // `send_window`: the credit the peer granted in the AUTH exchange.
  MuxTunnel(Loop& loop, Tunnel& tunnel, uint32_t receive_window, uint32_t send_window,
            MuxTunnelHandler& handler);
  ~MuxTunnel() override;
  MuxTunnel(const MuxTunnel&) = delete;
  MuxTunnel& operator=(const MuxTunnel&) = delete;

  Tunnel& tunnel() { return tunnel_; }
  Loop& loop() { return loop_; }
  // The client's side: a stream for the next session id (odd, increasing).
  // Null once the ids are used up: the tunnel takes no more sessions.
  std::unique_ptr<MuxStream> open_next_stream();
  // The server's side: the stream for a CONNECT's id.
  std::unique_ptr<MuxStream> open_stream(uint32_t session);
  size_t stream_count() const { return streams_.size(); }
  // When the peer was last heard from (any frame): liveness for keepalives.
  std::chrono::steady_clock::time_point last_heard() const { return last_heard_; }
  void send(const Bytes& frames) { tunnel_.send(frames); }

 private:
  std::unique_ptr<MuxStream> make_stream(uint32_t session);
  friend class MuxStream;

  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;
  void on_tunnel_drained() override;
  void on_session_frame(frame::Type type, const frame::SessionFrame& sf);
  void protocol_error(const std::string& why);
  void remove(uint32_t session);

  Loop& loop_;
  Tunnel& tunnel_;
  MuxTunnelHandler& handler_;
  uint32_t receive_window_;
  uint32_t send_window_;
  std::map<uint32_t, MuxStream*> streams_;
  uint32_t highest_id_ = 0;
  std::chrono::steady_clock::time_point last_heard_ =
      std::chrono::steady_clock::now();  // ids at or below it were used; late frames for them are
                                         // dropped
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
