// One c-ares channel driven by a Loop, on the loop's thread: c-ares opens its
// own non-blocking sockets and says which to watch for what
// (ARES_OPT_SOCK_STATE_CB); each one gets a uv_poll_t handle, and one timer
// fires when ares_timeout() says the next try of a query runs out. No thread
// is involved, so a lookup that never gets an answer costs a few hundred
// bytes until its timeout, not a thread (docs/architecture.md, "Name
// resolution"). Used by Resolver, which owns one or more of these.
#pragma once

#include <ares.h>
#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"
#include "mxegress/net/resolver_settings.h"
#include "mxegress/net/socket_address.h"

namespace mx {

class AresChannel {
 public:
  // A channel that reads /etc/resolv.conf, /etc/nsswitch.conf and /etc/hosts
  // as the C library does, with `settings` on top (servers, and the try
  // timeout and count derived from timeout and tries). Null with `err` set
  // when c-ares cannot make it.
  static std::unique_ptr<AresChannel> create(Loop& loop, const ResolverSettings& settings,
                                             std::string& err);
  // Ends every query still under way: their callbacks run from inside the
  // destructor, with ARES_EDESTRUCTION. Closes every poll handle.
  ~AresChannel();
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  // ares_getaddrinfo of `host`, IPv4 and IPv6 (sorted by RFC 6724, as
  // getaddrinfo does). `done` runs once with `arg`: possibly inside this call
  // (an /etc/hosts entry, a malformed name), else from the loop.
  void getaddrinfo(const std::string& host, ares_addrinfo_callback done, void* arg);
  // ares_query of `name` for records of class IN and `type` (ns_t_mx, ...):
  // `done` gets the raw answer, as getaddrinfo's callback runs.
  void query(const std::string& name, int type, ares_callback done, void* arg);

  size_t server_count() const { return server_count_; }
  size_t sockets() const { return watches_.size(); }  // polled now

 private:
  struct Watch;  // one uv_poll_t per socket c-ares has open

  explicit AresChannel(Loop& loop) : loop_(loop), timer_(loop) {}
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_poll(uv_poll_t* handle, int status, int events);
  void process(ares_socket_t read_fd, ares_socket_t write_fd);
  void arm_timer();  // for the next timeout c-ares has, or stopped when none

  Loop& loop_;
  ares_channel channel_ = nullptr;
  std::unordered_map<ares_socket_t, Watch*> watches_;
  Timer timer_;
  size_t server_count_ = 0;
};

// The addresses of an ares_getaddrinfo answer, each with `port`, in the order
// given (IPv4 and IPv6 only).
std::vector<SocketAddress> addresses_of(const ares_addrinfo* result, uint16_t port);

}  // namespace mx
