#include "tunnel_opener.h"

#include "mxegress/codec/auth.h"
#include "mxegress/util/log.h"

namespace mx {

const char* open_failure_name(OpenFailure failure) {
  switch (failure) {
    case OpenFailure::None:
      return "ok";
    case OpenFailure::Unreachable:
      return "unreachable";
    case OpenFailure::WrongPin:
      return "wrong pin";
    case OpenFailure::Untrusted:
      return "certificate not trusted";
    case OpenFailure::KeyRefused:
      return "key refused";
    case OpenFailure::Timeout:
      return "timeout";
    case OpenFailure::Other:
      break;
  }
  return "failed";
}

SslCtxPtr client_tls_context_for(const ClientConfig::Server& server, std::string& err) {
  ServerVerification verification;
  verification.pins = server.pins;
  if (server.ca_file) verification.ca_file = *server.ca_file;
  verification.server_name = server.server_name;
  return make_client_tls_context(verification, err);
}

TunnelOpener::TunnelOpener(Loop& loop, NameResolver& resolver, Target target,
                           const ClientIdentity& identity, uint32_t receive_window,
                           std::chrono::milliseconds timeout, TcpLiveness liveness, Done done)
    : loop_(loop),
      target_(std::move(target)),
      identity_(identity),
      receive_window_(receive_window),
      liveness_(liveness),
      done_(std::move(done)),
      deadline_(loop) {
  deadline_.start(timeout, [this] {
    fail(OpenFailure::Timeout, "no authenticated tunnel within the handshake timeout");
  });
  resolution_ =
      resolver.resolve(target_.address.host, target_.address.port,
                       [this](ResolveResult resolved) { on_resolved(std::move(resolved)); });
}

TunnelOpener::~TunnelOpener() {
  if (tunnel_) tunnel_->set_handler(nullptr);
}

void TunnelOpener::on_resolved(ResolveResult resolved) {
  if (resolved.status != ResolveResult::Status::Ok) {
    fail(OpenFailure::Unreachable,
         "cannot resolve " + target_.address.host + ": " + resolved.error);
    return;
  }
  addresses_ = std::move(resolved.addresses);
  connect_next();
}

// Each address of the server's name in the order the resolver gave them,
// until one accepts the connection (all within the one handshake timeout).
void TunnelOpener::connect_next() {
  const SocketAddress& address = addresses_[next_address_++];
  if (tunnel_) {
    tunnel_->set_handler(nullptr);
    loop_.destroy_later(std::move(tunnel_));  // we may be inside its connect callback
  }
  auto connection = std::make_unique<TcpConnection>(loop_);
  TcpConnection* raw = connection.get();
  tunnel_ = std::make_unique<Tunnel>(loop_, std::move(connection), target_.tls,
                                     TlsEngine::Role::Client, target_.server_name);
  tunnel_->set_handler(this);
  const int rc = raw->connect(address, std::nullopt, [this](int s) { on_connected(s); });
  if (rc != 0) on_connected(rc);
}

void TunnelOpener::on_connected(int status) {
  if (status != 0) {
    const std::string why = "cannot connect to " + addresses_[next_address_ - 1].to_string() +
                            ": " + uv_error_text(status);
    if (next_address_ < addresses_.size()) {
      MX_LOG(Debug, "pool") << "tunnel to " << target_.address.to_string() << ": " << why
                            << "; trying its next address";
      connect_next();
      return;
    }
    fail(OpenFailure::Unreachable, why);
    return;
  }
  if (std::string err = tunnel_->transport().set_liveness(liveness_); !err.empty()) {
    MX_LOG(Warn, "pool") << "tunnel to " << target_.address.to_string()
                         << ": cannot set TCP keepalive/user timeout: " << err;
  }
  tunnel_->start();
}

void TunnelOpener::on_tunnel_ready() {
  std::array<uint8_t, 32> exporter{};
  if (!tunnel_->tls().export_keying_material(exporter, kAuthExporterLabel)) {
    fail(OpenFailure::Other, "TLS exporter failed");
    return;
  }
  tunnel_->send(auth::request(identity_, exporter, receive_window_));
}

void TunnelOpener::on_tunnel_frame(const frame::Frame& f) {
  const auth::Answer answer = auth::read_answer(f);
  if (!answer.window) {
    fail(answer.refusal ? OpenFailure::KeyRefused : OpenFailure::Other, answer.error);
    return;
  }
  OpenedTunnel opened;
  opened.send_window = *answer.window;
  tunnel_->set_handler(nullptr);
  opened.tunnel = std::move(tunnel_);
  finish(std::move(opened));
}

void TunnelOpener::on_tunnel_closed(const std::string& why) {
  OpenedTunnel failed{nullptr, 0, "tunnel failed: " + why, OpenFailure::Other, std::nullopt};
  switch (tunnel_->tls().certificate_verdict()) {
    case TlsEngine::CertificateVerdict::Accepted:
      break;
    case TlsEngine::CertificateVerdict::PinMismatch:
      failed.failure = OpenFailure::WrongPin;
      break;
    case TlsEngine::CertificateVerdict::Untrusted:
      failed.failure = OpenFailure::Untrusted;
      break;
  }
  if (failed.failure != OpenFailure::Other) {
    failed.error = "server verification failed: " + why;
    failed.presented_pin = tunnel_->tls().presented_pin();
  }
  finish(std::move(failed));
}

void TunnelOpener::fail(OpenFailure failure, const std::string& why) {
  if (!done_) return;
  OpenedTunnel failed{nullptr, 0, why, failure, std::nullopt};
  if (tunnel_) {
    tunnel_->set_handler(nullptr);  // the reason is ours, not the close's
    tunnel_->close(why);
  }
  finish(std::move(failed));
}

void TunnelOpener::finish(OpenedTunnel result) {
  if (!done_) return;
  deadline_.stop();
  resolution_.reset();
  // A tunnel that failed may be inside its own callback: it goes later.
  loop_.destroy_later(std::move(tunnel_));
  auto done = std::move(done_);
  done_ = nullptr;
  done(std::move(result));
}

}  // namespace mx
