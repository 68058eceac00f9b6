// mxbench-loadgen: the benchmark's load generator. Speaks SOCKS5 itself (RFC
// 1928 CONNECT, optional RFC 1929 login) with mxcommon's sans-I/O codec, or
// connects straight to the destination with --direct. TCP_NODELAY on every
// socket. Talks to mxbench-sink (bench/sink.cc).
//
//   mxbench-loadgen MODE --target IP:PORT (--socks IP:PORT | --direct) [options]
//
// Modes:
//   bulk      one connection, --bytes N each way at once: MB/s
//   parallel  --conns K connections, --bytes N each way on each: aggregate MB/s
//   latency   --sessions S sequential sessions: connect to the SOCKS5 port ->
//             first byte of the destination's banner; p50/p99 in microseconds
//             (each session then reads the banner line, sends QUIT, reads 221, closes)
//   smtp      --workers W for --seconds T: banner, QUIT, 221, close; sessions/s
//   idle      --count C relayed connections (banner read), opened by --setup-threads
//             threads, held idle until SIGTERM/SIGINT or --hold seconds; prints
//             its result line when all are open ("ready"), then waits
//
// Output: one JSON line on stdout per run, one human line on stderr.
// Sizes accept suffixes K, M, G (powers of 1024).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mxegress/codec/socks5.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string label = "run";
  std::optional<sockaddr_in> socks;
  std::optional<sockaddr_in> target;
  bool direct = false;
  std::string user, password;
  uint64_t bytes = 64ull << 20;
  int conns = 32;
  int sessions = 2000;
  int warmup = 0;
  int workers = 8;
  double seconds = 10;
  int count = 1000;
  int setup_threads = 64;
  double hold = 600;
  double timeout = 600;   // whole run, setup included (not idle's hold)
  double io_timeout = 30; // one blocking read/write/connect
};

Options g_opt;

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "mxbench-loadgen: %s\n", msg);
  std::fprintf(stderr,
               "usage: mxbench-loadgen bulk|parallel|latency|smtp|idle --target IP:PORT\n"
               "         (--socks IP:PORT [--user U --password P] | --direct)\n"
               "         [--bytes N] [--conns K] [--sessions S] [--warmup W] [--workers W]\n"
               "         [--seconds T] [--count C] [--setup-threads P] [--hold T]\n"
               "         [--timeout T] [--io-timeout T] [--label NAME]\n");
  std::exit(2);
}

sockaddr_in parse_addr(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) usage("address must be IP:PORT");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &sa.sin_addr) != 1) usage("bad IPv4 address");
  int port = std::atoi(s.c_str() + colon + 1);
  if (port <= 0 || port > 65535) usage("bad port");
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  uint64_t mult = 1;
  if (end && *end) {
    switch (*end) {
      case 'k': case 'K': mult = 1ull << 10; break;
      case 'm': case 'M': mult = 1ull << 20; break;
      case 'g': case 'G': mult = 1ull << 30; break;
      default: usage("bad size suffix");
    }
  }
  if (!(v >= 0)) usage("bad size");
  return static_cast<uint64_t>(v * static_cast<double>(mult));
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- sockets

struct SessionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void set_timeouts(int fd) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(g_opt.io_timeout);
  tv.tv_usec = static_cast<suseconds_t>((g_opt.io_timeout - std::floor(g_opt.io_timeout)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string errstr(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int connect_to(const sockaddr_in& sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SessionError(errstr("socket"));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_timeouts(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) < 0) {
    std::string e = errstr("connect");
    close(fd);
    throw SessionError(e);
  }
  return fd;
}

void write_all(int fd, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw SessionError(errstr("write"));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Appends what one read() returns; throws on EOF or error.
void read_some(int fd, mx::Bytes& buf) {
  uint8_t tmp[4096];
  for (;;) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n > 0) {
      buf.insert(buf.end(), tmp, tmp + n);
      return;
    }
    if (n == 0) throw SessionError("connection closed by peer");
    if (errno == EINTR) continue;
    throw SessionError(errno == EAGAIN ? "read timed out" : errstr("read"));
  }
}

// Reads until parse() says Done; removes the message from buf (later bytes stay).
template <typename Parse>
void read_message(int fd, mx::Bytes& buf, const char* what, Parse parse) {
  for (;;) {
    if (!buf.empty()) {
      mx::socks5::ParseResult r = parse(mx::ByteView(buf));
      if (r.status == mx::socks5::ParseStatus::Done) {
        buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(r.consumed));
        return;
      }
      if (r.status == mx::socks5::ParseStatus::Error) throw SessionError(std::string(what) + ": " + r.error);
    }
    read_some(fd, buf);
  }
}

mx::Target to_target(const sockaddr_in& sa) {
  std::array<uint8_t, 4> a{};
  std::memcpy(a.data(), &sa.sin_addr, 4);
  return mx::Target::ipv4(a, ntohs(sa.sin_port));
}

// Connects to the destination (through SOCKS5 unless --direct). Bytes that
// arrived after the SOCKS5 reply (the banner, with a fast destination) are left
// in `early`.
int open_session(mx::Bytes& early) {
  early.clear();
  if (g_opt.direct) return connect_to(*g_opt.target);
  int fd = connect_to(*g_opt.socks);
  try {
    using namespace mx::socks5;
    mx::Bytes out;
    const bool login = !g_opt.user.empty();
    const uint8_t methods[] = {login ? kMethodUserPass : kMethodNoAuth};
    encode_greeting(out, methods);
    write_all(fd, out.data(), out.size());
    uint8_t method = 0xff;
    read_message(fd, early, "method selection", [&](mx::ByteView in) { return parse_method_selection(in, method); });
    if (method != methods[0]) throw SessionError("proxy refused our authentication method");
    if (login) {
      out.clear();
      encode_credentials(out, g_opt.user, g_opt.password);
      write_all(fd, out.data(), out.size());
      bool ok = false;
      read_message(fd, early, "auth status", [&](mx::ByteView in) { return parse_auth_status(in, ok); });
      if (!ok) throw SessionError("proxy rejected the login");
    }
    out.clear();
    encode_request(out, Command::Connect, to_target(*g_opt.target));
    write_all(fd, out.data(), out.size());
    ReplyMessage reply;
    read_message(fd, early, "reply", [&](mx::ByteView in) { return parse_reply(in, reply); });
    if (reply.reply != Reply::Succeeded) throw SessionError(std::string("CONNECT failed: ") + reply_name(reply.reply));
  } catch (...) {
    close(fd);
    throw;
  }
  return fd;
}

// Reads one CRLF-terminated line (starting with what is in buf); returns it, keeps the rest.
std::string read_line(int fd, mx::Bytes& buf) {
  for (;;) {
    auto it = std::find(buf.begin(), buf.end(), '\n');
    if (it != buf.end()) {
      std::string line(buf.begin(), it);
      buf.erase(buf.begin(), it + 1);
      return line;
    }
    if (buf.size() > 4096) throw SessionError("line too long");
    read_some(fd, buf);
  }
}

// banner, QUIT, 221, clean close (no unread bytes, so a FIN rather than a RST).
void smtp_dialogue(int fd, mx::Bytes& buf) {
  std::string banner = read_line(fd, buf);
  if (banner.rfind("220", 0) != 0) throw SessionError("unexpected banner: " + banner);
  static const char kQuit[] = "QUIT\r\n";
  write_all(fd, kQuit, sizeof kQuit - 1);
  std::string bye = read_line(fd, buf);
  if (bye.rfind("221", 0) != 0) throw SessionError("unexpected answer to QUIT: " + bye);
}

// ---------------------------------------------------------------- output

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o;
}

std::string common_fields() {
  char b[256];
  std::snprintf(b, sizeof b, "\"mode\":\"%s\",\"label\":\"%s\",\"via\":\"%s\"", g_opt.mode.c_str(),
                json_escape(g_opt.label).c_str(), g_opt.direct ? "direct" : "socks5");
  return b;
}

void emit(const std::string& json, const std::string& human) {
  std::printf("{%s,%s}\n", common_fields().c_str(), json.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "[%s %s] %s\n", g_opt.label.c_str(), g_opt.mode.c_str(), human.c_str());
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char b[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(b, sizeof b, f, ap);
  va_end(ap);
  return b;
}

// ---------------------------------------------------------------- bulk / parallel

constexpr size_t kChunk = 256 * 1024;

struct Stream {
  int fd = -1;
  uint64_t to_send = 0;  // header + payload
  uint64_t sent = 0;
  uint64_t received = 0;
  bool out_done = false;
  bool in_done = false;
};

int run_transfer(int k) {
  const uint64_t n = g_opt.bytes;
  std::vector<Stream> streams(static_cast<size_t>(k));
  const auto setup0 = Clock::now();
  for (auto& s : streams) {
    mx::Bytes early;
    s.fd = open_session(early);
    if (!early.empty()) throw SessionError("bulk destination sent bytes before the header");
    s.to_send = 8 + n;
  }
  const double setup_s = since(setup0);
  static uint8_t out[kChunk];
  static uint8_t in[kChunk];
  for (size_t i = 0; i < kChunk; ++i) out[i] = static_cast<uint8_t>('A' + i % 26);
  uint8_t header[8];
  for (int i = 0; i < 8; ++i) header[i] = static_cast<uint8_t>(n >> (56 - 8 * i));

  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (auto& s : streams) {
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    // The header goes first, on its own (it is tiny and the socket is fresh).
    write_all(s.fd, header, 8);
    s.sent = 8;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  }
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(static_cast<int64_t>(g_opt.timeout * 1000));
  int open_dirs = 2 * k;
  std::vector<epoll_event> events(static_cast<size_t>(k) + 1);
  std::string failure;
  while (open_dirs > 0 && failure.empty()) {
    if (Clock::now() > deadline) {
      failure = "timed out";
      break;
    }
    int m = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (m < 0 && errno != EINTR) throw SessionError(errstr("epoll_wait"));
    for (int i = 0; i < m && failure.empty(); ++i) {
      Stream& s = *static_cast<Stream*>(events[i].data.ptr);
      uint32_t e = events[i].events;
      if ((e & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !s.in_done) {
        ssize_t r = read(s.fd, in, kChunk);
        if (r > 0) {
          s.received += static_cast<uint64_t>(r);
          if (s.received >= n) {
            s.in_done = true;
            --open_dirs;
          }
        } else if (r == 0) {
          failure = fmt("connection closed after %llu of %llu bytes", static_cast<unsigned long long>(s.received),
                        static_cast<unsigned long long>(n));
        } else if (errno != EAGAIN && errno != EINTR) {
          failure = errstr("read");
        }
      }
      if ((e & EPOLLOUT) && !s.out_done) {
        uint64_t left = s.to_send - s.sent;
        ssize_t w = send(s.fd, out, left < kChunk ? static_cast<size_t>(left) : kChunk, MSG_NOSIGNAL);
        if (w > 0) {
          s.sent += static_cast<uint64_t>(w);
          if (s.sent == s.to_send) {
            s.out_done = true;
            --open_dirs;
          }
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          failure = errstr("write");
        }
      }
      if (s.in_done && s.out_done) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
      } else if (s.out_done) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &s;
        epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
      } else if (s.in_done) {
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.ptr = &s;
        epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
      }
    }
  }
  const double secs = since(t0);
  close(ep);
  uint64_t got = 0;
  for (auto& s : streams) {
    got += s.received;
    close(s.fd);
  }
  if (!failure.empty()) {
    emit(fmt("\"ok\":false,\"error\":\"%s\",\"conns\":%d,\"bytes_each_way\":%llu,\"received\":%llu", json_escape(failure).c_str(),
             k, static_cast<unsigned long long>(n), static_cast<unsigned long long>(got)),
         "FAILED: " + failure);
    return 1;
  }
  const double total = static_cast<double>(n) * k;
  const double mbps = total / 1e6 / secs;
  emit(fmt("\"ok\":true,\"conns\":%d,\"bytes_each_way\":%llu,\"seconds\":%.6f,\"setup_seconds\":%.6f,"
           "\"mbps_each_way\":%.2f,\"mbps_total\":%.2f",
           k, static_cast<unsigned long long>(n) * static_cast<unsigned long long>(k), secs, setup_s, mbps, 2 * mbps),
       fmt("%d conn x %.0f MiB each way in %.3f s: %.1f MB/s each way (%.1f MB/s both)", k,
           static_cast<double>(n) / (1 << 20), secs, mbps, 2 * mbps));
  return 0;
}

// ---------------------------------------------------------------- latency

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

int run_latency() {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(g_opt.sessions));
  int errors = 0;
  std::string last_error;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(g_opt.timeout * 1000));
  for (int i = 0; i < g_opt.warmup + g_opt.sessions; ++i) {
    if (Clock::now() > deadline) {
      last_error = "timed out";
      ++errors;
      break;
    }
    mx::Bytes buf;
    int fd = -1;
    try {
      const auto t0 = Clock::now();
      fd = open_session(buf);
      if (buf.empty()) read_some(fd, buf);
      const double dt = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      smtp_dialogue(fd, buf);
      close(fd);
      fd = -1;
      if (i >= g_opt.warmup) us.push_back(dt);
    } catch (const std::exception& e) {
      if (fd >= 0) close(fd);
      ++errors;
      last_error = e.what();
      if (errors > 50) break;
    }
  }
  const size_t slow = static_cast<size_t>(std::count_if(us.begin(), us.end(), [](double v) { return v >= 30000; }));
  double mean = 0;
  for (double v : us) mean += v;
  if (!us.empty()) mean /= static_cast<double>(us.size());
  const double p50 = percentile(us, 50), p90 = percentile(us, 90), p99 = percentile(us, 99);
  const double mx = us.empty() ? 0 : *std::max_element(us.begin(), us.end());
  const bool ok = !us.empty() && errors == 0;
  emit(fmt("\"ok\":%s,\"sessions\":%zu,\"errors\":%d,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"mean_us\":%.1f,\"over_30ms\":%zu,\"error\":\"%s\"",
           ok ? "true" : "false", us.size(), errors, p50, p90, p99, mx, mean, slow, json_escape(last_error).c_str()),
       fmt("%zu sessions: p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us; %zu over 30 ms; %d errors%s%s", us.size(),
           p50, p90, p99, mx, slow, errors, errors ? " last: " : "", last_error.c_str()));
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------- smtp

int run_smtp() {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, errors{0};
  std::mutex mu;
  std::string last_error;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int w = 0; w < g_opt.workers; ++w) {
    threads.emplace_back([&] {
      mx::Bytes buf;
      while (!stop.load(std::memory_order_relaxed)) {
        int fd = -1;
        try {
          fd = open_session(buf);
          smtp_dialogue(fd, buf);
          close(fd);
          done.fetch_add(1, std::memory_order_relaxed);
        } catch (const std::exception& e) {
          if (fd >= 0) close(fd);
          errors.fetch_add(1, std::memory_order_relaxed);
          {
            std::lock_guard<std::mutex> lock(mu);
            last_error = e.what();
          }
          usleep(1000);
        }
      }
    });
  }
  while (since(t0) < g_opt.seconds) usleep(10000);
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = since(t0);
  const double rate = static_cast<double>(done.load()) / secs;
  const bool ok = done.load() > 0 && errors.load() == 0;
  emit(fmt("\"ok\":%s,\"workers\":%d,\"seconds\":%.3f,\"sessions\":%llu,\"errors\":%llu,\"sessions_per_s\":%.1f,"
           "\"error\":\"%s\"",
           ok ? "true" : "false", g_opt.workers, secs, static_cast<unsigned long long>(done.load()),
           static_cast<unsigned long long>(errors.load()), rate, json_escape(last_error).c_str()),
       fmt("%d workers, %.1f s: %llu sessions, %.0f sessions/s, %llu errors%s%s", g_opt.workers, secs,
           static_cast<unsigned long long>(done.load()), rate, static_cast<unsigned long long>(errors.load()),
           errors.load() ? " last: " : "", last_error.c_str()));
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------- idle

int run_idle() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // inherited by the setup threads

  std::vector<int> fds(static_cast<size_t>(g_opt.count), -1);
  std::atomic<int> next{0}, failed{0};
  std::mutex mu;
  std::string last_error;
  alarm(static_cast<unsigned>(g_opt.timeout));  // bounds the setup; the hold has its own bound
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  const int nthreads = std::max(1, std::min(g_opt.setup_threads, g_opt.count));
  for (int t = 0; t < nthreads; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        int i = next.fetch_add(1);
        if (i >= g_opt.count) return;
        mx::Bytes buf;
        int fd = -1;
        try {
          fd = open_session(buf);
          std::string banner = read_line(fd, buf);
          if (banner.rfind("220", 0) != 0) throw SessionError("unexpected banner: " + banner);
          fds[static_cast<size_t>(i)] = fd;
        } catch (const std::exception& e) {
          if (fd >= 0) close(fd);
          failed.fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          last_error = e.what();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  alarm(0);
  const double setup_s = since(t0);
  const int open = g_opt.count - failed.load();
  emit(fmt("\"ok\":%s,\"ready\":true,\"requested\":%d,\"open\":%d,\"failed\":%d,\"setup_seconds\":%.3f,\"error\":\"%s\"",
           failed.load() == 0 ? "true" : "false", g_opt.count, open, failed.load(), setup_s,
           json_escape(last_error).c_str()),
       fmt("ready: %d of %d idle relayed connections open in %.2f s%s%s", open, g_opt.count, setup_s,
           failed.load() ? "; last error: " : "", last_error.c_str()));
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(g_opt.hold);
  siginfo_t si;
  int sig = sigtimedwait(&mask, &si, &ts);
  // Check the connections are still alive (nothing should have arrived, nor a FIN).
  int dead = 0;
  for (int fd : fds) {
    if (fd < 0) continue;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) ++dead;
  }
  // End every session as an SMTP client would: QUIT, then wait for the
  // destination to close first. The TIME_WAIT then stays with the destination's
  // port, not with an ephemeral port of the proxy, which a proxy that binds
  // before it connects (Dante) would otherwise run out of on the next run.
  static const char kQuit[] = "QUIT\r\n";
  for (int fd : fds)
    if (fd >= 0) send(fd, kQuit, sizeof kQuit - 1, MSG_NOSIGNAL);
  const auto close_deadline = Clock::now() + std::chrono::seconds(10);
  int unclosed = 0;
  for (int fd : fds) {
    if (fd < 0) continue;
    char buf[512];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(close_deadline - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
        ++unclosed;
        break;
      }
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
    }
    close(fd);
  }
  std::fprintf(stderr, "[%s idle] %s; %d of %d connections had closed or sent bytes while idle; %d not closed by the destination after QUIT\n",
               g_opt.label.c_str(), sig > 0 ? "stopped by signal" : "hold time over", dead, open, unclosed);
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage(nullptr);
  g_opt.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--socks") g_opt.socks = parse_addr(next());
    else if (a == "--target") g_opt.target = parse_addr(next());
    else if (a == "--direct") g_opt.direct = true;
    else if (a == "--user") g_opt.user = next();
    else if (a == "--password") g_opt.password = next();
    else if (a == "--bytes") g_opt.bytes = parse_size(next());
    else if (a == "--conns") g_opt.conns = std::atoi(next().c_str());
    else if (a == "--sessions") g_opt.sessions = std::atoi(next().c_str());
    else if (a == "--warmup") g_opt.warmup = std::atoi(next().c_str());
    else if (a == "--workers") g_opt.workers = std::atoi(next().c_str());
    else if (a == "--seconds") g_opt.seconds = std::atof(next().c_str());
    else if (a == "--count") g_opt.count = std::atoi(next().c_str());
    else if (a == "--setup-threads") g_opt.setup_threads = std::atoi(next().c_str());
    else if (a == "--hold") g_opt.hold = std::atof(next().c_str());
    else if (a == "--timeout") g_opt.timeout = std::atof(next().c_str());
    else if (a == "--io-timeout") g_opt.io_timeout = std::atof(next().c_str());
    else if (a == "--label") g_opt.label = next();
    else usage(("unknown option " + a).c_str());
  }
  if (!g_opt.target) usage("--target is required");
  if (!g_opt.direct && !g_opt.socks) usage("give --socks IP:PORT or --direct");
  if (g_opt.user.empty() != g_opt.password.empty()) usage("--user and --password go together");
  signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  // A hard bound on the whole run (idle: setup only; its hold has its own bound).
  if (g_opt.mode != "idle") alarm(static_cast<unsigned>(g_opt.timeout + g_opt.seconds + 30));
  try {
    if (g_opt.mode == "bulk") return run_transfer(1);
    if (g_opt.mode == "parallel") return run_transfer(g_opt.conns);
    if (g_opt.mode == "latency") return run_latency();
    if (g_opt.mode == "smtp") return run_smtp();
    if (g_opt.mode == "idle") return run_idle();
  } catch (const std::exception& e) {
    emit(fmt("\"ok\":false,\"error\":\"%s\"", json_escape(e.what()).c_str()), std::string("FAILED: ") + e.what());
    return 1;
  }
  usage("unknown mode");
}
