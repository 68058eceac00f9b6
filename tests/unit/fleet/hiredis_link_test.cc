// HiredisLink against a real redis-server on the loop: it connects and
// calls the scripts, loads them again after SCRIPT FLUSH (NOSCRIPT), times
// a call out while Redis is paused, and reports a dead Redis at once.
#include "fleet/hiredis_link.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "fleet/fleet_keys.h"
#include "redis_process.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

class HiredisLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::RedisProcess::binary().empty()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/install-deps installs it)";
    }
    redis_ = std::make_unique<test::RedisProcess>();
    ASSERT_TRUE(redis_->running());
    config_.redis.unix_path = redis_->socket().string();
    config_.timeout = 200ms;
    config_.reconnect_interval = 50ms;
  }
  void TearDown() override {
    link_.reset();
    loop_.run_deferred();
  }

  // Runs the loop until `done` or 3 s.
  void run_until(const std::function<bool()>& done) {
    Timer poll(loop_);
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    std::function<void()> check = [&] {
      if (done() || std::chrono::steady_clock::now() > deadline) {
        loop_.stop();
      } else {
        poll.start(5ms, check);
      }
    };
    poll.start(0ms, check);
    loop_.run();
  }

  std::optional<RedisAnswer> heartbeat() {
    std::optional<RedisAnswer> answer;
    EXPECT_TRUE(link_->call(FleetScript::Heartbeat, {"t:servers"}, {"me", "1000"},
                            [&](RedisAnswer a) { answer = std::move(a); }));
    run_until([&] { return answer.has_value(); });
    return answer;
  }

  void sync_command(const char* command) {
    redisContext* context = redis_->connect();
    ASSERT_NE(context, nullptr);
    freeReplyObject(redisCommand(context, command));
    redisFree(context);
  }

  Loop loop_;
  FleetConfig config_;
  std::unique_ptr<test::RedisProcess> redis_;
  std::unique_ptr<HiredisLink> link_;
};

TEST_F(HiredisLinkTest, ConnectsAndCallsAScript) {
  link_ = std::make_unique<HiredisLink>(loop_, config_);
  bool up = false;
  link_->on_connection([&](bool value) { up = value; });
  run_until([&] { return up; });
  ASSERT_TRUE(link_->connected());
  auto answer = heartbeat();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, RedisStatus::Ok);
  EXPECT_EQ(answer->integers, std::vector<int64_t>{1});
}

TEST_F(HiredisLinkTest, AFlushedScriptIsLoadedAgain) {
  link_ = std::make_unique<HiredisLink>(loop_, config_);
  run_until([&] { return link_->connected(); });
  ASSERT_TRUE(heartbeat());
  sync_command("SCRIPT FLUSH");
  auto answer = heartbeat();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, RedisStatus::Ok);
}

TEST_F(HiredisLinkTest, APausedRedisTimesTheCallOut) {
  link_ = std::make_unique<HiredisLink>(loop_, config_);
  run_until([&] { return link_->connected(); });
  ASSERT_TRUE(heartbeat());
  sync_command("CLIENT PAUSE 1000 ALL");
  const auto start = std::chrono::steady_clock::now();
  auto answer = heartbeat();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, RedisStatus::Timeout);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 900ms);
  EXPECT_TRUE(link_->connected());  // the connection itself is kept
}

TEST_F(HiredisLinkTest, ADeadRedisIsReportedAtOnceAndAReturningOneReconnected) {
  link_ = std::make_unique<HiredisLink>(loop_, config_);
  std::vector<bool> changes;
  link_->on_connection([&](bool up) { changes.push_back(up); });
  run_until([&] { return link_->connected(); });
  std::optional<RedisAnswer> pending;
  sync_command("CLIENT PAUSE 300 ALL");
  link_->call(FleetScript::Heartbeat, {"t:servers"}, {"me", "1000"},
              [&](RedisAnswer a) { pending = std::move(a); });
  redis_->kill();
  run_until([&] { return pending.has_value(); });
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->status, RedisStatus::Disconnected);
  EXPECT_FALSE(link_->connected());
  EXPECT_FALSE(link_->call(FleetScript::Heartbeat, {"k"}, {"me", "1"}, [](RedisAnswer) {}));
  // Back on the same socket: found again within the reconnect interval
  // (50 ms here), scripts loaded again.
  ASSERT_TRUE(redis_->start());
  run_until([&] { return link_->connected(); });
  EXPECT_EQ(changes, (std::vector<bool>{true, false, true}));
  auto answer = heartbeat();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, RedisStatus::Ok);
}

TEST_F(HiredisLinkTest, APasswordIsSentAndAWrongOneFailsEveryCall) {
  redis_ = std::make_unique<test::RedisProcess>("s3cret");
  ASSERT_TRUE(redis_->running());
  config_.redis.unix_path = redis_->socket().string();
  config_.password = "s3cret";
  link_ = std::make_unique<HiredisLink>(loop_, config_);
  run_until([&] { return link_->connected(); });
  auto answer = heartbeat();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, RedisStatus::Ok);
  link_.reset();
  loop_.run_deferred();
  config_.password = "wrong";
  link_ = std::make_unique<HiredisLink>(loop_, config_);
  run_until([&] { return link_->connected(); });
  answer = heartbeat();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, RedisStatus::Error);
}

}  // namespace
}  // namespace mx
