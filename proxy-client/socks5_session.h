// One SOCKS5 client connection on mxegress-client: greeting, optional RFC 1929
// login, request; then a tunnel, CONNECT to the server, the server's reply
// passed through unchanged, and the relay.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mxegress/codec/socks5.h"
#include "mxegress/config/client_config.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/pump.h"
#include "mxegress/relay/tunnel.h"
#include "password_cache.h"
#include "tunnel_pool.h"

namespace mx {

struct ClientContext {
  Loop& loop;
  const ClientConfig& config;
  TunnelPool& pool;
  PasswordCache& passwords;
};

class Socks5Session final : private StreamReader, private TunnelHandler {
 public:
  using FinishedCallback = std::function<void(Socks5Session*)>;

  Socks5Session(ClientContext context, std::unique_ptr<TcpConnection> local,
                FinishedCallback finished);
  ~Socks5Session() override;
  void start();

 private:
  enum class State { Greeting, Login, CheckingLogin, Request, Connecting, Relaying, Closed };

  // StreamReader: the SOCKS5 client's connection, until the relay starts.
  void on_stream_data(ByteView data) override;
  void on_stream_eof() override;
  void on_stream_error(const std::string& why) override;
  // TunnelHandler: the tunnel, while waiting for the CONNECT reply.
  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;

  void parse_input();
  bool handle_greeting();
  bool handle_login();
  void on_login_checked(bool ok, const std::string& user);
  bool handle_request();
  void on_tunnel(std::unique_ptr<Tunnel> tunnel, const std::string& error);
  void on_connect_reply(const frame::ConnectReplyMessage& reply);
  void on_relay_done(const RelayOutcome& outcome);
  void reply_and_close(socks5::Reply reply, const std::string& why);
  void send_local(const Bytes& bytes);
  void finish(const std::string& why);

  ClientContext ctx_;
  std::unique_ptr<TcpConnection> local_;
  std::string peer_;
  FinishedCallback finished_;
  State state_ = State::Greeting;
  Bytes input_;
  Timer timer_;
  std::string user_;
  Target target_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<Pump> pump_;
  std::shared_ptr<void> login_check_;
  std::chrono::steady_clock::time_point start_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
