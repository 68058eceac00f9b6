#include "intercepted_session.h"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>

#include "mxegress/util/log.h"

namespace mx {

std::string smtp_421_for(socks5::Reply reply, const Target& target) {
  const std::string where = target.to_string();
  std::string text;
  switch (reply) {
    case socks5::Reply::ConnectionRefused:
      text = "4.4.1 mxegress: connection to " + where + " refused";
      break;
    case socks5::Reply::TtlExpired:
      text = "4.4.1 mxegress: connection to " + where + " timed out";
      break;
    case socks5::Reply::HostUnreachable:
      text = "4.4.1 mxegress: host " + target.host() + " unreachable";
      break;
    case socks5::Reply::NetworkUnreachable:
      text = "4.4.1 mxegress: network unreachable for " + where;
      break;
    case socks5::Reply::NotAllowed:
      text = "4.4.0 mxegress: " + where + " refused by the egress policy";
      break;
    default:
      text = "4.4.0 mxegress: egress tunnel unavailable";
      break;
  }
  return "421 " + text + "\r\n";
}

std::optional<Target> original_destination(const TcpConnection& connection) {
  const int fd = connection.fd();
  if (fd < 0) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto local = connection.local_address();
  if (local && local->family() == AF_INET6 && !local->is_ipv4_mapped()) {
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) != 0) return std::nullopt;
  } else if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) != 0) {
    return std::nullopt;
  }
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).to_target();
}

InterceptedSession::InterceptedSession(ClientContext context, std::unique_ptr<TcpConnection> local,
                                       std::optional<Target> target,
                                       ClientConfig::FailureAction on_failure, std::string kind,
                                       FinishedCallback finished)
    : ctx_(context),
      local_(std::move(local)),
      target_(std::move(target)),
      on_failure_(on_failure),
      kind_(std::move(kind)),
      finished_(std::move(finished)) {
  auto peer = local_->peer_address();
  peer_ = peer ? peer->to_string() : "?";
}

InterceptedSession::~InterceptedSession() { session_.reset(); }

void InterceptedSession::start() {
  if (!target_) target_ = original_destination(*local_);
  if (!target_) {
    MX_LOG(Warn, kind_) << log_kv("peer", peer_)
                        << " has no original destination (was it redirected by the firewall?)";
    finish("no original destination");
    local_->abort();
    return;
  }
  // Until the destination answers, the TunnelSession only holds what the
  // client sends (SMTP servers speak first: usually nothing) and watches
  // for it leaving.
  local_->pause_reading();
  local_->start_reading();
  session_ = std::make_unique<TunnelSession>(
      ctx_, *local_, peer_, *target_,
      [this](socks5::Reply reply, const Target&, const std::string& why) {
        if (reply != socks5::Reply::Succeeded) on_reply(reply, why);
      },
      [this](const std::string& end) { finish(end); });
  session_->start();
}

void InterceptedSession::on_reply(socks5::Reply reply, const std::string& why) {
  MX_LOG(Info, kind_) << log_kv("peer", peer_) << log_kv("target", target_->to_string())
                      << " failed (" << why << "): "
                      << (on_failure_ == ClientConfig::FailureAction::Reply421 ? "421" : "reset");
  if (on_failure_ == ClientConfig::FailureAction::Reply421) {
    local_->write(as_bytes(smtp_421_for(reply, *target_)));
    finish(why);
    return;
  }
  finished_called_ = true;
  local_->set_reader(nullptr);
  local_->abort();
  finished_(this);
}

void InterceptedSession::finish(const std::string& why) {
  if (finished_called_) return;
  finished_called_ = true;
  local_->set_reader(nullptr);
  local_->close_after_flush();
  MX_LOG(Debug, kind_) << log_kv("peer", peer_) << " closed: " << why;
  finished_(this);
}

}  // namespace mx
