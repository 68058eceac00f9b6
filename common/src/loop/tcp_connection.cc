#include "mxegress/loop/tcp_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "mxegress/util/log.h"

namespace mx {
namespace {

// Reads land in one buffer per thread: every reader consumes (copies or
// encrypts) the bytes inside its callback, so nothing keeps a view into it.
thread_local std::array<char, TcpConnection::kReadBufferSize> t_read_buffer;

struct WriteRequest {
  uv_write_t req;
  ByteBuffer data;
};

struct Lingering;

}  // namespace

// The uv_tcp_t comes first so that libuv's handle pointer is this struct's.
struct TcpConnection::Handle {
  uv_tcp_t tcp{};
  TcpConnection* owner = nullptr;
  Lingering* linger = nullptr;
};

namespace {

using TcpHandle = TcpConnection::Handle;

TcpConnection* owner_of(uv_stream_t* stream) {
  return stream == nullptr ? nullptr : reinterpret_cast<TcpHandle*>(stream)->owner;
}

// Owns the timer that bounds close_after_flush; freed when both the socket
// and the timer have closed.
struct Lingering {
  TcpHandle* handle;
  uv_timer_t timer{};
  int open_handles = 2;

  void finish();
  void release() {
    if (--open_handles == 0) delete this;
  }
};

void free_tcp_handle(uv_handle_t* h) {
  auto* handle = reinterpret_cast<TcpHandle*>(h);
  Lingering* linger = handle->linger;
  delete handle;
  if (linger) linger->release();
}

void Lingering::finish() {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&handle->tcp))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->tcp), free_tcp_handle);
  }
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer),
             [](uv_handle_t* t) { static_cast<Lingering*>(t->data)->release(); });
  }
}

}  // namespace

std::string uv_error_text(int code) {
  return std::string(uv_strerror(code)) + " (" + uv_err_name(code) + ")";
}

TcpConnection::TcpConnection(Loop& loop) : h_(new Handle), handle_(&h_->tcp) {
  uv_tcp_init(loop.get(), handle_);
  h_->owner = this;
}

TcpConnection::~TcpConnection() { close(); }

void TcpConnection::close_after_flush(std::chrono::milliseconds max_wait) {
  if (closed_) return;
  if (shut_down_ || pending_bytes() == 0) {
    close();
    return;
  }
  closed_ = true;
  auto* linger = new Lingering{h_};
  h_->owner = nullptr;
  h_->linger = linger;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(handle_));
  uv_timer_init(handle_->loop, &linger->timer);
  linger->timer.data = linger;
  uv_timer_start(
      &linger->timer, [](uv_timer_t* t) { static_cast<Lingering*>(t->data)->finish(); },
      static_cast<uint64_t>(max_wait.count()), 0);
  auto* req = new uv_shutdown_t;
  req->data = linger;
  const int rc =
      uv_shutdown(req, reinterpret_cast<uv_stream_t*>(handle_), [](uv_shutdown_t* r, int status) {
        auto* l = static_cast<Lingering*>(r->data);
        delete r;
        // ECANCELED: the timer already closed the socket.
        if (status != UV_ECANCELED) l->finish();
      });
  if (rc != 0) {
    delete req;
    linger->finish();
  }
}

void TcpConnection::close() {
  if (closed_) return;
  closed_ = true;
  h_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), free_tcp_handle);
}

bool TcpConnection::accept_from(uv_stream_t* listener) {
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(handle_)) != 0) return false;
  uv_tcp_nodelay(handle_, 1);
  return true;
}

int TcpConnection::connect(const SocketAddress& to, const std::optional<SocketAddress>& from,
                           std::function<void(int)> done) {
  // libuv would make the socket inside uv_tcp_connect(), too late for what
  // must be set before the SYN: then make it here.
  if (from || liveness_before_connect_) {
    const int family = from ? from->family() : to.family();
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return uv_translate_sys_error(errno);
    if (int rc = uv_tcp_open(handle_, fd); rc != 0) {
      ::close(fd);
      return rc;
    }
  }
  if (liveness_before_connect_) {
    if (std::string error = apply_tcp_liveness(fd(), *liveness_before_connect_); !error.empty()) {
      MX_LOG(Warn, "tcp") << "connect to " << to.to_string() << ": " << error;
    }
  }
  if (from) {
    // Bind the source address without picking a port yet, so that many
    // connections from one address share the ephemeral range per destination.
    const int one = 1;
    setsockopt(fd(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (int rc = uv_tcp_bind(handle_, from->sa(), 0); rc != 0) return rc;
  }
  auto* req = new uv_connect_t;
  connect_done_ = std::move(done);
  if (int rc = uv_tcp_connect(req, handle_, to.sa(), &TcpConnection::on_connect); rc != 0) {
    delete req;
    return rc;
  }
  return 0;
}

void TcpConnection::on_connect(uv_connect_t* req, int status) {
  TcpConnection* self = owner_of(req->handle);
  delete req;
  if (self == nullptr || !self->connect_done_) return;
  if (status == 0) uv_tcp_nodelay(self->handle_, 1);
  auto done = std::move(self->connect_done_);
  done(status);
}

int TcpConnection::release_socket() {
  const int own = fd();
  const int copy = own < 0 ? -1 : ::fcntl(own, F_DUPFD_CLOEXEC, 0);
  // libuv takes the original out of this loop's epoll before closing it, so
  // the duplicate carries no registration here.
  close();
  return copy;
}

bool TcpConnection::adopt_socket(int fd) {
  if (closed_ || uv_tcp_open(handle_, fd) != 0) return false;
  uv_tcp_nodelay(handle_, 1);
  return true;
}

std::string TcpConnection::set_liveness(const TcpLiveness& liveness) {
  if (closed_) return "the connection is closed";
  const int socket = fd();
  if (socket < 0) {
    liveness_before_connect_ = liveness;
    return {};
  }
  return apply_tcp_liveness(socket, liveness);
}

void TcpConnection::start_reading() {
  if (closed_ || reading_) return;
  reading_ = true;
  if (!read_paused_) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(handle_), &TcpConnection::on_alloc,
                  &TcpConnection::on_read);
  }
}

void TcpConnection::pause_reading() {
  if (read_paused_) return;
  read_paused_ = true;
  if (reading_ && !closed_) uv_read_stop(reinterpret_cast<uv_stream_t*>(handle_));
}

void TcpConnection::resume_reading() {
  if (!read_paused_) return;
  read_paused_ = false;
  if (reading_ && !closed_) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(handle_), &TcpConnection::on_alloc,
                  &TcpConnection::on_read);
  }
}

void TcpConnection::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(t_read_buffer.data(), t_read_buffer.size());
}

void TcpConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  TcpConnection* self = owner_of(stream);
  if (self == nullptr || nread == 0) return;
  if (nread > 0) {
    if (self->reader_) {
      self->reader_->on_stream_data(
          ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)));
    }
    // The reader may have closed, paused, left or destroyed this connection.
    self = owner_of(stream);
    if (self != nullptr && self->eof_behind_short_reads_ && self->reader_ != nullptr &&
        self->reading_ && !self->read_paused_ && static_cast<size_t>(nread) < buf->len &&
        self->eof_is_next()) {
      self->on_eof();
    }
    return;
  }
  if (nread == UV_EOF) {
    self->on_eof();
    return;
  }
  self->fail(uv_error_text(static_cast<int>(nread)));
}

bool TcpConnection::eof_is_next() const {
  char next;
  return ::recv(fd(), &next, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

bool TcpConnection::reset_by_peer() const {
  if (closed_ || shut_down_) return false;
  tcp_info info{};
  socklen_t length = sizeof info;
  return getsockopt(fd(), IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
         info.tcpi_state == TCP_CLOSE;
}

void TcpConnection::on_eof() {
  uv_read_stop(reinterpret_cast<uv_stream_t*>(handle_));
  reading_ = false;
  if (reader_) reader_->on_stream_eof();
}

void TcpConnection::fail(const std::string& why) {
  if (!closed_) uv_read_stop(reinterpret_cast<uv_stream_t*>(handle_));
  reading_ = false;
  if (reader_) reader_->on_stream_error(why);
}

std::optional<size_t> TcpConnection::write_now(ByteView data) {
  if (uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(handle_)) != 0) return 0;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                             static_cast<unsigned>(data.size()));
  const int written = uv_try_write(reinterpret_cast<uv_stream_t*>(handle_), &buf, 1);
  if (written == UV_EAGAIN) return 0;
  if (written < 0) {
    fail("write: " + uv_error_text(written));
    return std::nullopt;
  }
  return static_cast<size_t>(written);
}

void TcpConnection::write(ByteView data) {
  if (closed_ || data.empty()) return;
  // Only what the kernel does not take now is copied into a request.
  const std::optional<size_t> taken = write_now(data);
  if (!taken || *taken == data.size()) return;
  ByteBuffer rest;
  rest.append(data.subspan(*taken));
  queue(std::move(rest));
}

void TcpConnection::write(ByteBuffer&& data) {
  if (closed_ || data.empty()) return;
  const std::optional<size_t> taken = write_now(data.readable());
  if (!taken || *taken == data.size()) return;
  data.consume(*taken);
  queue(std::move(data));
}

void TcpConnection::queue(ByteBuffer&& data) {
  auto* w = new WriteRequest{{}, std::move(data)};
  const ByteView bytes = w->data.readable();
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                             static_cast<unsigned>(bytes.size()));
  if (int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(handle_), &buf, 1,
                        &TcpConnection::on_write);
      rc != 0) {
    delete w;
    fail("write: " + uv_error_text(rc));
  }
}

void TcpConnection::on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  TcpConnection* self = owner_of(req->handle);
  delete w;
  if (self == nullptr || status == UV_ECANCELED) return;
  if (status != 0) {
    self->fail("write: " + uv_error_text(status));
    return;
  }
  if (self->reader_) self->reader_->on_stream_drained();
}

size_t TcpConnection::pending_bytes() const {
  if (closed_) return 0;
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(handle_));
}

void TcpConnection::shutdown_write() {
  if (closed_ || shut_down_) return;
  shut_down_ = true;
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(handle_), &TcpConnection::on_shutdown) != 0) {
    delete req;
    fail("shutdown failed");
  }
}

void TcpConnection::on_shutdown(uv_shutdown_t* req, int status) {
  TcpConnection* self = owner_of(req->handle);
  delete req;
  if (self == nullptr || status == UV_ECANCELED) return;
  // ENOTCONN: the peer closed (and reset) before our FIN left, as an SMTP
  // server does after 221. This direction is over all the same.
  if (status != 0 && status != UV_ENOTCONN) {
    self->fail("shutdown: " + uv_error_text(status));
    return;
  }
  if (self->reader_) self->reader_->on_stream_shutdown_done();
}

void TcpConnection::abort() {
  if (closed_) return;
  closed_ = true;
  h_->owner = nullptr;
  // Sends RST instead of FIN; pending writes are cancelled.
  if (uv_tcp_close_reset(handle_, free_tcp_handle) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), free_tcp_handle);
  }
}

int TcpConnection::fd() const {
  uv_os_fd_t fd = -1;
  if (closed_ || uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_), &fd) != 0) return -1;
  return fd;
}

std::optional<SocketAddress> TcpConnection::local_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (closed_ || uv_tcp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::nullopt;
  }
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

std::optional<SocketAddress> TcpConnection::peer_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (closed_ || uv_tcp_getpeername(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::nullopt;
  }
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

std::string TcpConnection::describe() const {
  auto peer = peer_address();
  return peer ? peer->to_string() : std::string("tcp");
}

}  // namespace mx
