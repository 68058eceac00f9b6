// The SOCKS5 front end both programs share: greeting, optional RFC 1929
// login, request, on one accepted TcpConnection, with a deadline. It answers
// protocol errors itself (the right reply code, or a close) and hands a
// CONNECT request to its owner; the owner later sends the final reply with
// send_reply() and either relays or closes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mxegress/codec/socks5.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"

namespace mx {

class Socks5Handshake final : private StreamReader {
 public:
  struct Request {
    Target target;
    std::string user;  // empty without login
    Bytes early_data;  // bytes the client sent after its request, to relay first
  };
  using RequestCallback = std::function<void(Request)>;
  // The handshake failed and was answered; the owner closes the connection.
  using FailedCallback = std::function<void(const std::string& why)>;

  // `passwords` may be null (no login); otherwise login is required.
  // `peer` names the client in log lines.
  Socks5Handshake(Loop& loop, TcpConnection& client, PasswordCache* passwords,
                  std::chrono::milliseconds timeout, std::string peer,
                  RequestCallback on_request, FailedCallback on_failed);
  ~Socks5Handshake() override;
  Socks5Handshake(const Socks5Handshake&) = delete;
  Socks5Handshake& operator=(const Socks5Handshake&) = delete;

  void start();
  // The final reply to the CONNECT. Reading stays paused; the relay resumes it.
  void send_reply(socks5::Reply reply, const Target& bound);

 private:
  enum class State { Greeting, Login, CheckingLogin, Request, Done };

  void on_stream_data(ByteView data) override;
  void on_stream_eof() override;
  void on_stream_error(const std::string& why) override;

  void parse_input();
  bool handle_greeting();
  bool handle_login();
  void on_login_checked(LoginVerdict verdict, const std::string& user);
  bool handle_request();
  void fail(const std::string& why, bool warn = true);
  void send(const Bytes& bytes) { client_.write(ByteView(bytes)); }

  TcpConnection& client_;
  PasswordCache* passwords_;
  std::string peer_;
  bool heard_ = false;  // the client sent a byte
  RequestCallback on_request_;
  FailedCallback on_failed_;
  Timer deadline_;
  std::chrono::milliseconds timeout_;
  State state_ = State::Greeting;
  Bytes input_;
  std::string user_;  // logged in as (or tried to, in a failure's log line)
  std::shared_ptr<void> login_check_;
};

}  // namespace mx
