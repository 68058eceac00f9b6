// A BIO over a span of input and a growing output buffer, for TlsEngine:
// OpenSSL reads ciphertext from Io::input (consuming it) and writes
// ciphertext to Io::output, with no copy through a memory BIO. `Io` has
// `ByteView input`, an `output` with append(ByteView), and `size_t produced`.
#pragma once

#include <openssl/bio.h>

#include <algorithm>
#include <cstring>

#include "mxegress/util/bytes.h"

namespace mx {

// One method object per Io type for the process, made on first use.
template <typename Io>
BIO_METHOD* span_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mxegress span");
    BIO_meth_set_write_ex(m, [](BIO* bio, const char* data, size_t len, size_t* written) {
      auto* io = static_cast<Io*>(BIO_get_data(bio));
      io->output.append(ByteView(reinterpret_cast<const uint8_t*>(data), len));
      io->produced += len;
      *written = len;
      return 1;
    });
    BIO_meth_set_read_ex(m, [](BIO* bio, char* data, size_t len, size_t* read) {
      auto* io = static_cast<Io*>(BIO_get_data(bio));
      BIO_clear_retry_flags(bio);
      if (io->input.empty()) {
        BIO_set_retry_read(bio);  // more bytes later, never end of stream
        *read = 0;
        return 0;
      }
      const size_t n = std::min(len, io->input.size());
      std::memcpy(data, io->input.data(), n);
      io->input = io->input.subspan(n);
      *read = n;
      return 1;
    });
    BIO_meth_set_ctrl(m, [](BIO* bio, int cmd, long, void*) -> long {
      auto* io = static_cast<Io*>(BIO_get_data(bio));
      switch (cmd) {
        case BIO_CTRL_FLUSH:
          return 1;
        case BIO_CTRL_PENDING:
          return static_cast<long>(io->input.size());
        case BIO_CTRL_WPENDING:
          return static_cast<long>(io->output.size());
        default:
          return 0;
      }
    });
    BIO_meth_set_create(m, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

}  // namespace mx
