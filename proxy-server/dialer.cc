#include "dialer.h"

#include "mxegress/util/log.h"

namespace mx {

socks5::Reply reply_for_connect_error(int uv_status) {
  switch (uv_status) {
    case UV_ECONNREFUSED:
      return socks5::Reply::ConnectionRefused;
    case UV_ENETUNREACH:
    case UV_ENETDOWN:
      return socks5::Reply::NetworkUnreachable;
    case UV_EHOSTUNREACH:
    case UV_EHOSTDOWN:
    case UV_EAI_NONAME:
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY:
      return socks5::Reply::HostUnreachable;
    case UV_ETIMEDOUT:
      return socks5::Reply::TtlExpired;
    case UV_EAFNOSUPPORT:
      return socks5::Reply::AddressTypeNotSupported;
    default:
      return socks5::Reply::GeneralFailure;
  }
}

Dialer::Dialer(Loop& loop, const DestinationPolicy& policy, std::chrono::milliseconds timeout,
               std::string log_context)
    : loop_(loop),
      policy_(policy),
      timeout_(timeout),
      log_context_(std::move(log_context)),
      deadline_(loop) {}

Dialer::~Dialer() = default;

void Dialer::dial(const Target& target, Callback done) {
  target_ = target;
  done_ = std::move(done);
  if (!policy_.port_allowed(target.port)) {
    complete(socks5::Reply::NotAllowed, "port " + std::to_string(target.port) + " is not allowed");
    return;
  }
  deadline_.start(timeout_, [this] {
    complete(socks5::Reply::TtlExpired,
             "no connection within " + std::to_string(timeout_.count()) + " ms");
  });
  if (auto literal = SocketAddress::from_target(target)) {
    on_resolved(0, {*literal});
    return;
  }
  resolution_ = std::make_unique<Resolution>(
      loop_, target.domain, target.port,
      [this](int status, std::vector<SocketAddress> addresses) {
        on_resolved(status, std::move(addresses));
      });
}

void Dialer::on_resolved(int status, std::vector<SocketAddress> addresses) {
  if (status != 0 || addresses.empty()) {
    complete(socks5::Reply::HostUnreachable,
             "cannot resolve " + target_.host() + ": " +
                 (status != 0 ? uv_error_text(status) : std::string("no address")));
    return;
  }
  std::string denial;
  for (const SocketAddress& address : addresses) {
    if (auto reason = policy_.denied_reason(address)) {
      denial = address.ip_string() + " is " + *reason;
      continue;
    }
    candidates_.push_back(address);
  }
  if (candidates_.empty()) {
    complete(socks5::Reply::NotAllowed, denial);
    return;
  }
  try_next();
}

void Dialer::try_next() {
  if (next_candidate_ >= candidates_.size()) {
    complete(last_failure_, last_failure_detail_);
    return;
  }
  const SocketAddress address = candidates_[next_candidate_++];
  last_address_ = address;
  MX_LOG(Info, "dialer") << log_context_ << " dial target=" << target_.to_string()
                         << " address=" << address.to_string();
  attempt_ = std::make_unique<TcpConnection>(loop_);
  const int rc = attempt_->connect(address, std::nullopt, [this](int status) { on_connected(status); });
  if (rc != 0) on_connected(rc);
}

void Dialer::on_connected(int status) {
  if (status == 0) {
    complete(socks5::Reply::Succeeded, "connected");
    return;
  }
  last_failure_ = reply_for_connect_error(status);
  last_failure_detail_ = last_address_->to_string() + ": " + uv_error_text(status);
  // Free the failed socket outside its own callback.
  loop_.defer([dead = std::shared_ptr<TcpConnection>(std::move(attempt_))] {});
  try_next();
}

void Dialer::complete(socks5::Reply reply, std::string detail) {
  if (!done_) return;
  deadline_.stop();
  resolution_.reset();
  DialResult result;
  result.reply = reply;
  result.detail = std::move(detail);
  result.connected = last_address_;
  if (reply == socks5::Reply::Succeeded) {
    result.source = attempt_->local_address();
    result.connection = std::move(attempt_);
  } else if (attempt_) {
    loop_.defer([dead = std::shared_ptr<TcpConnection>(std::move(attempt_))] {});
  }
  auto done = std::move(done_);
  done(std::move(result));
}

}  // namespace mx
