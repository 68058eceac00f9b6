#include "probe_session.h"

#include "mxegress/codec/socks5.h"
#include "mxegress/net/socket_address.h"

namespace mx {
namespace {

Target target_of(const std::string& host, uint16_t port) {
  if (auto ip = SocketAddress::parse_ip(host, port)) return ip->to_target();
  return Target::domain_name(host, port);
}

}  // namespace

ProbeSession::ProbeSession(Loop& loop, TunnelPool& pool, std::string host, uint16_t port,
                           Options options, ProbeReport& report, Clock clock, Done done)
    : loop_(loop),
      pool_(pool),
      host_(std::move(host)),
      port_(port),
      options_(std::move(options)),
      report_(report),
      clock_(std::move(clock)),
      done_(std::move(done)),
      conversation_(options_.smtp, report, clock_),
      step_timer_(loop) {}

ProbeSession::~ProbeSession() {
  if (waiting_) pool_.cancel(*this);
  if (stream_) {
    stream_->set_control(nullptr);
    stream_->set_reader(nullptr);
  }
}

void ProbeSession::start() {
  arm_timer();
  waiting_ = true;
  pool_.acquire(*this);
}

void ProbeSession::arm_timer() {
  step_timer_.start(options_.timeout, [this] {
    if (!connected_) {
      return fail_before_smtp(ProbeFailure::Timeout, stream_ ? "connect" : "tunnel",
                              stream_ ? "timeout at connect" : "timeout at tunnel");
    }
    act(conversation_.on_timeout());
  });
}

void ProbeSession::on_tunnel_stream(std::unique_ptr<TunnelStream> stream, bool /*reused*/,
                                    const std::string& server) {
  waiting_ = false;
  stream_ = std::move(stream);
  server_ = server;
  report_.server = server;
  report_.add("tunnel", clock_(), true, "via " + server);
  stream_->set_control(this);
  stream_->send_connect(target_of(host_, port_));
  arm_timer();
}

void ProbeSession::on_no_tunnel(const std::string& why) {
  waiting_ = false;
  fail_before_smtp(ProbeFailure::NoTunnel, "tunnel", "no tunnel: " + why);
}

void ProbeSession::on_session_frame(frame::Type type, ByteView body) {
  if (type == frame::Type::ConnectReply) {
    if (auto reply = frame::parse_connect_reply(body)) return on_connect_reply(*reply);
  }
  if (type == frame::Type::Rst) {
    return fail_before_smtp(ProbeFailure::NoTunnel, "connect",
                            "session reset by " + server_ + " before its reply");
  }
  fail_before_smtp(ProbeFailure::NoTunnel, "connect",
                   std::string("protocol error: unexpected ") + frame::type_name(type));
}

void ProbeSession::on_session_lost(const std::string& why) {
  fail_before_smtp(ProbeFailure::NoTunnel, "connect", "tunnel to " + server_ + " " + why);
}

void ProbeSession::on_connect_reply(const frame::ConnectReplyMessage& reply) {
  const auto code = static_cast<socks5::Reply>(reply.reply);
  const std::string target = target_of(host_, port_).to_string();
  if (code != socks5::Reply::Succeeded) {
    step_timer_.stop();
    report_.add(
        "connect", clock_(), false,
        target + ": " + socks5::reply_name(code) + " (reply " + std::to_string(reply.reply) + ")");
    report_.reason = std::string("CONNECT ") + target + " refused: " + socks5::reply_name(code);
    stream_->forget();  // over on both sides: no RST
    stream_->set_control(nullptr);
    loop_.destroy_later(std::move(stream_));
    return finish(End::Refused);
  }
  connected_ = true;
  report_.source = reply.bound.to_string();
  report_.add("connect", clock_(), true, target + " from " + report_.source);
  stream_->set_control(nullptr);
  stream_->set_reader(this);
  act(conversation_.on_connected());
}

void ProbeSession::on_stream_data(ByteView data) {
  if (tls_) return read_tls(data);
  read_replies(data);
}

void ProbeSession::read_replies(ByteView data) {
  while (!data.empty() && !conversation_.finished()) {
    const smtp::FeedResult r = parser_.feed(data);
    if (r.error != smtp::ReplyError::None) return act(conversation_.on_bad_reply(r.error));
    data = data.subspan(r.consumed);
    if (!r.reply) return;
    const ProbeConversation::Action action = conversation_.on_reply(*r.reply);
    if (action.kind == ProbeConversation::Action::Kind::StartTls) return start_tls(data);
    act(action);
  }
}

void ProbeSession::act(ProbeConversation::Action action) {
  using Kind = ProbeConversation::Action::Kind;
  switch (action.kind) {
    case Kind::Wait:
      arm_timer();
      return;
    case Kind::Send:
      send_line(action.line);
      arm_timer();
      return;
    case Kind::StartTls:
      return start_tls({});
    case Kind::Close:
      step_timer_.stop();
      if (stream_) {
        stream_->set_reader(nullptr);
        if (tls_) {
          tls_->send_close_notify();
          flush_tls();
        }
        stream_->shutdown_write();
        loop_.destroy_later(std::move(stream_));
      }
      return finish(End::Finished);
  }
}

void ProbeSession::send_line(const std::string& line) {
  const std::string wire = line + "\r\n";
  if (!tls_) return stream_->write(as_bytes(wire));
  tls_->write_plaintext(as_bytes(wire));
  flush_tls();
}

void ProbeSession::flush_tls() {
  Bytes out;
  tls_->take_ciphertext(out);
  if (!out.empty()) stream_->write(out);
}

void ProbeSession::start_tls(ByteView early) {
  std::string err;
  tls_context_ = make_probe_tls_context(host_, options_.tls, err);
  if (!tls_context_) return act(conversation_.on_tls_failed(err));
  tls_ = std::make_unique<StartTlsClient>(tls_context_.get(), host_);
  if (tls_->failed()) return act(conversation_.on_tls_failed(tls_->error()));
  tls_->start_handshake();
  flush_tls();
  arm_timer();
  if (!early.empty()) read_tls(early);
}

void ProbeSession::read_tls(ByteView ciphertext) {
  const bool ok = tls_->feed_ciphertext(ciphertext);
  flush_tls();  // the handshake's next flight, or an alert
  if (tls_->handshake_done() && !handshake_reported_) {
    handshake_reported_ = true;
    act(conversation_.on_tls_done(describe_probe_tls(tls_->ssl())));
    if (conversation_.finished()) return;
  }
  // What was decrypted before an error or close_notify (a 221) is read first.
  if (!tls_->plaintext().empty()) {
    const Bytes bytes = std::exchange(tls_->plaintext(), {});
    read_replies(bytes);
    if (conversation_.finished()) return;
  }
  if (ok) return;
  if (!handshake_reported_) {
    handshake_reported_ = true;
    return act(conversation_.on_tls_failed(tls_->error()));
  }
  act(conversation_.on_closed(tls_->error()));
}

void ProbeSession::on_stream_eof() { act(conversation_.on_closed("the MX closed the connection")); }

void ProbeSession::on_stream_error(const std::string& why) { act(conversation_.on_closed(why)); }

void ProbeSession::fail_before_smtp(ProbeFailure failure, const std::string& step,
                                    const std::string& why) {
  step_timer_.stop();
  report_.add(step, clock_(), false, why);
  report_.fail(failure, step, why);
  if (waiting_) pool_.cancel(*this);
  waiting_ = false;
  if (stream_) {
    stream_->set_control(nullptr);
    loop_.destroy_later(std::move(stream_));
  }
  finish(End::Finished);
}

void ProbeSession::finish(End end) {
  if (!done_) return;
  Done done = std::move(done_);
  done_ = nullptr;
  done(end);
}

}  // namespace mx
