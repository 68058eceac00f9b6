#include "mxegress/loop/tcp_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mxegress/util/log.h"

namespace mx {

TcpListener::TcpListener(Loop& loop, AcceptCallback on_accept)
    : loop_(loop), handle_(new uv_tcp_t), on_accept_(std::move(on_accept)) {
  uv_tcp_init(loop.get(), handle_);
  handle_->data = this;
}

TcpListener::~TcpListener() { close(); }

void TcpListener::close() {
  if (closed_) return;
  closed_ = true;
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
}

std::string TcpListener::listen(const SocketAddress& address, bool reuse_port, int backlog) {
  const unsigned flags = address.family() == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
  if (reuse_port) {
    // libuv 1.44 cannot set SO_REUSEPORT itself: make the socket here.
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        uv_tcp_open(handle_, fd) != 0) {
      if (fd >= 0) ::close(fd);
      return "cannot create a socket for " + address.to_string() + ": " + std::strerror(errno);
    }
  }
  if (int rc = uv_tcp_bind(handle_, address.sa(), flags); rc != 0) {
    return "cannot bind " + address.to_string() + ": " + uv_error_text(rc);
  }
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(handle_), backlog,
                         &TcpListener::on_connection);
      rc != 0) {
    return "cannot listen on " + address.to_string() + ": " + uv_error_text(rc);
  }
  return {};
}

SocketAddress TcpListener::address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

void TcpListener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<TcpListener*>(server->data);
  if (self == nullptr) return;
  if (status != 0) {
    MX_LOG(Warn, "listener") << "accept failed: " << uv_error_text(status);
    return;
  }
  auto connection = std::make_unique<TcpConnection>(self->loop_);
  if (!connection->accept_from(server)) {
    MX_LOG(Warn, "listener") << "accept failed";
    return;
  }
  self->on_accept_(std::move(connection));
}

}  // namespace mx
