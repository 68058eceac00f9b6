// One SOCKS5 client connection on mxegress-client: the shared SOCKS5
// handshake, then a tunnel, CONNECT to the server, the server's reply passed
// through unchanged, and the relay.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mxegress/config/client_config.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/pump.h"
#include "mxegress/relay/socks5_handshake.h"
#include "mxegress/relay/tunnel.h"
#include "tunnel_pool.h"

namespace mx {

struct ClientContext {
  Loop& loop;
  const ClientConfig& config;
  TunnelPool& pool;
  PasswordCache* passwords;  // null: no SOCKS5 login
};

class Socks5Session final : private TunnelHandler {
 public:
  using FinishedCallback = std::function<void(Socks5Session*)>;

  Socks5Session(ClientContext context, std::unique_ptr<TcpConnection> local,
                FinishedCallback finished);
  ~Socks5Session() override;
  void start();

 private:
  enum class State { Handshake, Connecting, Relaying, Closed };

  // TunnelHandler: the tunnel, while waiting for the CONNECT reply.
  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;

  void on_request(Socks5Handshake::Request request);
  void on_tunnel(std::unique_ptr<Tunnel> tunnel, const std::string& error);
  void on_connect_reply(const frame::ConnectReplyMessage& reply);
  void on_relay_done(const RelayOutcome& outcome);
  void reply_and_close(socks5::Reply reply, const std::string& why);
  void finish(const std::string& why);

  ClientContext ctx_;
  std::unique_ptr<TcpConnection> local_;
  std::string peer_;
  FinishedCallback finished_;
  State state_ = State::Handshake;
  std::unique_ptr<Socks5Handshake> handshake_;
  Timer reply_timer_;
  Target target_;
  Bytes early_data_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<Pump> pump_;
  std::chrono::steady_clock::time_point start_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
