#include "mxegress/util/byte_buffer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace mx {

ByteBuffer& ByteBuffer::operator=(ByteBuffer&& other) noexcept {
  if (this == &other) return *this;
  storage_ = std::move(other.storage_);
  capacity_ = std::exchange(other.capacity_, 0);
  begin_ = std::exchange(other.begin_, 0);
  end_ = std::exchange(other.end_, 0);
  return *this;
}

void ByteBuffer::consume(size_t n) {
  assert(n <= size());
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;  // the next write starts at the front again
}

std::span<uint8_t> ByteBuffer::prepare(size_t n) {
  if (capacity_ - end_ >= n) return {storage_.get() + end_, capacity_ - end_};
  const size_t unread = size();
  // Moving the unread bytes is cheap while they are at most a quarter of the
  // storage; a fuller buffer grows instead, so no byte is moved twice in a row.
  if (unread + n <= capacity_ && unread <= capacity_ / 4) {
    std::memmove(storage_.get(), storage_.get() + begin_, unread);
  } else {
    const size_t grown = std::max(capacity_ * 2, unread + n);
    auto storage = std::make_unique_for_overwrite<uint8_t[]>(grown);
    if (unread > 0) std::memcpy(storage.get(), storage_.get() + begin_, unread);
    storage_ = std::move(storage);
    capacity_ = grown;
  }
  begin_ = 0;
  end_ = unread;
  return {storage_.get() + end_, capacity_ - end_};
}

void ByteBuffer::append(ByteView data) {
  if (data.empty()) return;
  std::memcpy(prepare(data.size()).data(), data.data(), data.size());
  commit(data.size());
}

void ByteBuffer::release() {
  storage_.reset();
  capacity_ = begin_ = end_ = 0;
}

}  // namespace mx
