// A connection that arrives without asking for a destination: redirected by
// the firewall to the transparent listener (the destination is read back
// with SO_ORIGINAL_DST), or accepted on a fixed forward (the destination is
// configured). When the server cannot connect, the gateway must learn it as
// it would from a direct connection, so it tries the next MX at once:
// `reset` closes abortively, `421` answers with an SMTP 421 greeting.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "local_session.h"
#include "tunnel_session.h"

namespace mx {

class InterceptedSession final : public LocalSession {
 public:

  InterceptedSession(ClientContext context, std::unique_ptr<TcpConnection> local,
                     std::optional<Target> target, ClientConfig::FailureAction on_failure,
                     std::string kind, FinishedCallback finished);
  ~InterceptedSession() override;
  void start() override;

 private:
  void on_reply(socks5::Reply reply, const std::string& why);
  void finish(const std::string& why);

  ClientContext ctx_;
  std::unique_ptr<TcpConnection> local_;
  std::optional<Target> target_;
  ClientConfig::FailureAction on_failure_;
  std::string kind_;  // "transparent" or "forward", for logs
  std::string peer_;
  FinishedCallback finished_;
  std::unique_ptr<TunnelSession> session_;
  bool finished_called_ = false;
};

// The SMTP greeting sent instead of the MX's when on_failure = "421":
// "421 4.4.1 mxegress: connection to 192.0.2.1:25 refused\r\n".
std::string smtp_421_for(socks5::Reply reply, const Target& target);

// The destination a REDIRECTed connection was addressed to (SO_ORIGINAL_DST,
// or IP6T_SO_ORIGINAL_DST for IPv6).
std::optional<Target> original_destination(const TcpConnection& connection);

}  // namespace mx
