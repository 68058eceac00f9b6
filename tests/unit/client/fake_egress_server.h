// An in-process egress server for the client's pool tests: a TcpListener on
// 127.0.0.1, a Tunnel(Role::Server) per connection with the server identity
// of a temp directory, the AUTH exchange (auth::check_request, auth::answer)
// for one known client key, a PING whose PONG says the client's pool holds
// the tunnel, then a TunnelEndpoint(Side::Server) that accepts every
// CONNECT's stream and keeps its target (and answers nothing: the tests
// look at the pool, or answer on the streams themselves).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../server/loop_test_support.h"
#include "mxegress/codec/auth.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/relay/tunnel.h"
#include "mxegress/relay/tunnel_endpoint.h"
#include "mxegress/relay/tunnel_stream.h"

namespace mx::loopback {

class FakeEgressServer {
 public:
  // One accepted connection: the handshake, then the endpoint.
  class Conn final : private TunnelHandler, private TunnelEndpointOwner {
   public:
    Conn(FakeEgressServer& server, std::unique_ptr<TcpConnection> connection)
        : server_(server),
          tunnel_(std::make_unique<Tunnel>(server.loop_, std::move(connection), server.tls_,
                                           TlsEngine::Role::Server)) {
      tunnel_->set_handler(this);
      tunnel_->start();
    }
    ~Conn() override {
      streams.clear();  // before the endpoint they belong to
      if (tunnel_) tunnel_->set_handler(nullptr);
    }

    bool authenticated() const { return endpoint != nullptr; }
    bool open() const { return endpoint != nullptr && !closed; }
    void send_goaway() {
      Bytes goaway;
      frame::encode_frame(goaway, frame::Type::GoAway, {});
      endpoint->send(goaway);
    }

    std::unique_ptr<TunnelEndpoint> endpoint;
    std::vector<std::unique_ptr<TunnelStream>> streams;  // one per CONNECT
    std::vector<Target> targets;                         // what each CONNECT asked for
    bool closed = false;
    std::string closed_why;

   private:
    void on_tunnel_ready() override {}
    void on_tunnel_frame(const frame::Frame& f) override {
      if (window_ == 0) return authenticate(f);
      // The PONG to the PING behind AUTH_RESULT: the client has read the
      // answer, so its pool holds the tunnel (the tests wait for this).
      ASSERT_EQ(f.type, frame::Type::Pong) << "a frame before the client saw AUTH_RESULT";
      tunnel_->set_handler(nullptr);
      endpoint = std::make_unique<TunnelEndpoint>(
          server_.loop_, std::move(tunnel_), TunnelEndpoint::Side::Server, kDefaultSessionWindow,
          window_, Liveness::Settings{60s, 10s}, static_cast<TunnelEndpointOwner&>(*this));
      ++server_.authenticated;
    }
    void authenticate(const frame::Frame& f) {
      std::array<uint8_t, 32> exporter{};
      ASSERT_TRUE(tunnel_->tls().export_keying_material(exporter, kAuthExporterLabel));
      const auth::Verdict verdict = auth::check_request(
          f, exporter, [&](const PublicKey& key) { return key == server_.client_key_; });
      if (verdict.status != frame::AuthStatus::Ok) {
        ++server_.refused;
        if (!server_.refusals_expected) ADD_FAILURE() << "AUTH refused: " << verdict.detail;
        tunnel_->send(auth::answer(verdict.status, 0));
        tunnel_->close("auth failed");
        return;
      }
      window_ = verdict.window;
      tunnel_->send(auth::answer(frame::AuthStatus::Ok, kDefaultSessionWindow));
      Bytes ping;
      frame::encode_frame(ping, frame::Type::Ping, as_bytes("ready?"));
      tunnel_->send(ping);
    }
    void on_tunnel_closed(const std::string& why) override {
      closed = true;
      closed_why = why;
    }
    void on_session_request(uint32_t id, ByteView body) override {
      bool bad_address_type = false;
      targets.push_back(frame::parse_connect(body, bad_address_type).value_or(Target{}));
      streams.push_back(endpoint->accept_stream(id));
    }
    void on_goaway() override {}
    void on_endpoint_closed(const std::string& why, size_t) override {
      closed = true;
      closed_why = why;
    }

    FakeEgressServer& server_;
    std::unique_ptr<Tunnel> tunnel_;  // until the client answered the PING behind AUTH
    uint32_t window_ = 0;             // the client's, once it authenticated
  };

  FakeEgressServer(Loop& loop, SSL_CTX* tls, const PublicKey& client_key)
      : loop_(loop), tls_(tls), client_key_(client_key) {
    listen(0);
    port_ = listener_->address().port();
  }
  ~FakeEgressServer() { close(); }

  uint16_t port() const { return port_; }
  std::string name() const { return "127.0.0.1:" + std::to_string(port_); }
  // No new connections (the port is refused from now on).
  void close_listener() {
    if (listener_) listener_->close();
  }
  // Accepts again, on the same port (a server that comes back).
  void reopen_listener() { listen(port_); }
  void close() {
    close_listener();
    conns.clear();
  }
  // Authenticated tunnels still open.
  size_t open_tunnels() const {
    size_t n = 0;
    for (const auto& c : conns) n += c->open() ? 1 : 0;
    return n;
  }
  size_t connects() const {
    size_t n = 0;
    for (const auto& c : conns) n += c->streams.size();
    return n;
  }

  int accepted = 0;
  int authenticated = 0;
  int refused = 0;                 // AUTH with another key than client_key
  bool refusals_expected = false;  // else a refused AUTH fails the test
  std::vector<std::unique_ptr<Conn>> conns;

 private:
  void listen(uint16_t port) {
    listener_ = std::make_unique<TcpListener>(loop_, [this](std::unique_ptr<TcpConnection> c) {
      ++accepted;
      conns.push_back(std::make_unique<Conn>(*this, std::move(c)));
    });
    EXPECT_EQ(listener_->listen(*SocketAddress::parse_ip("127.0.0.1", port)), "");
  }

  Loop& loop_;
  SSL_CTX* tls_;
  PublicKey client_key_;
  std::unique_ptr<TcpListener> listener_;
  uint16_t port_ = 0;
};

// The keys of a client loopback test, made in `dir`: a server identity for
// 127.0.0.1 (its pin, a TLS context serving it) and a client key.
struct LoopbackKeys {
  Sha256 pin{};
  SslCtxPtr server_tls;
  std::optional<ClientIdentity> client;
};
inline void make_loopback_keys(const std::filesystem::path& dir, LoopbackKeys& keys) {
  std::string err;
  const auto pin_text = write_server_identity(dir / "server", "127.0.0.1", err);
  ASSERT_TRUE(pin_text) << err;
  keys.pin = *parse_pin(*pin_text);
  keys.server_tls = make_server_tls_context(dir / "server" / kServerCertFile,
                                            dir / "server" / kServerKeyFile, err);
  ASSERT_TRUE(keys.server_tls) << err;
  keys.client = generate_key_file(dir / "client.key", err);
  ASSERT_TRUE(keys.client) << err;
}

}  // namespace mx::loopback
