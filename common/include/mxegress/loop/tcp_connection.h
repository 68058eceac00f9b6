// One TCP connection, owning its uv_tcp_t (convention 3: the handle's memory
// is freed by its close callback, never by this object). It is a Stream, so
// the relay pump can drive it; the tunnel uses it as its transport.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "mxegress/loop/loop.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/net/tcp_liveness.h"
#include "mxegress/relay/stream.h"
#include "mxegress/util/byte_buffer.h"

namespace mx {

class TcpConnection final : public Stream {
 public:
  // The most one read delivers. Large, so that a bulk transfer takes what the
  // socket holds in one call (bench: about a tenth less CPU per GiB than 60
  // KiB reads), and exactly four full multiplexed DATA payloads (4 x 65,528),
  // so that the tunnel splits a full read into four frames and not into four
  // and a 32-byte fifth that the far side writes to its socket on its own.
  static constexpr size_t kReadBufferSize = 4 * 65528;

  explicit TcpConnection(Loop& loop);
  ~TcpConnection() override;
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Accepts a pending connection from a listening handle; false on failure.
  bool accept_from(uv_stream_t* listener);
  // Connects to `to`, from `from` when given. `done` gets 0 or a libuv error.
  // Returns a libuv error if the connect could not even be started.
  int connect(const SocketAddress& to, const std::optional<SocketAddress>& from,
              std::function<void(int status)> done);
  void start_reading();
  // After a read that did not fill the buffer, looks (MSG_PEEK) for a FIN
  // right behind it and reports EOF in the same loop turn. For connections
  // whose peer closes right after its last reply (an SMTP server after
  // 221): the reply and the end then leave in one tunnel record, one write
  // and one wake-up less on each side. Costs one cheap system call per
  // short read, so it is off by default.
  void report_eof_behind_short_reads() { eof_behind_short_reads_ = true; }
  // Moves the socket to another loop: returns a duplicate descriptor and
  // closes this connection (-1, and closed, on failure). The other loop
  // wraps it with adopt_socket().
  int release_socket();
  // Wraps a connected socket from release_socket(); false on failure (the
  // caller still owns fd).
  bool adopt_socket(int fd);
  // Keepalive and TCP_USER_TIMEOUT (see TcpLiveness). On a socket that
  // exists (accepted, adopted, or once connect() has started) they apply at
  // once: returns "" or what failed, for the caller to log at warn. Before
  // connect() they are only kept (returns ""): libuv makes the socket inside
  // connect(), so connect() makes it itself and sets them before the SYN,
  // and logs a failure at warn itself since no caller is there to.
  std::string set_liveness(const TcpLiveness& liveness);

  std::optional<SocketAddress> local_address() const;
  int fd() const;  // the socket, for options libuv does not wrap; -1 when closed
  std::optional<SocketAddress> peer_address() const;

  // Stream
  void set_reader(StreamReader* reader) override { reader_ = reader; }
  bool has_reader() const { return reader_ != nullptr; }
  void write(ByteView data) override;
  // Takes the buffer: what the kernel does not take at once is queued without a copy.
  void write(ByteBuffer&& data);
  size_t pending_bytes() const override;
  void shutdown_write() override;
  void abort() override;
  void pause_reading() override;
  void resume_reading() override;
  std::string describe() const override;

  bool closed() const { return closed_; }
  // Closes at once: queued writes are dropped.
  void close();
  // Detaches from this object, lets queued writes reach the peer, sends FIN,
  // then closes; gives up after `max_wait` if the peer does not read.
  void close_after_flush(std::chrono::milliseconds max_wait = std::chrono::seconds(10));
  // True when the peer reset the connection although a read said end of
  // stream: a RST's error goes to the one call that meets it first, so when
  // a write took it the read sees 0. Told apart by TCP's state, CLOSE after a
  // reset and CLOSE_WAIT after the peer's FIN, while we have sent no FIN.
  bool reset_by_peer() const;

 private:
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_connect(uv_connect_t* req, int status);
  void fail(const std::string& why);
  // True when the peer's FIN is the next thing in the receive queue.
  bool eof_is_next() const;
  void on_eof();
  // When nothing is queued, offers `data` to the kernel without copying it.
  // Returns how many bytes it took, or nullopt after a write error (the
  // connection has failed).
  std::optional<size_t> write_now(ByteView data);
  // Hands data's readable bytes to libuv's write queue.
  void queue(ByteBuffer&& data);

  // The uv_tcp_t plus a back-pointer that is nulled on detach (public only
  // so the file-local close helpers can name it).
 public:
  struct Handle;

 private:
  Handle* h_;
  uv_tcp_t* handle_;
  StreamReader* reader_ = nullptr;
  std::function<void(int)> connect_done_;
  std::optional<TcpLiveness> liveness_before_connect_;
  bool reading_ = false;
  bool read_paused_ = false;
  bool closed_ = false;
  bool shut_down_ = false;
  bool eof_behind_short_reads_ = false;
};

// Human text for a libuv error code: "connection refused (ECONNREFUSED)".
std::string uv_error_text(int code);

}  // namespace mx
