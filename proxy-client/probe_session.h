// One MX host probed through the tunnel pool, as a session would go: a
// stream from the TunnelPool, CONNECT to the host (a name goes to the
// server as a domain: the server resolves it), then ProbeConversation over
// the stream, with StartTlsClient after STARTTLS. Each step has `timeout`. Its
// steps and facts go to the ProbeReport; `done` says whether the CONNECT
// was refused (the next MX host may be tried) or the probe of this host
// ended (ok or not: see the report).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mxegress/codec/smtp_reply.h"
#include "mxegress/loop/timer.h"
#include "probe_conversation.h"
#include "probe_tls.h"
#include "starttls_client.h"
#include "tunnel_pool.h"

namespace mx {

class ProbeSession final : private PoolWaiter, private TunnelStreamControl, private StreamReader {
 public:
  enum class End { Refused, Finished };
  using Done = std::function<void(End)>;
  using Clock = ProbeConversation::Clock;

  struct Options {
    ProbeConversation::Options smtp;
    ProbeTlsOptions tls;
    std::chrono::milliseconds timeout{30000};
  };

  ProbeSession(Loop& loop, TunnelPool& pool, std::string host, uint16_t port, Options options,
               ProbeReport& report, Clock clock, Done done);
  ~ProbeSession() override;
  ProbeSession(const ProbeSession&) = delete;
  ProbeSession& operator=(const ProbeSession&) = delete;

  void start();

 private:
  // PoolWaiter
  void on_tunnel_stream(std::unique_ptr<TunnelStream> stream, bool reused,
                        const std::string& server) override;
  void on_no_tunnel(const std::string& why) override;
  // TunnelStreamControl: until the CONNECT reply
  void on_session_frame(frame::Type type, ByteView body) override;
  void on_session_lost(const std::string& why) override;
  // StreamReader: the MX's bytes
  void on_stream_data(ByteView data) override;
  void on_stream_eof() override;
  void on_stream_error(const std::string& why) override;

  void on_connect_reply(const frame::ConnectReplyMessage& reply);
  void read_replies(ByteView plaintext);
  void read_tls(ByteView ciphertext);
  void act(ProbeConversation::Action action);
  void start_tls(ByteView early);
  void send_line(const std::string& line);
  void flush_tls();
  void arm_timer();
  void fail_before_smtp(ProbeFailure failure, const std::string& step, const std::string& why);
  void finish(End end);

  Loop& loop_;
  TunnelPool& pool_;
  std::string host_;
  uint16_t port_;
  Options options_;
  ProbeReport& report_;
  Clock clock_;
  Done done_;
  ProbeConversation conversation_;
  smtp::ReplyParser parser_;
  Timer step_timer_;
  std::unique_ptr<TunnelStream> stream_;
  std::string server_;
  bool waiting_ = false;  // queued in the pool
  bool connected_ = false;
  SslCtxPtr tls_context_;
  std::unique_ptr<StartTlsClient> tls_;
  bool handshake_reported_ = false;
};

}  // namespace mx
