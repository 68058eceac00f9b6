// One byte stream, whatever carries it: a TCP socket, or a tunnel's data
// phase (Data/Fin/Rst frames over TLS). The relay pump joins two of these.
#pragma once

#include <cstddef>
#include <string>

#include "mxegress/util/bytes.h"

namespace mx {

// What a stream tells whoever reads from it.
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  virtual void on_stream_data(ByteView data) = 0;
  virtual void on_stream_eof() = 0;                          // the peer half-closed
  virtual void on_stream_error(const std::string& why) = 0;  // reset or failure: stream is dead
  virtual void on_stream_drained() {}        // a write completed; check pending_bytes()
  virtual void on_stream_shutdown_done() {}  // our half-close reached the peer's side
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual void set_reader(StreamReader* reader) = 0;
  virtual void write(ByteView data) = 0;
  // Bytes accepted by write() but not yet handed to the kernel.
  virtual size_t pending_bytes() const = 0;
  // False while a write could only be buffered here, not sent (a multiplexed
  // session out of credit): the pump then stops reading the source, and the
  // bytes wait in the source's socket instead of being copied into ours. The
  // stream says on_stream_drained() when it can send again.
  virtual bool can_send_now() const { return true; }
  virtual void shutdown_write() = 0;  // half-close after everything written so far
  virtual void abort() = 0;           // abortive close (TCP RST / tunnel Rst frame)
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  virtual std::string describe() const = 0;
};

}  // namespace mx
