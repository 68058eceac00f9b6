// mxbench-sink: the destination of the benchmark, on loopback.
//
//   mxbench-sink --bulk-port P --smtp-port Q [--host 127.0.0.1] [--max-seconds S]
//
// Bulk port: the client sends an 8-byte big-endian count N, then whatever it
// likes; the sink sends N bytes back while it reads and counts everything the
// client sends, concurrently, and closes when the client has closed. It never
// half-closes (some proxies tear down both directions on the first EOF).
//
// SMTP port: "220 ready\r\n" on accept; "QUIT" is answered with "221 bye\r\n"
// and a close, any other line with "250 ok\r\n".
//
// One thread, level-triggered epoll, non-blocking sockets, TCP_NODELAY on every
// accepted socket. Prints "ready" on stdout once both ports listen. Exits on
// SIGTERM/SIGINT or after --max-seconds (default 4 h), whichever comes first.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kChunk = 256 * 1024;
uint8_t g_out[kChunk];
uint8_t g_in[kChunk];

enum class Kind : uint8_t { BulkListener, SmtpListener, Signal, Bulk, Smtp };

struct Conn {
  Kind kind = Kind::Bulk;
  int fd = -1;
  // bulk
  uint8_t header[8]{};
  size_t header_got = 0;
  uint64_t to_send = 0;
  uint64_t sent = 0;
  uint64_t received = 0;
  bool want_out = false;
  // smtp
  std::string line;
};

int g_epoll = -1;
uint64_t g_accepted = 0, g_bulk_in = 0, g_bulk_out = 0, g_sessions = 0;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "mxbench-sink: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int listen_on(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    std::fprintf(stderr, "mxbench-sink: bad host %s\n", host);
    std::exit(2);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  return fd;
}

void watch(Conn* c, bool out, int op) {
  epoll_event ev{};
  ev.events = out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl(g_epoll, op, c->fd, &ev) < 0) die("epoll_ctl");
  c->want_out = out;
}

void finish(Conn* c) {
  epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  if (c->kind == Kind::Bulk) {
    g_bulk_in += c->received;
    g_bulk_out += c->sent;
  }
  delete c;
}

void accept_all(int lfd, Kind kind) {
  for (int i = 0; i < 256; ++i) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      if (errno == EMFILE || errno == ENFILE) {
        std::fprintf(stderr, "mxbench-sink: accept: %s\n", std::strerror(errno));
        return;
      }
      die("accept");
    }
    ++g_accepted;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn* c = new Conn;
    c->kind = kind;
    c->fd = fd;
    if (kind == Kind::Smtp) {
      static const char kBanner[] = "220 ready\r\n";
      if (send(fd, kBanner, sizeof kBanner - 1, MSG_NOSIGNAL) < 0) {
        close(fd);
        delete c;
        continue;
      }
    }
    watch(c, false, EPOLL_CTL_ADD);
  }
}

// Returns false when the connection is finished (and freed).
bool bulk_readable(Conn* c) {
  ssize_t n = read(c->fd, g_in, kChunk);
  if (n == 0) {
    finish(c);
    return false;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    finish(c);
    return false;
  }
  size_t used = 0;
  while (c->header_got < 8 && used < static_cast<size_t>(n)) c->header[c->header_got++] = g_in[used++];
  c->received += static_cast<uint64_t>(n) - used;
  if (c->header_got == 8 && c->to_send == 0 && used > 0) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | c->header[i];
    c->to_send = v;
    if (v > 0) watch(c, true, EPOLL_CTL_MOD);
  }
  return true;
}

bool bulk_writable(Conn* c) {
  uint64_t left = c->to_send - c->sent;
  size_t n = left < kChunk ? static_cast<size_t>(left) : kChunk;
  ssize_t w = send(c->fd, g_out, n, MSG_NOSIGNAL);
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    finish(c);
    return false;
  }
  c->sent += static_cast<uint64_t>(w);
  if (c->sent == c->to_send) watch(c, false, EPOLL_CTL_MOD);
  return true;
}

void smtp_readable(Conn* c) {
  char buf[1024];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    finish(c);
    return;
  }
  if (n < 0) return;
  c->line.append(buf, static_cast<size_t>(n));
  size_t pos;
  while ((pos = c->line.find('\n')) != std::string::npos) {
    std::string l = c->line.substr(0, pos);
    c->line.erase(0, pos + 1);
    if (l.size() >= 4 && strncasecmp(l.c_str(), "QUIT", 4) == 0) {
      static const char kBye[] = "221 bye\r\n";
      send(c->fd, kBye, sizeof kBye - 1, MSG_NOSIGNAL);
      ++g_sessions;
      finish(c);
      return;
    }
    static const char kOk[] = "250 ok\r\n";
    if (send(c->fd, kOk, sizeof kOk - 1, MSG_NOSIGNAL) < 0) {
      finish(c);
      return;
    }
  }
  if (c->line.size() > 4096) finish(c);
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  int bulk_port = 0, smtp_port = 0;
  double max_seconds = 4 * 3600;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mxbench-sink: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") host = next();
    else if (a == "--bulk-port") bulk_port = std::atoi(next());
    else if (a == "--smtp-port") smtp_port = std::atoi(next());
    else if (a == "--max-seconds") max_seconds = std::atof(next());
    else {
      std::fprintf(stderr, "usage: mxbench-sink --bulk-port P --smtp-port Q [--host IP] [--max-seconds S]\n");
      return 2;
    }
  }
  if (bulk_port <= 0 || smtp_port <= 0) {
    std::fprintf(stderr, "mxbench-sink: --bulk-port and --smtp-port are required\n");
    return 2;
  }
  for (size_t i = 0; i < kChunk; ++i) g_out[i] = static_cast<uint8_t>('a' + i % 26);

  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  g_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (g_epoll < 0) die("epoll_create1");
  Conn bulk_l, smtp_l, sig_c;
  bulk_l.kind = Kind::BulkListener;
  bulk_l.fd = listen_on(host, bulk_port);
  smtp_l.kind = Kind::SmtpListener;
  smtp_l.fd = listen_on(host, smtp_port);
  watch(&bulk_l, false, EPOLL_CTL_ADD);
  watch(&smtp_l, false, EPOLL_CTL_ADD);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sig_c.kind = Kind::Signal;
  sig_c.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_c.fd < 0) die("signalfd");
  watch(&sig_c, false, EPOLL_CTL_ADD);

  std::printf("ready bulk=%s:%d smtp=%s:%d\n", host, bulk_port, host, smtp_port);
  std::fflush(stdout);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(max_seconds * 1000));
  std::vector<epoll_event> events(512);
  for (;;) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "mxbench-sink: --max-seconds reached, exiting\n");
      break;
    }
    int n = epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    bool stop = false;
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      uint32_t ev = events[i].events;
      switch (c->kind) {
        case Kind::BulkListener: accept_all(c->fd, Kind::Bulk); break;
        case Kind::SmtpListener: accept_all(c->fd, Kind::Smtp); break;
        case Kind::Signal: stop = true; break;
        case Kind::Bulk:
          if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !bulk_readable(c)) break;
          if ((ev & EPOLLOUT) && c->want_out) bulk_writable(c);
          break;
        case Kind::Smtp: smtp_readable(c); break;
      }
    }
    if (stop) break;
  }
  std::fprintf(stderr, "mxbench-sink: accepted=%llu bulk_in=%llu bulk_out=%llu smtp_sessions=%llu\n",
               static_cast<unsigned long long>(g_accepted), static_cast<unsigned long long>(g_bulk_in),
               static_cast<unsigned long long>(g_bulk_out), static_cast<unsigned long long>(g_sessions));
  return 0;
}
