#include "mxegress/loop/ares_channel.h"

#include <algorithm>
#include <mutex>

#include "mxegress/util/log.h"

namespace mx {
namespace {

constexpr const char* kLog = "resolver";

// ares_library_init is process-wide and not thread-safe; on Linux it only
// sets up the allocator, but the contract is to call it once.
bool library_ready(std::string& err) {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (status != ARES_SUCCESS) err = std::string("c-ares: ") + ares_strerror(status);
  return status == ARES_SUCCESS;
}

// How many servers a channel made from /etc/resolv.conf asks (c-ares
// defaults to 127.0.0.1 when the file names none).
size_t resolv_conf_server_count(std::string& err) {
  ares_channel probe = nullptr;
  if (const int rc = ares_init(&probe); rc != ARES_SUCCESS) {
    err = std::string("c-ares: ") + ares_strerror(rc);
    return 0;
  }
  ares_addr_port_node* servers = nullptr;
  size_t count = 0;
  if (ares_get_servers_ports(probe, &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* node = servers; node != nullptr; node = node->next) ++count;
  }
  ares_free_data(servers);
  ares_destroy(probe);
  return std::max<size_t>(count, 1);
}

}  // namespace

struct AresChannel::Watch {
  uv_poll_t handle{};
  AresChannel* owner;  // nulled when c-ares is done with the socket
  ares_socket_t fd;
};

std::unique_ptr<AresChannel> AresChannel::create(Loop& loop, const ResolverSettings& settings,
                                                 std::string& err) {
  if (!library_ready(err)) return nullptr;
  std::unique_ptr<AresChannel> self(new AresChannel(loop));
  self->server_count_ =
      settings.servers.empty() ? resolv_conf_server_count(err) : settings.servers.size();
  if (self->server_count_ == 0) return nullptr;

  ares_options options{};
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  options.timeout = static_cast<int>(
      ares_first_try_timeout(settings.timeout, settings.tries, self->server_count_).count());
  options.tries = static_cast<int>(settings.tries);
  options.sock_state_cb = &AresChannel::on_socket_state;
  options.sock_state_cb_data = self.get();
  if (const int rc = ares_init_options(&self->channel_, &options, mask); rc != ARES_SUCCESS) {
    err = std::string("c-ares: ") + ares_strerror(rc);
    self->channel_ = nullptr;
    return nullptr;
  }
  if (!settings.servers.empty()) {
    const std::string csv = ares_servers_csv(settings.servers);
    if (const int rc = ares_set_servers_ports_csv(self->channel_, csv.c_str());
        rc != ARES_SUCCESS) {
      err = "c-ares: servers " + csv + ": " + ares_strerror(rc);
      return nullptr;
    }
  }
  return self;
}

AresChannel::~AresChannel() {
  MX_ASSERT_IN_LOOP(loop_);
  // Runs the callbacks of the queries still under way (ARES_EDESTRUCTION)
  // and closes the sockets, each reported to on_socket_state first.
  if (channel_ != nullptr) ares_destroy(channel_);
  std::vector<ares_socket_t> left;  // none, unless c-ares forgot to report one
  for (const auto& [fd, watch] : watches_) left.push_back(fd);
  for (const ares_socket_t fd : left) on_socket_state(this, fd, 0, 0);
}

void AresChannel::getaddrinfo(const std::string& host, ares_addrinfo_callback done, void* arg) {
  MX_ASSERT_IN_LOOP(loop_);
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No service: the caller puts its port on the addresses.
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, done, arg);
  arm_timer();
}

void AresChannel::query(const std::string& name, int type, ares_callback done, void* arg) {
  MX_ASSERT_IN_LOOP(loop_);
  ares_query(channel_, name.c_str(), 1 /* ns_c_in */, type, done, arg);
  arm_timer();
}

void AresChannel::on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<AresChannel*>(data);
  auto it = self->watches_.find(fd);
  if (!readable && !writable) {
    // c-ares closes the socket right after this: stop polling it now.
    if (it == self->watches_.end()) return;
    Watch* watch = it->second;
    self->watches_.erase(it);
    watch->owner = nullptr;
    uv_poll_stop(&watch->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle),
             [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
    return;
  }
  Watch* watch = nullptr;
  if (it != self->watches_.end()) {
    watch = it->second;
  } else {
    watch = new Watch{{}, self, fd};
    if (const int rc = uv_poll_init_socket(self->loop_.get(), &watch->handle, fd); rc != 0) {
      // The query on this socket then times out.
      MX_LOG(Error, kLog) << "cannot poll a DNS socket: " << uv_strerror(rc);
      delete watch;
      return;
    }
    watch->handle.data = watch;
    self->watches_.emplace(fd, watch);
  }
  uv_poll_start(&watch->handle, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                &AresChannel::on_poll);
}

void AresChannel::on_poll(uv_poll_t* handle, int status, int events) {
  auto* watch = static_cast<Watch*>(handle->data);
  if (watch->owner == nullptr) return;
  // On an error, let c-ares read and write the socket to find out for itself.
  const bool error = status < 0;
  const ares_socket_t fd = watch->fd;
  watch->owner->process((error || (events & UV_READABLE)) ? fd : ARES_SOCKET_BAD,
                        (error || (events & UV_WRITABLE)) ? fd : ARES_SOCKET_BAD);
}

void AresChannel::process(ares_socket_t read_fd, ares_socket_t write_fd) {
  // Also handles every query whose try has run out. The callbacks it runs
  // never destroy this channel (Resolver defers that).
  ares_process_fd(channel_, read_fd, write_fd);
  arm_timer();
}

void AresChannel::arm_timer() {
  timeval next{};
  if (ares_timeout(channel_, nullptr, &next) == nullptr) {
    timer_.stop();  // no query under way
    return;
  }
  const auto ms =
      std::chrono::milliseconds(int64_t{next.tv_sec} * 1000 + (next.tv_usec + 999) / 1000);
  timer_.start(ms, [this] { process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); });
}

std::vector<SocketAddress> addresses_of(const ares_addrinfo* result, uint16_t port) {
  std::vector<SocketAddress> addresses;
  if (result == nullptr) return addresses;
  for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
    if (node->ai_addr == nullptr) continue;
    const SocketAddress found = SocketAddress::from_sockaddr(node->ai_addr);
    if (found.family() == AF_INET) {
      addresses.push_back(
          SocketAddress::ipv4(std::span<const uint8_t, 4>(found.ip_bytes().data(), 4), port));
    } else if (found.family() == AF_INET6) {
      addresses.push_back(
          SocketAddress::ipv6(std::span<const uint8_t, 16>(found.ip_bytes().data(), 16), port));
    }
  }
  return addresses;
}

}  // namespace mx
