// What the stateful fuzz targets (client_socks5_session_fuzz,
// server_socks5_session_fuzz, server_dispatch_fuzz) share, besides the
// private network of private_network.h: a real Loop driven in short steps,
// input split into irregular pieces, a raw loopback client socket, an echo
// destination, a port that never answers, cheap password hashes, and a
// server configuration whose only reachable destinations are on loopback.
// Included by exactly one .cc per target (private_network.h defines
// getaddrinfo).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/config/server_config.h"
#include "mxegress/crypto/password_checker.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/util/bytes.h"
#include "mxegress/util/log.h"
#include "private_network.h"

namespace mx::fuzz {

using namespace std::chrono_literals;  // NOLINT: harness-only header

inline void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "stateful invariant broken: %s\n", what);
  std::abort();
}

// Fixed loopback ports, safe inside the private network namespace.
inline constexpr uint16_t kEchoPort = 25;        // accepts and echoes
inline constexpr uint16_t kRefusedPort = 26;     // nothing listens: connection refused
inline constexpr uint16_t kUnansweredPort = 27;  // SYNs dropped: the dial times out
inline constexpr uint16_t kTunnelPort = 4433;    // the server's tunnel listener
inline constexpr uint16_t kSocks5Port = 1080;    // the SOCKS5 listener under test

// The fuzz targets' resolver: names ending in ".test" are loopback
// (two.test: a denied 127.0.0.2 first, then 127.0.0.1; v6.test: ::1), IP
// literals are themselves, every other name does not exist. No query ever
// leaves the process; the answer comes on a later loop turn, as c-ares's
// does, and a cancelled lookup never calls back.
class FakeNameResolver final : public NameResolver {
 public:
  explicit FakeNameResolver(Loop& loop) : loop_(loop) {}

  std::unique_ptr<Resolution> resolve(const std::string& host, uint16_t port, Callback done,
                                      ConcurrencyLimit::Slot slot) override {
    auto lookup = std::make_unique<Lookup>();
    loop_.post([live = lookup->live, done = std::move(done), result = answer(host, port),
                held = std::make_shared<ConcurrencyLimit::Slot>(std::move(slot))]() mutable {
      held->release();
      if (*live) done(std::move(result));
    });
    return lookup;
  }

 private:
  struct Lookup final : Resolution {
    ~Lookup() override { *live = false; }
    std::shared_ptr<bool> live = std::make_shared<bool>(true);
  };

  static ResolveResult answer(const std::string& host, uint16_t port) {
    ResolveResult result;
    std::vector<std::string_view> literals;
    const std::string_view name = host;
    if (name == "v6.test") {
      literals = {"::1"};
    } else if (name == "two.test") {
      literals = {"127.0.0.2", "127.0.0.1"};
    } else if (name.size() > 5 && name.substr(name.size() - 5) == ".test") {
      literals = {"127.0.0.1"};
    } else {
      literals = {name};
    }
    for (std::string_view literal : literals) {
      if (auto address = SocketAddress::parse_ip(literal, port)) {
        result.addresses.push_back(*address);
      }
    }
    result.status =
        result.addresses.empty() ? ResolveResult::Status::NotFound : ResolveResult::Status::Ok;
    if (result.addresses.empty()) result.error = "no such name (fuzz resolver)";
    return result;
  }

  Loop& loop_;
};

// Irregular piece sizes from a seed byte: its low bits pick the largest
// piece (1 to 256 bytes), a small generator the sizes below it.
class Pieces {
 public:
  explicit Pieces(uint8_t seed) : state_(seed * 2654435761u + 1), max_(1u << (seed & 7)) {}
  size_t next() {
    state_ = state_ * 1103515245u + 12345u;
    return 1 + (state_ >> 16) % max_;
  }

 private:
  uint32_t state_;
  uint32_t max_;
};

// Handles open and not closing.
inline int count_handles(Loop& loop) {
  int handles = 0;
  uv_walk(
      loop.get(),
      [](uv_handle_t* h, void* count) {
        if (!uv_is_closing(h)) ++*static_cast<int*>(count);
      },
      &handles);
  return handles;
}

// For a report: the type and state of every handle.
inline void print_handles(Loop& loop) {
  uv_walk(
      loop.get(),
      [](uv_handle_t* h, void*) {
        std::fprintf(stderr, "  handle %s active=%d closing=%d\n", uv_handle_type_name(h->type),
                     uv_is_active(h), uv_is_closing(h));
      },
      nullptr);
}

// A few turns without blocking: what the last piece caused happens now.
inline void turns(Loop& loop, int count = 3) {
  for (int i = 0; i < count; ++i) uv_run(loop.get(), UV_RUN_NOWAIT);
}

// After a piece: a few turns without blocking; with `settle`, for the first
// 64 pieces of an input, the loop runs for a millisecond besides, so that
// what the kernel does asynchronously (a loopback connect, a login check on
// the thread pool) can happen between two pieces.
inline void after_piece(Loop& loop, bool settle, size_t index);

// Runs the loop until `done` holds or `limit` has passed; returns done().
inline bool run_until(Loop& loop, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = 5s) {
  bool timed_out = false;
  uv_update_time(loop.get());
  Timer guard(loop);
  // uv_stop, not only the flag: a guard that falls due at the start of a
  // turn would otherwise leave that turn's poll waiting with no timer left.
  guard.start(limit, [&] {
    timed_out = true;
    loop.stop();
  });
  while (!done() && !timed_out) uv_run(loop.get(), UV_RUN_ONCE);
  return done();
}

inline void after_piece(Loop& loop, bool settle, size_t index) {
  turns(loop);
  if (settle && index < 64)
    run_until(
        loop, [] { return false; }, 1ms);
}

// Runs the loop until no more than `baseline` handles are open (besides
// run_until's own guard timer); returns whether that happened.
inline bool run_until_handles(Loop& loop, int baseline, std::chrono::milliseconds limit = 5s) {
  if (run_until(
          loop, [&] { return count_handles(loop) <= baseline + 1; }, limit))
    return true;
  print_handles(loop);
  return false;
}

// The harness's side of a loopback TCP connection, as plain non-blocking
// socket calls, so the harness decides exactly what goes out when.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    require(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0, "loopback connect");
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // False once the peer has closed or reset (what is left is not sent).
  bool send(ByteView bytes) {
    while (!bytes.empty() && fd_ >= 0) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        bytes = bytes.subspan(static_cast<size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        return false;  // the peer stopped reading; the rest would only wait
      } else {
        return false;
      }
    }
    return fd_ >= 0;
  }
  // Takes what has arrived; true once the peer's FIN or reset was seen.
  bool poll() {
    uint8_t buffer[65536];
    while (fd_ >= 0 && !ended_) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        received.insert(received.end(), buffer, buffer + n);
      } else if (n == 0) {
        ended_ = true;
      } else if (errno == EAGAIN || errno == EINTR) {
        break;
      } else {
        ended_ = true;
        reset = true;
      }
    }
    return ended();
  }
  void shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
  }
  void abort() {  // RST
    if (fd_ < 0) return;
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool ended() const { return ended_ || fd_ < 0; }

  Bytes received;
  bool reset = false;

 private:
  int fd_ = -1;
  bool ended_ = false;
};

// 127.0.0.1:kEchoPort: writes back what it reads, half-closes after the
// peer's FIN and closes; forgets a connection that failed.
class EchoDestination {
 public:
  explicit EchoDestination(Loop& loop)
      : loop_(loop), listener_(loop, [this](std::unique_ptr<TcpConnection> c) {
          peers_.push_back(std::make_unique<Peer>(*this, std::move(c)));
        }) {
    require(listener_.listen(*SocketAddress::parse_ip("127.0.0.1", kEchoPort)).empty(),
            "echo listener");
  }
  size_t live() const { return peers_.size(); }

 private:
  struct Peer final : StreamReader {
    Peer(EchoDestination& owner, std::unique_ptr<TcpConnection> c)
        : owner(owner), connection(std::move(c)) {
      connection->set_reader(this);
      connection->start_reading();
    }
    void on_stream_data(ByteView bytes) override { connection->write(bytes); }
    void on_stream_eof() override {
      connection->set_reader(nullptr);
      connection->close_after_flush();
      owner.forget(this);
    }
    void on_stream_error(const std::string&) override {
      connection->set_reader(nullptr);
      connection->close();
      owner.forget(this);
    }
    EchoDestination& owner;
    std::unique_ptr<TcpConnection> connection;
  };
  void forget(Peer* peer) {
    for (auto it = peers_.begin(); it != peers_.end(); ++it) {
      if (it->get() != peer) continue;
      loop_.destroy_later(std::move(*it));
      peers_.erase(it);
      return;
    }
  }

  Loop& loop_;
  TcpListener listener_;
  std::vector<std::unique_ptr<Peer>> peers_;
};

// 127.0.0.1:kUnansweredPort, whose accept queue is full: a SYN to it is
// dropped, so a dial there stays under way until its timeout.
class UnansweredPort {
 public:
  UnansweredPort() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kUnansweredPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    require(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                ::listen(listen_fd_, 0) == 0,
            "unanswered port");
    for (int i = 0; i < 4; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fillers_.push_back(fd);
    }
  }

 private:
  int listen_fd_ = -1;
  std::vector<int> fillers_;
};

// An argon2id hash at libsodium's lowest cost, so that a login check costs
// microseconds, not 64 MiB; verify_password reads the cost from the hash.
inline std::string cheap_hash(const std::string& password) {
  if (sodium_init() < 0) std::abort();
  char out[crypto_pwhash_STRBYTES];
  require(crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                            crypto_pwhash_MEMLIMIT_MIN) == 0,
          "cheap hash");
  return out;
}

// Tenant "acme": destinations 127.0.0.1 only (every other IPv4 address is in
// `deny`, and its only source address is 127.0.0.1, so no IPv6 either), on
// the echo, refused and unanswered ports.
inline ServerConfig::Tenant loopback_tenant() {
  ServerConfig::Tenant tenant;
  tenant.name = "acme";
  tenant.policy.ports = {kEchoPort, kRefusedPort, kUnansweredPort};
  tenant.policy.allow = {*Cidr::parse("127.0.0.1/32")};
  for (const char* cidr : {"0.0.0.0/2", "64.0.0.0/3", "96.0.0.0/4", "112.0.0.0/5", "120.0.0.0/6",
                           "124.0.0.0/7", "126.0.0.0/8", "128.0.0.0/1"}) {
    tenant.policy.deny.push_back(*Cidr::parse(cidr));
  }
  tenant.source = {*SocketAddress::parse_ip("127.0.0.1", 0)};
  return tenant;
}

inline ServerConfig base_server_config() {
  ServerConfig config;
  config.server.handshake_timeout = 5s;
  config.server.connect_timeout = 30ms;  // the unanswered port costs no more
  config.server.keepalive_interval = 60s;
  config.server.keepalive_timeout = 10s;
  config.server.tcp_keepalive = 0ms;
  config.server.tcp_user_timeout = 0ms;
  config.tenants.push_back(loopback_tenant());
  return config;
}

// The trail file's lines, emptied before each input (mx::TrailFile is the
// server's writer of that file; this only reads it).
class TrailLines {
 public:
  explicit TrailLines(const std::filesystem::path& path) : path_(path) {}
  void clear() { std::ofstream(path_, std::ios::trunc); }
  std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A directory of our own, removed at exit.
inline std::filesystem::path temp_dir() {
  static std::filesystem::path dir;
  char pattern[] = "/tmp/mx-fuzz-XXXXXX";
  require(::mkdtemp(pattern) != nullptr, "mkdtemp");
  dir = pattern;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  });
  return dir;
}

// The password checker of a fuzz world: one worker, no caps and no backoff,
// so every input's logins are checked the same way whatever came before.
inline PasswordChecker::Settings fuzz_password_settings() {
  PasswordChecker::Settings settings;
  settings.workers = 1;
  settings.max_checks = 0;
  settings.max_checks_per_address = 0;
  settings.failures.threshold = 0;
  return settings;
}

}  // namespace mx::fuzz
