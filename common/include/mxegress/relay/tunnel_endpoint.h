// One end of an authenticated tunnel, the same on both sides
// (docs/PROTOCOL.md): it owns the Tunnel, routes session frames by id to
// their TunnelStreams, answers PING, keeps the tunnel's liveness (PING when
// quiet, dead when unanswered: liveness.h), and hands its owner what is not
// a session's: a CONNECT for a new id (the server), GOAWAY (the client).
//
// However the tunnel ends (peer, socket, protocol error, liveness, close()),
// it ends through one path: every stream is told ("lost: why", to its reader
// or its control), then the owner. A session never outlives its tunnel
// unknowingly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/liveness.h"
#include "mxegress/relay/tunnel.h"

namespace mx {

class TunnelStream;

// The credit each side grants a session: it bounds what one session can
// have in flight, so it must cover the bandwidth-delay product of the whole
// path, loop turns included. On the 2-core bench machine 1 MiB held one bulk
// session to ~200 MB/s, 4 MiB gave ~450 MB/s, 16 MiB ~460
// (docs/performance.md); Chromium's HTTP/2 grants 6 MiB per stream. It
// costs nothing while a session is idle: it bounds buffering, it is not
// allocated.
inline constexpr uint32_t kDefaultSessionWindow = 4 * 1024 * 1024;

class TunnelEndpointOwner {
 public:
  virtual ~TunnelEndpointOwner() = default;
  // A CONNECT for a new session id (the server's side): accept_stream(id)
  // or answer it with a refusal.
  virtual void on_session_request(uint32_t id, ByteView body) = 0;
  // GOAWAY (the client's side): open no new session here.
  virtual void on_goaway() = 0;
  // The tunnel is over; the `sessions` streams on it have been told already.
  virtual void on_endpoint_closed(const std::string& why, size_t sessions) = 0;
  // A stream was destroyed (its session is over here).
  virtual void on_stream_gone() {}
};

class TunnelEndpoint final : private TunnelHandler {
 public:
  enum class Side { Client, Server };
  // `receive_window`: the credit this side grants each session;
  // `send_window`: the credit the peer granted in the AUTH exchange.
  TunnelEndpoint(Loop& loop, std::unique_ptr<Tunnel> tunnel, Side side, uint32_t receive_window,
                 uint32_t send_window, Liveness::Settings liveness, TunnelEndpointOwner& owner);
  // Streams still open are detached (they see a gone tunnel); owners close
  // the endpoint first so that sessions are told.
  ~TunnelEndpoint() override;
  TunnelEndpoint(const TunnelEndpoint&) = delete;
  TunnelEndpoint& operator=(const TunnelEndpoint&) = delete;

  // The client's side: a stream for the next session id (odd, increasing).
  // Null once the ids are used up: the tunnel takes no more sessions.
  std::unique_ptr<TunnelStream> open_stream();
  // The server's side: the stream for the id of a CONNECT just reported.
  std::unique_ptr<TunnelStream> accept_stream(uint32_t id);
  size_t session_count() const { return streams_.size(); }

  void send(ByteView frames) { tunnel_->send(frames); }
  // Ends the tunnel: close_notify, then every stream and the owner are told.
  void close(const std::string& why) { tunnel_->close(why); }
  bool closed() const { return tunnel_->closed(); }
  Tunnel& tunnel() { return *tunnel_; }
  Loop& loop() { return loop_; }

 private:
  friend class TunnelStream;
  void expect_answer();  // a CONNECT went out: the peer must answer soon
  void protocol_error(const std::string& why) { close("protocol error: " + why); }
  void remove(uint32_t id);
  std::unique_ptr<TunnelStream> make_stream(uint32_t id);

  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;
  void on_tunnel_drained() override;
  void on_session_frame(frame::Type type, const frame::SessionFrame& sf);
  void on_liveness_timer();
  void arm_liveness(uint64_t at_ms);

  Loop& loop_;
  std::unique_ptr<Tunnel> tunnel_;
  Side side_;
  TunnelEndpointOwner& owner_;
  uint32_t receive_window_;
  uint32_t send_window_;
  std::map<uint32_t, TunnelStream*> streams_;
  uint32_t highest_id_ = 0;  // ids at or below it were used; late frames for them are dropped
  Liveness liveness_;
  Timer liveness_timer_;
  uint64_t liveness_due_ms_ = 0;  // when the timer fires
};

}  // namespace mx
