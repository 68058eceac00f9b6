// The server's own SOCKS5 listener, as a gateway reaches it: a real
// ServerSocks5Session (RFC 1929 login, the user's `from`, then an
// EgressSession that dials) on a real loopback connection, fed the input in
// irregular pieces. Destinations: 127.0.0.1:25 echoes, :26 refuses, :27
// never answers (connect_timeout 30 ms); names ending in .test resolve to
// loopback, others do not exist; every other address is denied by policy,
// and the process has a network namespace of its own (stateful_support.h).
//
// Input: [flags][piece seed][event piece][client bytes, at most 4096]
//   flags bits 0-1, how the client ends: 0 half-close at once; 1 wait until
//     everything due was answered, then half-close; 2 reset; 3 wait, then reset.
//   bit 2: the good login is remembered already (the verdict comes at once).
//   bit 3: the loop also runs 1 ms after each of the first 64 pieces.
//   bits 4-5, what happens before piece number `event piece`: 0 nothing;
//     1 the server stops (the session is destroyed); 2 a reload disables the
//     tenant; 3 a reload that changes nothing.
// Users: alice/alice-pw from 127.0.0.0/8 (tenant acme), bob/bob-pw from
// 10.0.0.0/8 only (refused after his CONNECT).
//
// Checked: every answer is the one due (socks5_exchange.h), each at most
// once and nothing after a refusal; the session reports its end exactly once
// and never after it was destroyed; the trail has one line exactly for a
// CONNECT that reached the session, with the reply the client got; the
// tenant's usage and every destination connection are released; every
// libuv handle the input opened is closed again (and, under ASan, nothing
// leaks or is used after it was freed).
#include <map>

#include "mxegress/crypto/password_cache.h"
#include "server_socks5_session.h"
#include "socks5_exchange.h"
#include "stateful_support.h"

namespace {

using namespace mx;
using namespace mx::fuzz;

bool valid_login(const std::string& user, const std::string& password) {
  return (user == "alice" && password == "alice-pw") || (user == "bob" && password == "bob-pw");
}

struct World {
  World() : dir(temp_dir()), trail_file(dir / "trail.jsonl"), echo(loop) {
    require(trail.open(trail_file.path(), false).empty(), "trail");
    ServerConfig config = base_server_config();
    ServerConfig::Socks5User alice{
        "alice", cheap_hash("alice-pw"), "acme", {*Cidr::parse("127.0.0.0/8")}};
    ServerConfig::Socks5User bob{"bob", cheap_hash("bob-pw"), "acme", {*Cidr::parse("10.0.0.0/8")}};
    config.socks5.users = {alice, bob};
    users = {{alice.name, alice.password_hash}, {bob.name, bob.password_hash}};
    normal = std::make_shared<const ServerSnapshot>(config);
    config.tenants[0].enabled = false;
    disabled = std::make_shared<const ServerSnapshot>(std::move(config));
    snapshot = normal;
    require(listener.listen(*SocketAddress::parse_ip("127.0.0.1", kSocks5Port)).empty(),
            "socks5 listener");
    turns(loop);
    baseline = count_handles(loop);
  }

  void on_accept(std::unique_ptr<TcpConnection> connection) {
    require(!session && !accepted, "one connection per input");
    accepted = true;
    session = std::make_unique<ServerSocks5Session>(
        EgressContext{loop, usage, trail, resolver}, [this] { return snapshot; }, passwords,
        std::move(connection), ConcurrencyLimit::Slot{},
        [this](ServerSocks5Session* s) {
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
  PasswordChecker checker{fuzz_password_settings()};
  std::map<std::string, std::string> users;
  std::shared_ptr<const ServerSnapshot> normal, disabled, snapshot;
  EchoDestination echo;
  UnansweredPort unanswered;
  TcpListener listener{loop, [this](std::unique_ptr<TcpConnection> c) { on_accept(std::move(c)); }};
  int baseline = 0;

  // Per input.
  std::shared_ptr<PasswordCache> passwords;
  std::unique_ptr<ServerSocks5Session> session;
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
  const bool remembered = (flags & 4) != 0;
  const bool settle = (flags & 8) != 0;
  const int event = (flags >> 4) & 3;
  const size_t event_at = data[2];
  const ByteView input(data + 3, std::min<size_t>(size - 3, 4096));

  require(count_handles(w.loop) == w.baseline, "handles left over from the previous input");
  w.trail_file.clear();
  w.snapshot = w.normal;
  w.accepted = false;
  w.finished = 0;
  w.passwords = std::make_shared<PasswordCache>(w.loop, w.users, w.checker);
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

  RawClient client(kSocks5Port);
  require(run_until(w.loop, [&] { return w.accepted; }), "the listener did not accept");
  bool destroyed = false;
  auto fire_event = [&] {
    if (event == 1) {
      destroyed = w.session != nullptr;
      w.session.reset();  // as EgressServer::stop() does
    } else if (event >= 2) {
      w.snapshot = event == 2 ? w.disabled : w.normal;
      if (w.session) w.session->on_reload();
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

  const Socks5Exchange exchange(input, true, valid_login);
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
  require(run_until_handles(w.loop, w.baseline), "a handle of the session stayed open");
  require(w.finished == (destroyed ? 0 : 1), "the session did not report its end exactly once");
  require(w.echo.live() == 0, "a destination connection outlived its session");
  require(w.usage.for_tenant("acme")->active() == 0, "the tenant's usage was not released");

  if (std::getenv("MX_FUZZ_LOG") != nullptr) {
    std::fprintf(stderr, "pieces=%zu received=%zu finished=%d destroyed=%d\n", index,
                 client.received.size(), w.finished, destroyed);
  }
  // What the client got; while the server was stopped or the tenant cut,
  // it may have been cut short anywhere.
  const bool undisturbed = event == 0 || event == 3;
  const bool complete = waited && undisturbed;
  const auto reply =
      exchange.check(client.received, complete, complete, ending <= 1 && undisturbed);
  const auto lines = w.trail_file.lines();
  require(lines.size() <= 1, "more than one trail line for one connection");
  if (!exchange.connect_sent()) require(lines.empty(), "a trail line without a CONNECT");
  if (reply) {
    require(lines.size() == 1, "a CONNECT answered without a trail line");
    const std::string field = "\"reply\":" + std::to_string(static_cast<int>(*reply)) + ",";
    require(lines[0].find(field) != std::string::npos,
            "the trail's reply differs from the client's");
    if (*reply == socks5::Reply::Succeeded && ending <= 1 && undisturbed) {
      // Everything relayed came back: the trail counts it all, both ways
      // (bytes the client sent with its request included).
      const std::string n = std::to_string(exchange.relayed_size());
      require(
          lines[0].find("\"bytes_up\":" + n + ",\"bytes_down\":" + n + ",") != std::string::npos,
          "the trail's byte counts differ from what was relayed");
    }
  }
  w.passwords.reset();
  return 0;
}
