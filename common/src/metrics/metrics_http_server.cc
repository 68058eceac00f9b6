#include "mxegress/metrics/metrics_http_server.h"

#include <algorithm>

#include "mxegress/loop/timer.h"
#include "mxegress/metrics/http_response.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "metrics";
}

// One connection: its head is read and answered. Then it lingers: our FIN
// follows the response, and what the client still sends is read and
// dropped until it closes too (or the timeout), because closing a socket
// with unread input sends a reset that can destroy the response before the
// client has read it (Apache's "lingering close").
class MetricsHttpServer::Exchange final : public StreamReader {
 public:
  Exchange(MetricsHttpServer& server, std::unique_ptr<TcpConnection> connection)
      : server_(server), connection_(std::move(connection)), timer_(server.loop_) {}

  void start() {
    connection_->set_reader(this);
    connection_->start_reading();
    timer_.start(server_.limits_.timeout, [this] {
      end(answered_ ? "did not close after the response"
                    : "no complete request within " +
                          std::to_string(server_.limits_.timeout.count()) + " ms");
    });
  }

  ~Exchange() override {
    timer_.stop();
    connection_->close();
  }

  void on_stream_data(ByteView data) override {
    if (answered_ || ended_) return;  // lingering: dropped
    // Never more than the cap: the parser answers 431 once it is reached.
    const size_t room = server_.limits_.max_head - buffer_.size();
    buffer_.append(reinterpret_cast<const char*>(data.data()), std::min(room, data.size()));
    const HttpParse parse = parse_http_request_head(buffer_, server_.limits_.max_head);
    switch (parse.status) {
      case HttpParse::Status::NeedMore:
        return;
      case HttpParse::Status::Error:
        MX_LOG(Debug, kLog) << "bad request from " << connection_->describe() << ": "
                            << parse.error;
        answer(text_response(parse.error_status, "bad request: " + parse.error), false);
        return;
      case HttpParse::Status::Done:
        answer(route_metrics_request(parse.request, server_.endpoints_),
               parse.request.method == "HEAD");
        return;
    }
  }
  void on_stream_eof() override {
    if (!answered_) return end("closed before a whole request");
    peer_closed_ = true;
    finish_if_flushed();
  }
  void on_stream_error(const std::string& why) override { end(why); }
  void on_stream_drained() override { finish_if_flushed(); }
  void on_stream_shutdown_done() override { finish_if_flushed(); }

 private:
  void answer(const HttpResponse& response, bool head_only) {
    answered_ = true;
    std::string().swap(buffer_);
    connection_->write(as_bytes(encode_http_response(response, head_only)));
    connection_->shutdown_write();
  }

  void finish_if_flushed() {
    if (peer_closed_ && !ended_ && connection_->pending_bytes() == 0) end({});
  }

  void end(const std::string& why) {
    if (ended_) return;
    ended_ = true;
    if (!why.empty()) {
      MX_LOG(Debug, kLog) << "connection " << connection_->describe() << " ended: " << why;
    }
    timer_.stop();
    connection_->close();
    server_.finished(this);
  }

  MetricsHttpServer& server_;
  std::unique_ptr<TcpConnection> connection_;
  Timer timer_;
  std::string buffer_;
  bool answered_ = false;
  bool peer_closed_ = false;
  bool ended_ = false;
};

MetricsHttpServer::MetricsHttpServer(Loop& loop, MetricsEndpoints endpoints)
    : MetricsHttpServer(loop, std::move(endpoints), Limits{}) {}

MetricsHttpServer::MetricsHttpServer(Loop& loop, MetricsEndpoints endpoints, Limits limits)
    : loop_(loop), endpoints_(std::move(endpoints)), limits_(limits) {}

MetricsHttpServer::~MetricsHttpServer() {
  close();
  loop_.run_deferred();  // finished exchanges refer to this server
}

std::string MetricsHttpServer::listen(const SocketAddress& address) {
  listener_ = std::make_unique<TcpListener>(
      loop_,
      [this](std::unique_ptr<TcpConnection> connection) { on_accept(std::move(connection)); });
  if (std::string err = listener_->listen(address, false, 64); !err.empty()) {
    listener_.reset();
    return "metrics: " + err;
  }
  return {};
}

SocketAddress MetricsHttpServer::address() const {
  return listener_ ? listener_->address() : SocketAddress{};
}

void MetricsHttpServer::close() {
  listener_.reset();
  exchanges_.clear();
}

void MetricsHttpServer::on_accept(std::unique_ptr<TcpConnection> connection) {
  if (exchanges_.size() >= limits_.max_connections) {
    MX_LOG(Debug, kLog) << "refused " << connection->describe() << ": " << limits_.max_connections
                        << " connections open";
    connection->close();
    return;
  }
  auto exchange = std::make_unique<Exchange>(*this, std::move(connection));
  Exchange* raw = exchange.get();
  exchanges_.emplace(raw, std::move(exchange));
  raw->start();
}

void MetricsHttpServer::finished(Exchange* exchange) {
  auto it = exchanges_.find(exchange);
  if (it == exchanges_.end()) return;
  loop_.destroy_later(std::move(it->second));
  exchanges_.erase(it);
}

}  // namespace mx
