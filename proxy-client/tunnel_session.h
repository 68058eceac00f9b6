// Carries one local connection to its target through a tunnel: a tunnel
// from the pool (or a session on a shared, multiplexed one), CONNECT, the
// server's reply (handed to the front that accepted the connection: SOCKS5,
// transparent or forward), the relay, and the tunnel back to the pool. A
// pooled tunnel that turns out dead before the reply is replaced once by a
// fresh one, unseen by the gateway. A local client that leaves before the
// reply cancels the CONNECT (an RST, or the single-mode tunnel closed), so
// the server stops dialing for it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mxegress/codec/socks5.h"
#include "mxegress/config/client_config.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/held_input.h"
#include "mxegress/relay/pump.h"
#include "mxegress/relay/tunnel.h"
#include "tunnel_pool.h"

namespace mx {

struct ClientContext {
  Loop& loop;
  const ClientConfig& config;
  TunnelPool& pool;
};

class TunnelSession final : private TunnelHandler, private MuxStreamControl {
 public:
  // Once. Any code but Succeeded ends the session (no relay follows).
  using ReplyCallback =
      std::function<void(socks5::Reply reply, const Target& bound, const std::string& why)>;
  // Once, after a successful reply, when the relay has ended; or instead of
  // the reply, when the local client left before it (closed or reset).
  using DoneCallback = std::function<void(const std::string& end)>;

  TunnelSession(ClientContext context, TcpConnection& local, std::string peer, Target target,
                ReplyCallback on_reply, DoneCallback on_done);
  ~TunnelSession() override;
  TunnelSession(const TunnelSession&) = delete;
  TunnelSession& operator=(const TunnelSession&) = delete;

  void start(Bytes early_data = {});

 private:
  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;
  // A session on a shared tunnel, before its reply.
  void on_session_frame(frame::Type type, ByteView body) override;
  void on_session_closed(const std::string& why) override;

  void acquire(bool fresh);
  void on_tunnel(TunnelPool::Acquired acquired);
  void on_connect_reply(const frame::ConnectReplyMessage& reply);
  void on_relay_done(const RelayOutcome& outcome);
  void start_reply_timer();
  void on_client_gone(const std::string& why);
  void fail(socks5::Reply reply, const std::string& why);
  void drop_tunnel();
  void drop_stream();
  bool retry_on_fresh_tunnel(const std::string& why);
  Stream& remote();  // the tunnel, or the session's stream on a shared one

  ClientContext ctx_;
  TcpConnection& local_;
  std::string peer_;
  Target target_;
  ReplyCallback on_reply_;
  DoneCallback on_done_;
  std::unique_ptr<HeldInput> held_;  // the local side until the reply
  Timer reply_timer_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<MuxStream> stream_;
  size_t server_index_ = 0;
  std::string server_;
  bool reused_ = false;
  bool retried_ = false;
  bool awaiting_pong_ = false;
  bool client_gone_ = false;
  std::unique_ptr<Pump> pump_;
  std::chrono::steady_clock::time_point start_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
