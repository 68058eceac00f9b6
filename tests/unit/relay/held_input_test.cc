// HeldInput against a fake Stream: what a local client sends before the
// CONNECT reply is held in order, reading pauses at the cap, and EOF or an
// error reports the client gone.
#include "mxegress/relay/held_input.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace mx {
namespace {

class FakeClient : public Stream {
 public:
  void set_reader(StreamReader* r) override { reader = r; }
  void write(ByteView) override {}
  size_t pending_bytes() const override { return 0; }
  void shutdown_write() override {}
  void abort() override {}
  void pause_reading() override { paused = true; }
  void resume_reading() override { paused = false; }
  std::string describe() const override { return "fake"; }

  StreamReader* reader = nullptr;
  bool paused = true;  // as the SOCKS5 handshake leaves it
};

std::string text(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

TEST(HeldInputTest, HoldsWhatCameWithTheRequestAndAfterInOrder) {
  FakeClient client;
  std::optional<std::string> gone;
  HeldInput held(client, Bytes{'E', 'H'}, [&](const std::string& why) { gone = why; });
  ASSERT_NE(client.reader, nullptr);
  EXPECT_FALSE(client.paused) << "it reads on, to notice the client leaving";
  client.reader->on_stream_data(as_bytes("LO a\r\n"));
  client.reader->on_stream_data(as_bytes("MAIL"));
  EXPECT_EQ(text(held.release(true)), "EHLO a\r\nMAIL");
  EXPECT_EQ(client.reader, nullptr);
  EXPECT_FALSE(client.paused) << "the relay takes over reading in this turn";
  EXPECT_FALSE(gone);
}

TEST(HeldInputTest, ReleaseWithoutARelayPausesReading) {
  FakeClient client;
  HeldInput held(client, {}, [](const std::string&) {});
  EXPECT_EQ(text(held.release()), "");
  EXPECT_TRUE(client.paused);
  EXPECT_EQ(client.reader, nullptr);
}

TEST(HeldInputTest, PausesReadingAtTheCap) {
  FakeClient client;
  HeldInput held(client, {}, [](const std::string&) {});
  const Bytes chunk(HeldInput::kMaxHeld - 1, 'x');
  client.reader->on_stream_data(chunk);
  EXPECT_FALSE(client.paused);
  client.reader->on_stream_data(as_bytes("yz"));
  EXPECT_TRUE(client.paused);
  EXPECT_EQ(held.release(true).size(), HeldInput::kMaxHeld + 1);
}

TEST(HeldInputTest, AlreadyAtTheCapDoesNotRead) {
  FakeClient client;
  HeldInput held(client, Bytes(HeldInput::kMaxHeld, 'x'), [](const std::string&) {});
  EXPECT_TRUE(client.paused);
}

TEST(HeldInputTest, EofMeansTheClientLeft) {
  FakeClient client;
  std::optional<std::string> gone;
  HeldInput held(client, {}, [&](const std::string& why) { gone = why; });
  client.reader->on_stream_eof();
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, "closed by the client before the reply");
  EXPECT_EQ(client.reader, nullptr);
  EXPECT_TRUE(client.paused);
}

TEST(HeldInputTest, AnErrorMeansTheClientLeftAndSaysWhy) {
  FakeClient client;
  std::optional<std::string> gone;
  HeldInput held(client, {}, [&](const std::string& why) { gone = why; });
  client.reader->on_stream_error("connection reset by peer");
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, "client connection failed before the reply: connection reset by peer");
  EXPECT_EQ(client.reader, nullptr);
}

TEST(HeldInputTest, DestroyedWhileWatchingDetachesItsReader) {
  FakeClient client;
  {
    HeldInput held(client, {}, [](const std::string&) {});
    EXPECT_NE(client.reader, nullptr);
  }
  EXPECT_EQ(client.reader, nullptr);
}

}  // namespace
}  // namespace mx
