// The client's SOCKS5 listener, end to end: a real Socks5Session (the shared
// Socks5Handshake, optional RFC 1929 login, then a TunnelSession) on a
// loopback connection, whose CONNECT goes through a real TunnelPool to a
// real ServerTunnel in the same process, which dials the destination. The
// SOCKS5 client's bytes come from the input, in irregular pieces.
// Destinations as in server_socks5_session_fuzz.cc (127.0.0.1:25 echoes,
// :26 refuses, :27 never answers, *.test resolve to loopback, everything
// else denied; private network namespace), so the server's real replies
// (success, 2, 4, 5, 6, ...) reach the client's session.
//
// Input: [flags][piece seed][event piece][client bytes, at most 4096]
//   flags bits 0-1, how the client ends: 0 half-close at once; 1 wait until
//     everything due was answered, then half-close; 2 reset; 3 wait, reset.
//   bit 2: login required (alice/alice-pw); bit 3: that login is remembered
//     already (the verdict comes at once); bit 7: the loop also runs 1 ms
//     after each of the first 64 pieces.
//   bits 4-6, before piece number `event piece`: 1 the client stops (the
//     session is destroyed); 2 the pool stops (sessions waiting fail); 3 the
//     server stops (its tunnels are destroyed); 4 40 ms pass; else nothing.
//
// Checked: every SOCKS5 answer is the one due (socks5_exchange.h), each at
// most once, nothing after a refusal, a successful reply followed by the
// echo of what the client relayed, in order and complete after a clean
// half-close; a success the server's trail recorded; the session reports
// its end exactly once and never after it was destroyed; the server's
// usage, every destination connection, every tunnel and every libuv handle
// are released by the end of the input.
#include <map>

#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "server_tunnel.h"
#include "socks5_exchange.h"
#include "socks5_session.h"
#include "stateful_support.h"
#include "tunnel_pool.h"

namespace {

using namespace mx;
using namespace mx::fuzz;

bool valid_login(const std::string& user, const std::string& password) {
  return user == "alice" && password == "alice-pw";
}

struct World {
  World() : dir(temp_dir()), trail_file(dir / "trail.jsonl"), echo(loop) {
    std::string err;
    const auto pin = write_server_identity(dir / "server", "127.0.0.1", err);
    require(pin.has_value(), "server identity");
    server_tls = make_server_tls_context(dir / "server" / kServerCertFile,
                                         dir / "server" / kServerKeyFile, err);
    identity = generate_key_file(dir / "client.key", err);
    require(server_tls && identity, "TLS context and client key");
    require(trail.open(trail_file.path(), false).empty(), "trail");
    ServerConfig config = base_server_config();
    config.tenants[0].keys = {identity->public_key};
    snapshot = std::make_shared<const ServerSnapshot>(std::move(config));

    client_config.client.handshake_timeout = 5s;
    client_config.client.keepalive_interval = 60s;
    client_config.client.keepalive_timeout = 10s;
    client_config.client.tcp_keepalive = 0ms;
    client_config.client.tcp_user_timeout = 0ms;
    ClientConfig::Server server;
    server.address = {"127.0.0.1", kTunnelPort};
    server.pins = {*parse_pin(*pin)};
    server.server_name = "127.0.0.1";
    server.pool = 1;
    client_config.servers.push_back(server);
    users = {{"alice", cheap_hash("alice-pw")}};

    require(tunnel_listener.listen(*SocketAddress::parse_ip("127.0.0.1", kTunnelPort)).empty(),
            "tunnel listener");
    require(socks5_listener.listen(*SocketAddress::parse_ip("127.0.0.1", kSocks5Port)).empty(),
            "socks5 listener");
    turns(loop);
    baseline = count_handles(loop);
  }

  void on_tunnel(std::unique_ptr<TcpConnection> connection) {
    auto tunnel = std::make_unique<ServerTunnel>(
        EgressContext{loop, usage, trail, resolver}, [this] { return snapshot; }, server_tls.get(),
        std::move(connection), ConcurrencyLimit::Slot{}, auth_refusals,
        [this](ServerTunnel* t) {
          auto it = tunnels.find(t);
          require(it != tunnels.end(), "finished: a server tunnel that is not live");
          loop.destroy_later(std::move(it->second));
          tunnels.erase(it);
        });
    ServerTunnel* raw = tunnel.get();
    tunnels.emplace(raw, std::move(tunnel));
    raw->start();
  }

  void on_socks5(std::unique_ptr<TcpConnection> connection) {
    require(!session && !accepted, "one SOCKS5 connection per input");
    accepted = true;
    session = std::make_unique<Socks5Session>(
        ClientContext{loop, client_config, *pool}, passwords.get(), std::move(connection),
        [this](LocalSession* s) {
          require(s == session.get(), "finished: a session that is not the live one");
          ++finished;
          loop.destroy_later(std::move(session));
        });
    session->start();
  }

  Loop loop;
  FakeNameResolver resolver{loop};
  std::filesystem::path dir;
  TrailLines trail_file;
  TrailWriter trail;
  UsageRegistry usage;
  AuthRefusals auth_refusals;
  PasswordChecker checker{fuzz_password_settings()};
  SslCtxPtr server_tls;
  std::optional<ClientIdentity> identity;
  std::shared_ptr<const ServerSnapshot> snapshot;
  ClientConfig client_config;
  std::map<std::string, std::string> users;
  EchoDestination echo;
  UnansweredPort unanswered;
  TcpListener tunnel_listener{
      loop, [this](std::unique_ptr<TcpConnection> c) { on_tunnel(std::move(c)); }};
  TcpListener socks5_listener{
      loop, [this](std::unique_ptr<TcpConnection> c) { on_socks5(std::move(c)); }};
  int baseline = 0;

  // Per input.
  std::map<ServerTunnel*, std::unique_ptr<ServerTunnel>> tunnels;
  std::unique_ptr<TunnelPool> pool;
  std::unique_ptr<PasswordCache> passwords;
  std::unique_ptr<LocalSession> session;
  bool accepted = false;
  int finished = 0;
};

World* world = nullptr;

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
  const bool login = (flags & 4) != 0;
  const bool remembered = (flags & 8) != 0;
  const int event = (flags >> 4) & 7;
  const bool settle = (flags & 0x80) != 0;
  const size_t event_at = data[2];
  const ByteView input(data + 3, std::min<size_t>(size - 3, 4096));

  require(count_handles(w.loop) == w.baseline, "handles left over from the previous input");
  w.trail_file.clear();
  w.accepted = false;
  w.finished = 0;
  std::string err;
  w.pool = TunnelPool::create(w.loop, w.client_config, *w.identity, err);
  require(w.pool != nullptr, "pool");
  w.pool->start();
  if (login) {
    w.passwords = std::make_unique<PasswordCache>(w.loop, w.users, w.checker);
    if (remembered) {
      bool checked = false;
      PasswordCache::Pending pending = w.passwords->verify(
        "alice", "alice-pw", "127.0.0.1", [&](LoginVerdict verdict) {
          require(verdict == LoginVerdict::Ok, "the good login verifies");
          checked = true;
        });
      require(!pending.now, "a first login is checked, not answered at once");
      require(run_until(w.loop, [&] { return checked; }), "the login check never came back");
    }
  }

  RawClient client(kSocks5Port);
  require(run_until(w.loop, [&] { return w.accepted; }), "the listener did not accept");
  bool destroyed = false;
  auto fire_event = [&] {
    switch (event) {
      case 1:
        destroyed = w.session != nullptr;
        w.session.reset();  // as EgressClient::stop() does
        break;
      case 2:
        w.pool->stop();
        break;
      case 3:
        w.tunnels.clear();  // as EgressServer::stop() does
        break;
      case 4:
        run_until(
            w.loop, [] { return false; }, 40ms);
        break;
    }
  };
  Pieces pieces(data[1]);
  size_t index = 0;
  for (size_t at = 0; at < input.size(); ++index) {
    if (index == event_at) fire_event();
    const size_t n = std::min(pieces.next(), input.size() - at);
    client.send(input.subspan(at, n));
    at += n;
    after_piece(w.loop, settle, index);
    client.poll();
  }
  if (index <= event_at) fire_event();

  const Socks5Exchange exchange(input, login, valid_login);
  const bool waited = ending == 1 || ending == 3;
  if (waited) {
    run_until(w.loop, [&] { return client.poll() || exchange.answered(client.received); });
  }
  if (ending <= 1) {
    client.shutdown_write();
  } else {
    client.abort();
  }
  require(run_until(w.loop, [&] { return client.poll() && (w.finished > 0 || destroyed); }),
          "the session did not end");
  client.close();
  // What EgressClient does at its end, then the pool's tunnels close.
  w.loop.run_deferred();
  w.pool->stop();
  w.pool.reset();
  require(run_until(w.loop, [&] { return w.tunnels.empty(); }), "a server tunnel stayed open");
  require(run_until_handles(w.loop, w.baseline), "a handle stayed open");
  require(w.finished == (destroyed ? 0 : 1), "the session did not report its end exactly once");
  require(w.echo.live() == 0, "a destination connection outlived its session");
  require(w.usage.for_tenant("acme")->active() == 0, "the server's usage was not released");

  // The session may be cut short anywhere when something stopped.
  const bool undisturbed = event == 0 || event >= 4;
  const bool complete = waited && undisturbed;
  const auto reply =
      exchange.check(client.received, complete, complete, ending <= 1 && undisturbed);
  if (reply == socks5::Reply::Succeeded) {
    bool recorded = false;
    for (const std::string& line : w.trail_file.lines()) {
      recorded = recorded || line.find("\"reply\":0,") != std::string::npos;
    }
    require(recorded, "a success the server's trail does not record");
  }
  w.passwords.reset();
  return 0;
}
