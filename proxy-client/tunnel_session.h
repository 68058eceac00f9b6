// Carries one local connection to its target through a tunnel: a stream
// from the TunnelPool, CONNECT, the server's reply (handed to the front
// that accepted the connection: SOCKS5, transparent or forward), then the
// relay. It does not know how many sessions share its tunnel.
//
// A tunnel that was already open when the session asked for it may have
// died unnoticed; if it turns out lost before the reply, the CONNECT is
// sent once more on a fresh tunnel, unseen by the gateway. A local client
// that leaves before the reply cancels the CONNECT (an RST), so the server
// stops dialing for it. A tunnel lost during the relay ends the session
// (the pump resets the local connection).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "client_metrics.h"
#include "mxegress/codec/socks5.h"
#include "mxegress/config/client_config.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/held_input.h"
#include "mxegress/relay/pump.h"
#include "tunnel_pool.h"

namespace mx {

struct ClientContext {
  Loop& loop;
  const ClientConfig& config;
  TunnelPool& pool;
  ClientSessionCounts* sessions = nullptr;  // for /metrics; null: not counted
  SessionMode mode = SessionMode::Socks5;   // the front that accepted the session
};

class TunnelSession final : private PoolWaiter, private TunnelStreamControl {
 public:
  // Once. Any code but Succeeded ends the session (no relay follows).
  using ReplyCallback =
      std::function<void(socks5::Reply reply, const Target& bound, const std::string& why)>;
  // Once, after a successful reply, when the relay has ended; or instead of
  // the reply, when the local client left before it (closed or reset).
  using DoneCallback = std::function<void(const std::string& end)>;

  TunnelSession(ClientContext context, TcpConnection& local, std::string peer, Target target,
                ReplyCallback on_reply, DoneCallback on_done);
  ~TunnelSession();
  TunnelSession(const TunnelSession&) = delete;
  TunnelSession& operator=(const TunnelSession&) = delete;

  void start(Bytes early_data = {});

 private:
  // PoolWaiter
  void on_tunnel_stream(std::unique_ptr<TunnelStream> stream, bool reused,
                        const std::string& server) override;
  void on_no_tunnel(const std::string& why) override;
  // TunnelStreamControl: before the reply.
  void on_session_frame(frame::Type type, ByteView body) override;
  void on_session_lost(const std::string& why) override;

  void on_connect_reply(const frame::ConnectReplyMessage& reply);
  void on_relay_done(const RelayOutcome& outcome);
  void on_client_gone(const std::string& why);
  bool retry(const std::string& why);
  void fail(socks5::Reply reply, const std::string& why);
  void drop_stream();
  void count_end(SessionResult result);  // once, for /metrics

  ClientContext ctx_;
  TcpConnection& local_;
  std::string peer_;
  Target target_;
  ReplyCallback on_reply_;
  DoneCallback on_done_;
  std::unique_ptr<HeldInput> held_;  // the local side until the reply
  Timer reply_timer_;
  std::unique_ptr<TunnelStream> stream_;
  std::string server_;
  bool reused_ = false;
  bool retried_ = false;
  bool waiting_ = false;  // queued in the pool
  std::unique_ptr<Pump> pump_;
  uint64_t early_bytes_ = 0;  // sent with the request, written before the pump started
  std::chrono::steady_clock::time_point start_;
  bool counted_end_ = false;
};

}  // namespace mx
