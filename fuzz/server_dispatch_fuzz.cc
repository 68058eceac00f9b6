// The server's side of a tunnel after AUTH: a real ServerTunnel (TLS, AUTH,
// then its TunnelEndpoint and SessionDispatch, EgressSessions that dial) on
// a loopback connection. The harness is a real client Tunnel that completes
// TLS and AUTH and then sends the input as the decrypted frame stream, in
// irregular pieces, so CONNECT, DATA, FIN, RST, WINDOW, PING and the rest
// arrive in any order, for any session id. Destinations as in
// server_socks5_session_fuzz.cc (127.0.0.1:25 echoes, :26 refuses, :27 never
// answers, *.test resolve to loopback, everything else denied; private
// network namespace).
//
// Input: [flags][piece seed][event piece][frame bytes]
//   flags bits 0-1, how the client ends: 0 waits until every CONNECT is
//     answered (40 ms at most), then closes the tunnel; 1 closes it at once;
//     2 drops the connection; 3 the server drains, the client waits, closes.
//   bit 2: the first piece leaves together with AUTH (before AUTH_RESULT).
//   bit 3: the loop also runs 1 ms after each of the first 64 pieces.
//   bits 4-6, before piece number `event piece`: 1 the server stops (the
//     tunnel is destroyed); 2 a reload disables the tenant; 3 a reload
//     removes the tunnel's key; 4 a reload that changes nothing; 5 the
//     server drains; 6 the client waits as in ending 0; otherwise nothing.
//   bit 7: the client grants each session 64 bytes of credit, not 4 MiB.
//
// Checked, on the frames the client receives: AUTH_RESULT Ok first and
// once; every frame decodes; per session, a CONNECT_REPLY only for a
// CONNECT the client sent and at most once, DATA and FIN only after a
// successful reply, nothing after a failed reply or the server's RST, no
// more DATA than the credit granted, and the DATA is an in-order prefix of
// what the client sent (the destination echoes); no CONNECT or AUTH from
// the server. And: the tunnel reports its end exactly once and never after
// it was destroyed; each successful reply has its trail line; the tenant's
// usage, every destination connection and every libuv handle are released.
#include <map>
#include <set>

#include "mxegress/codec/auth.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/relay/tunnel.h"
#include "mxegress/relay/tunnel_endpoint.h"
#include "server_tunnel.h"
#include "stateful_support.h"

namespace {

using namespace mx;
using namespace mx::fuzz;

struct World {
  World() : dir(temp_dir()), trail_file(dir / "trail.jsonl"), echo(loop) {
    std::string err;
    const auto pin = write_server_identity(dir / "server", "127.0.0.1", err);
    require(pin.has_value(), "server identity");
    server_tls = make_server_tls_context(dir / "server" / kServerCertFile,
                                         dir / "server" / kServerKeyFile, err);
    client_tls = make_client_tls_context({.pins = {*parse_pin(*pin)}}, err);
    identity = generate_key_file(dir / "client.key", err);
    require(server_tls && client_tls && identity, "TLS contexts and client key");
    require(trail.open(trail_file.path(), false).empty(), "trail");
    ServerConfig config = base_server_config();
    config.tenants[0].keys = {identity->public_key};
    normal = std::make_shared<const ServerSnapshot>(config);
    config.tenants[0].enabled = false;
    disabled = std::make_shared<const ServerSnapshot>(config);
    config.tenants[0].enabled = true;
    config.tenants[0].keys.clear();
    keyless = std::make_shared<const ServerSnapshot>(std::move(config));
    require(listener.listen(*SocketAddress::parse_ip("127.0.0.1", kTunnelPort)).empty(),
            "tunnel listener");
    turns(loop);
    baseline = count_handles(loop);
  }

  void on_accept(std::unique_ptr<TcpConnection> connection) {
    require(!tunnel && !accepted, "one tunnel per input");
    accepted = true;
    tunnel = std::make_unique<ServerTunnel>(
        EgressContext{loop, usage, trail, resolver}, [this] { return snapshot; }, server_tls.get(),
        std::move(connection), ConcurrencyLimit::Slot{}, auth_refusals,
        [this](ServerTunnel* t) {
          require(t == tunnel.get(), "finished: a tunnel that is not the live one");
          ++finished;
          loop.destroy_later(std::move(tunnel));
        });
    tunnel->start();
  }

  Loop loop;
  FakeNameResolver resolver{loop};
  std::filesystem::path dir;
  TrailLines trail_file;
  TrailWriter trail;
  UsageRegistry usage;
  AuthRefusals auth_refusals;
  SslCtxPtr server_tls, client_tls;
  std::optional<ClientIdentity> identity;
  std::shared_ptr<const ServerSnapshot> normal, disabled, keyless, snapshot;
  EchoDestination echo;
  UnansweredPort unanswered;
  TcpListener listener{loop, [this](std::unique_ptr<TcpConnection> c) { on_accept(std::move(c)); }};
  int baseline = 0;

  // Per input.
  std::unique_ptr<ServerTunnel> tunnel;
  bool accepted = false;
  int finished = 0;
};

World* world = nullptr;

// What the client sent, decoded as the server decodes it.
struct Sent {
  explicit Sent(ByteView in) {
    while (true) {
      const frame::DecodeResult r = frame::decode(in);
      if (r.status != frame::DecodeStatus::Ok) return;
      in = in.subspan(r.consumed);
      if (!frame::is_session_frame(r.frame.type)) continue;
      auto sf = frame::split_session(r.frame.payload);
      if (!sf) continue;
      if (r.frame.type == frame::Type::Connect) connects.insert(sf->session);
      if (r.frame.type == frame::Type::Window) {
        if (auto increment = frame::parse_window(sf->body)) credit[sf->session] += *increment;
      }
      if (r.frame.type == frame::Type::Data) {
        data[sf->session].insert(data[sf->session].end(), sf->body.begin(), sf->body.end());
      }
    }
  }
  std::set<uint32_t> connects;
  std::map<uint32_t, Bytes> data;
  std::map<uint32_t, uint64_t> credit;  // WINDOW increments returned, per session
};

// The harness's client: TLS, AUTH, then it checks every frame the server sends.
class Client final : public TunnelHandler {
 public:
  Client(World& w, const Sent& sent, uint32_t window) : w_(w), sent_(sent), window_(window) {
    auto connection = std::make_unique<TcpConnection>(w.loop);
    TcpConnection& raw = *connection;
    tunnel = std::make_unique<Tunnel>(w.loop, std::move(connection), w.client_tls.get(),
                                      TlsEngine::Role::Client, "127.0.0.1");
    tunnel->set_handler(this);
    require(raw.connect(*SocketAddress::parse_ip("127.0.0.1", kTunnelPort), std::nullopt,
                        [this](int status) {
                          require(status == 0, "tunnel connect");
                          tunnel->start();
                        }) == 0,
            "tunnel connect");
  }
  ~Client() override { tunnel->set_handler(nullptr); }

  void on_tunnel_ready() override {
    std::array<uint8_t, 32> exporter{};
    require(tunnel->tls().export_keying_material(exporter, kAuthExporterLabel), "exporter");
    tunnel->send(auth::request(*w_.identity, exporter, window_));
    if (on_ready) on_ready();
  }
  void on_tunnel_closed(const std::string& why) override {
    require(!closed, "the client's tunnel closed twice");
    closed = true;
    require(why.rfind("protocol error", 0) != 0, "the server sent a frame that does not decode");
  }
  void on_tunnel_frame(const frame::Frame& f) override {
    if (!auth_ok) {
      require(f.type == frame::Type::AuthResult, "a frame before AUTH_RESULT");
      const auth::Answer answer = auth::read_answer(f);
      require(answer.window.has_value(), "AUTH refused for a known key");
      auth_ok = true;
      return;
    }
    switch (f.type) {
      case frame::Type::Ping:
      case frame::Type::Pong:
        return;
      case frame::Type::GoAway:
        require(++goaways == 1, "GOAWAY twice");
        return;
      case frame::Type::ConnectReply:
      case frame::Type::Data:
      case frame::Type::Fin:
      case frame::Type::Rst:
      case frame::Type::Window:
        return session_frame(f);
      default:
        require(false, "a frame the server never sends (AUTH, AUTH_RESULT again, CONNECT)");
    }
  }

  // Every CONNECT the client sent has its reply or RST.
  bool all_answered() const {
    for (uint32_t id : sent_.connects) {
      auto it = sessions_.find(id);
      if (it == sessions_.end() || !(it->second.replied_ok || it->second.ended)) return false;
    }
    return true;
  }

  std::unique_ptr<Tunnel> tunnel;
  std::function<void()> on_ready;
  bool auth_ok = false;
  bool closed = false;
  int goaways = 0;
  int ok_replies = 0;

 private:
  struct Session {
    bool replied_ok = false;
    bool ended = false;  // failed reply or the server's RST
    bool fin = false;
    Bytes echoed;
  };

  void session_frame(const frame::Frame& f) {
    auto sf = frame::split_session(f.payload);
    require(sf.has_value(), "a session frame without an id");
    require(sent_.connects.count(sf->session) == 1,
            "a frame for a session the client never opened");
    Session& s = sessions_[sf->session];
    require(!s.ended, "a frame after the session's failed reply or RST");
    if (f.type == frame::Type::ConnectReply) {
      auto reply = frame::parse_connect_reply(sf->body);
      require(reply.has_value(), "CONNECT_REPLY does not parse");
      require(!s.replied_ok, "a second CONNECT_REPLY");
      s.replied_ok = reply->reply == 0;
      s.ended = !s.replied_ok;
      ok_replies += s.replied_ok ? 1 : 0;
      return;
    }
    if (f.type == frame::Type::Rst) {
      s.ended = true;
      return;
    }
    require(s.replied_ok, "DATA, FIN or WINDOW before a successful reply");
    if (f.type == frame::Type::Window) {
      require(frame::parse_window(sf->body).has_value(), "WINDOW does not parse");
      return;
    }
    require(!s.fin, "DATA or FIN after FIN");
    if (f.type == frame::Type::Fin) {
      s.fin = true;
      return;
    }
    s.echoed.insert(s.echoed.end(), sf->body.begin(), sf->body.end());
    const auto credit = sent_.credit.find(sf->session);
    require(s.echoed.size() <= window_ + (credit != sent_.credit.end() ? credit->second : 0),
            "DATA beyond the credit granted");
    const auto it = sent_.data.find(sf->session);
    require(it != sent_.data.end() && s.echoed.size() <= it->second.size() &&
                std::equal(s.echoed.begin(), s.echoed.end(), it->second.begin()),
            "the echo is not a prefix of what the client sent");
  }

  World& w_;
  const Sent& sent_;
  uint32_t window_;
  std::map<uint32_t, Session> sessions_;
};

// Until every CONNECT sent so far has its answer, or 40 ms.
void wait_for_answers(Loop& loop, const Client& client) {
  run_until(
      loop, [&] { return client.closed || client.all_answered(); }, 40ms);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  isolate_network();
  world = new World();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  World& w = *world;
  const uint8_t flags = data[0];
  const int ending = flags & 3;
  const bool with_auth = (flags & 4) != 0;
  const bool settle = (flags & 8) != 0;
  const int event = (flags >> 4) & 7;
  const uint32_t window = (flags & 0x80) != 0 ? 64 : kDefaultSessionWindow;
  const size_t event_at = data[2];
  const ByteView input(data + 3, size - 3);

  require(count_handles(w.loop) == w.baseline, "handles left over from the previous input");
  w.trail_file.clear();
  w.snapshot = w.normal;
  w.accepted = false;
  w.finished = 0;
  const Sent sent(input);
  auto client = std::make_unique<Client>(w, sent, window);
  Pieces pieces(data[1]);
  size_t at = 0;
  if (with_auth && !input.empty()) {
    client->on_ready = [&] {
      const size_t n = std::min(pieces.next(), input.size());
      client->tunnel->send(input.first(n));
      at = n;
    };
  }
  require(run_until(w.loop, [&] { return client->auth_ok || client->closed; }), "no AUTH_RESULT");
  // A frame that breaks the protocol, sent right behind AUTH, may end the
  // tunnel before AUTH_RESULT leaves (an abort drops what is queued).
  require(client->auth_ok || with_auth, "AUTH failed");

  bool destroyed = false;
  auto fire_event = [&] {
    switch (event) {
      case 1:
        destroyed = w.tunnel != nullptr;
        w.tunnel.reset();  // as EgressServer::stop() does
        break;
      case 2:
      case 3:
      case 4:
        w.snapshot = event == 2 ? w.disabled : event == 3 ? w.keyless : w.normal;
        if (w.tunnel) w.tunnel->on_reload();
        break;
      case 5:
        if (w.tunnel) w.tunnel->on_drain();
        break;
      case 6:
        wait_for_answers(w.loop, *client);
        break;
    }
  };
  size_t index = 0;
  for (; at < input.size() && !client->closed; ++index) {
    if (index == event_at) fire_event();
    const size_t n = std::min(pieces.next(), input.size() - at);
    client->tunnel->send(input.subspan(at, n));
    at += n;
    after_piece(w.loop, settle, index);
  }
  if (index <= event_at) fire_event();

  if (ending == 3 && w.tunnel) w.tunnel->on_drain();
  if (ending == 0 || ending == 3) wait_for_answers(w.loop, *client);
  if (ending == 2) {
    client->tunnel->abort("the client drops the connection");
  } else {
    client->tunnel->close("the client is done");
  }
  require(run_until(w.loop, [&] { return client->closed && (w.finished > 0 || destroyed); }),
          "the tunnel did not end");
  const int ok_replies = client->ok_replies;
  client.reset();
  require(run_until_handles(w.loop, w.baseline), "a handle of the tunnel stayed open");
  require(w.finished == (destroyed ? 0 : 1), "the tunnel did not report its end exactly once");
  require(w.echo.live() == 0, "a destination connection outlived its session");
  require(w.usage.for_tenant("acme")->active() == 0, "the tenant's usage was not released");
  const auto lines = w.trail_file.lines();
  require(lines.size() <= sent.connects.size(), "more trail lines than CONNECTs");
  int ok_lines = 0;
  for (const std::string& line : lines) {
    ok_lines += line.find("\"reply\":0,") != std::string::npos ? 1 : 0;
  }
  require(ok_lines >= ok_replies, "a successful CONNECT without its trail line");
  return 0;
}
