// The metrics and health listener ([metrics] listen): HTTP/1.x on the event
// loop, one request per connection. Each connection is read into a buffer
// of at most `max_head` bytes and parsed (parse_http_request_head); the
// response (route_metrics_request) is written and the connection closed
// after it flushes. A connection that has not sent a whole head within
// `timeout`, sends more than `max_head`, or sends garbage is answered 400
// or 431 (garbage, size) or closed (time), and one over `max_connections`
// open at once is closed at once: a slow or hostile client costs a socket
// and 8 KiB for 10 s, and never blocks the loop. Probes that connect and
// leave are logged at debug only.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/metrics/http_request.h"
#include "mxegress/metrics/metrics_routes.h"

namespace mx {

class MetricsHttpServer {
 public:
  struct Limits {
    size_t max_head = kMaxHttpHead;
    std::chrono::milliseconds timeout = std::chrono::seconds(10);
    size_t max_connections = 64;
  };

  MetricsHttpServer(Loop& loop, MetricsEndpoints endpoints);
  MetricsHttpServer(Loop& loop, MetricsEndpoints endpoints, Limits limits);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  std::string listen(const SocketAddress& address);  // error text, empty on success
  SocketAddress address() const;
  void close();  // stops listening and closes every connection
  size_t connections() const { return exchanges_.size(); }

 private:
  class Exchange;
  void on_accept(std::unique_ptr<TcpConnection> connection);
  void finished(Exchange* exchange);  // called from inside the exchange's callbacks

  Loop& loop_;
  MetricsEndpoints endpoints_;
  Limits limits_;
  std::unique_ptr<TcpListener> listener_;
  std::unordered_map<Exchange*, std::unique_ptr<Exchange>> exchanges_;
};

}  // namespace mx
