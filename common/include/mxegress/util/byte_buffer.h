// A byte queue written at the back and consumed from the front, for bytes
// that arrive in pieces and leave in other pieces (decrypted TLS records in,
// tunnel frames out). Consuming advances an offset instead of moving what is
// left, and room is made at the back only when a write needs it: by moving
// the unread bytes to the front while they are few, else by growing. Storage
// is left uninitialised, so writing into prepare() costs no memset
// (std::vector::resize would zero every byte first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "mxegress/util/bytes.h"

namespace mx {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  // A moved-from buffer is empty and holds no storage.
  ByteBuffer(ByteBuffer&& other) noexcept { *this = std::move(other); }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  ByteView readable() const { return {storage_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  // Drops n bytes from the front (n <= size()).
  void consume(size_t n);
  void clear() { begin_ = end_ = 0; }

  // At least n writable bytes after the readable ones; commit() what was
  // written. Views from readable() are invalidated.
  std::span<uint8_t> prepare(size_t n);
  void commit(size_t n) { end_ += n; }
  void append(ByteView data);

  // Drops what it holds and frees the storage.
  void release();

 private:
  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace mx
