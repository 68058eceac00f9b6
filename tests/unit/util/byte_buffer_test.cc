#include "mxegress/util/byte_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace mx {
namespace {

std::string text(const ByteBuffer& buffer) {
  const ByteView bytes = buffer.readable();
  return std::string(bytes.begin(), bytes.end());
}

void write(ByteBuffer& buffer, const std::string& s) {
  std::memcpy(buffer.prepare(s.size()).data(), s.data(), s.size());
  buffer.commit(s.size());
}

TEST(ByteBufferTest, BytesLeaveInTheOrderTheyCame) {
  ByteBuffer buffer;
  EXPECT_TRUE(buffer.empty());
  write(buffer, "hello ");
  buffer.append(as_bytes("world"));
  EXPECT_EQ(text(buffer), "hello world");
  buffer.consume(6);
  EXPECT_EQ(text(buffer), "world");
  EXPECT_EQ(buffer.size(), 5u);
}

TEST(ByteBufferTest, PrepareGivesAtLeastTheRoomAskedFor) {
  ByteBuffer buffer;
  EXPECT_GE(buffer.prepare(100).size(), 100u);
  buffer.commit(100);
  EXPECT_GE(buffer.prepare(100000).size(), 100000u);
  EXPECT_EQ(buffer.size(), 100u);
}

// Consuming does not move bytes: the unread ones stay where they are until
// a write needs the room.
TEST(ByteBufferTest, ConsumingAdvancesWithoutMovingTheRest) {
  ByteBuffer buffer;
  buffer.prepare(1000);
  write(buffer, std::string(600, 'a') + "tail");
  const uint8_t* tail = buffer.readable().data() + 600;
  buffer.consume(600);
  EXPECT_EQ(buffer.readable().data(), tail);
  EXPECT_EQ(text(buffer), "tail");
}

// Few unread bytes are moved to the front instead of growing the storage.
TEST(ByteBufferTest, AFewUnreadBytesMoveToTheFrontForRoom) {
  ByteBuffer buffer;
  buffer.prepare(1000);
  const size_t capacity = buffer.capacity();
  write(buffer, std::string(capacity - 10, 'x') + "0123456789");
  buffer.consume(capacity - 10);
  write(buffer, std::string(capacity - 20, 'y'));
  EXPECT_EQ(buffer.capacity(), capacity);
  EXPECT_EQ(text(buffer).substr(0, 10), "0123456789");
  EXPECT_EQ(buffer.size(), capacity - 10);
}

// Many unread bytes make it grow, and nothing is lost on the way.
TEST(ByteBufferTest, AFullBufferGrowsAndKeepsItsBytes) {
  ByteBuffer buffer;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    write(buffer, piece);
    expected += piece;
    if (i % 7 == 0) {
      buffer.consume(piece.size() / 2);
      expected.erase(0, piece.size() / 2);
    }
  }
  EXPECT_EQ(text(buffer), expected);
}

TEST(ByteBufferTest, EmptiedBufferStartsAtTheFrontAndCanReleaseItsStorage) {
  ByteBuffer buffer;
  write(buffer, "abc");
  buffer.consume(3);
  EXPECT_TRUE(buffer.empty());
  write(buffer, "d");
  EXPECT_EQ(text(buffer), "d");
  buffer.clear();
  buffer.release();
  EXPECT_EQ(buffer.capacity(), 0u);
  write(buffer, "again");
  EXPECT_EQ(text(buffer), "again");
}

}  // namespace
}  // namespace mx
