// A listening TCP socket. Each accepted connection is handed over as a
// TcpConnection that the callback owns.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/net/socket_address.h"

namespace mx {

class TcpListener {
 public:
  using AcceptCallback = std::function<void(std::unique_ptr<TcpConnection>)>;

  TcpListener(Loop& loop, AcceptCallback on_accept);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Binds and listens; returns an error text, empty on success. With
  // `reuse_port`, several listeners (one per loop thread) share the address
  // and the kernel spreads connections over them.
  std::string listen(const SocketAddress& address, bool reuse_port = false, int backlog = 1024);
  SocketAddress address() const;
  void close();

 private:
  static void on_connection(uv_stream_t* server, int status);
  Loop& loop_;
  uv_tcp_t* handle_;
  AcceptCallback on_accept_;
  bool closed_ = false;
};

}  // namespace mx
