// The fleet's Lua scripts (proxy-server/fleet/*.lua) against a real
// redis-server: GCRA with a whole minute's burst, the leases of
// max_connections and max_per_destination with their expiry, renewal,
// release, the heartbeat's fleet size and the byte counter.
#include "fleet_scripts.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fleet/fleet_keys.h"
#include "redis_process.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

class FleetScripts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::RedisProcess::binary().empty()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/install-deps installs it)";
    }
    redis_ = std::make_unique<test::RedisProcess>();
    ASSERT_TRUE(redis_->running()) << "redis-server did not start";
    context_ = redis_->connect();
    ASSERT_NE(context_, nullptr);
    admit_ = load(fleet_script::admit);
    renew_ = load(fleet_script::renew);
    release_ = load(fleet_script::release);
    heartbeat_ = load(fleet_script::heartbeat);
    add_bytes_ = load(fleet_script::add_bytes);
  }
  void TearDown() override {
    if (context_ != nullptr) redisFree(context_);
  }

  redisReply* command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data()));
  }

  std::string load(std::string_view script) {
    redisReply* reply = command({"SCRIPT", "LOAD", std::string(script)});
    EXPECT_NE(reply, nullptr);
    if (reply == nullptr) return {};
    EXPECT_EQ(reply->type, REDIS_REPLY_STRING) << (reply->str ? reply->str : "");
    std::string sha(reply->str, reply->len);
    freeReplyObject(reply);
    return sha;
  }

  // EVALSHA with KEYS and ARGV; the reply's integers (one for an integer
  // reply, each element of an array).
  std::vector<long long> call(const std::string& sha, const std::vector<std::string>& keys,
                              const std::vector<std::string>& argv) {
    std::vector<std::string> args = {"EVALSHA", sha, std::to_string(keys.size())};
    args.insert(args.end(), keys.begin(), keys.end());
    args.insert(args.end(), argv.begin(), argv.end());
    redisReply* reply = command(args);
    std::vector<long long> values;
    if (reply == nullptr) {
      ADD_FAILURE() << "no reply";
      return values;
    }
    if (reply->type == REDIS_REPLY_INTEGER) values.push_back(reply->integer);
    if (reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < reply->elements; ++i) values.push_back(reply->element[i]->integer);
    }
    if (reply->type == REDIS_REPLY_ERROR) ADD_FAILURE() << reply->str;
    freeReplyObject(reply);
    return values;
  }

  struct Ask {
    std::string id;
    uint32_t per_minute = 0;
    uint32_t max_connections = 0;
    uint32_t max_per_destination = 0;
    std::string ip = "192.0.2.1";
    long long lease_ms = 30000;
    uint64_t bytes_per_day = 0;
  };
  std::vector<long long> admit(const Ask& ask) {
    return call(admit_,
                {keys_.rate("acme"), keys_.connections("acme"), keys_.destination("acme", ask.ip),
                 keys_.bytes("acme", 20000)},
                {ask.id, std::to_string(ask.lease_ms), std::to_string(ask.per_minute),
                 std::to_string(ask.max_connections), std::to_string(ask.max_per_destination),
                 std::to_string(ask.bytes_per_day)});
  }

  std::unique_ptr<test::RedisProcess> redis_;
  redisContext* context_ = nullptr;
  FleetKeys keys_{"mxtest:"};
  std::string admit_, renew_, release_, heartbeat_, add_bytes_;
};

const std::vector<long long> kAdmitted = {0, 0};
const std::vector<long long> kMaxConnections = {2, 0};
const std::vector<long long> kMaxPerDestination = {3, 0};

TEST_F(FleetScripts, GcraAdmitsAWholeMinutesBurstThenOnePerInterval) {
  // 60 a minute: one a second, and 60 at once.
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(admit({.id = "s" + std::to_string(i), .per_minute = 60}), kAdmitted) << i;
  }
  auto refused = admit({.id = "late", .per_minute = 60});
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0], 1);
  // The next arrival is due one interval after the burst began, less the
  // time the burst took.
  EXPECT_GT(refused[1], 0);
  EXPECT_LE(refused[1], 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(refused[1] + 5));
  EXPECT_EQ(admit({.id = "next", .per_minute = 60}), kAdmitted);
  auto again = admit({.id = "next2", .per_minute = 60});
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0], 1);
  EXPECT_GT(again[1], 500);  // a whole interval less this test's own delays
  EXPECT_LE(again[1], 1000);
}

TEST_F(FleetScripts, GcraOfOneAMinuteRefusesForTheRestOfTheMinute) {
  EXPECT_EQ(admit({.id = "a", .per_minute = 1}), kAdmitted);
  auto refused = admit({.id = "b", .per_minute = 1});
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0], 1);
  EXPECT_GT(refused[1], 59000);
  EXPECT_LE(refused[1], 60000);
}

TEST_F(FleetScripts, MaxConnectionsLeasesCountLiveSessionsAndReleaseFreesOne) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(admit({.id = "s" + std::to_string(i), .max_connections = 3}), kAdmitted);
  }
  EXPECT_EQ(admit({.id = "s3", .max_connections = 3}), kMaxConnections);
  EXPECT_EQ(
      call(release_, {keys_.connections("acme"), keys_.destination("acme", "192.0.2.1")}, {"s1"}),
      std::vector<long long>{1});
  EXPECT_EQ(admit({.id = "s3", .max_connections = 3}), kAdmitted);
  EXPECT_EQ(admit({.id = "s4", .max_connections = 3}), kMaxConnections);
}

TEST_F(FleetScripts, LeasesLapseUnlessRenewed) {
  EXPECT_EQ(admit({.id = "kept", .max_connections = 2, .lease_ms = 300}), kAdmitted);
  EXPECT_EQ(admit({.id = "lost", .max_connections = 2, .lease_ms = 300}), kAdmitted);
  EXPECT_EQ(admit({.id = "x", .max_connections = 2, .lease_ms = 300}), kMaxConnections);
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(call(renew_, {keys_.connections("acme")}, {"300", "kept"}), std::vector<long long>{1});
  std::this_thread::sleep_for(200ms);  // "lost" lapsed, "kept" has 100 ms left
  EXPECT_EQ(admit({.id = "x", .max_connections = 2, .lease_ms = 300}), kAdmitted);
  EXPECT_EQ(admit({.id = "y", .max_connections = 2, .lease_ms = 300}), kMaxConnections);
}

TEST_F(FleetScripts, MaxPerDestinationCountsEachDestinationApart) {
  EXPECT_EQ(admit({.id = "a", .max_per_destination = 1, .ip = "192.0.2.1"}), kAdmitted);
  EXPECT_EQ(admit({.id = "b", .max_per_destination = 1, .ip = "192.0.2.1"}), kMaxPerDestination);
  EXPECT_EQ(admit({.id = "b", .max_per_destination = 1, .ip = "192.0.2.2"}), kAdmitted);
}

TEST_F(FleetScripts, ARefusalTakesNothing) {
  // Refused for its destination: no connection lease, no rate slot.
  EXPECT_EQ(admit({.id = "a", .per_minute = 2, .max_connections = 5, .max_per_destination = 1}),
            kAdmitted);
  EXPECT_EQ(admit({.id = "b", .per_minute = 2, .max_connections = 5, .max_per_destination = 1}),
            kMaxPerDestination);
  EXPECT_EQ(admit({.id = "c",
                   .per_minute = 2,
                   .max_connections = 5,
                   .max_per_destination = 1,
                   .ip = "192.0.2.9"}),
            kAdmitted);
  auto rate = admit({.id = "d",
                     .per_minute = 2,
                     .max_connections = 5,
                     .max_per_destination = 1,
                     .ip = "192.0.2.8"});
  ASSERT_EQ(rate.size(), 2u);
  EXPECT_EQ(rate[0], 1);
  redisReply* count = command({"ZCARD", keys_.connections("acme")});
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->integer, 2);
  freeReplyObject(count);
}

TEST_F(FleetScripts, HeartbeatCountsTheLiveServers) {
  EXPECT_EQ(call(heartbeat_, {keys_.servers()}, {"a", "300"}), std::vector<long long>{1});
  EXPECT_EQ(call(heartbeat_, {keys_.servers()}, {"b", "300"}), std::vector<long long>{2});
  EXPECT_EQ(call(heartbeat_, {keys_.servers()}, {"a", "300"}), std::vector<long long>{2});
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(call(heartbeat_, {keys_.servers()}, {"c", "300"}), std::vector<long long>{3});
  std::this_thread::sleep_for(200ms);  // a and b are gone
  EXPECT_EQ(call(heartbeat_, {keys_.servers()}, {"c", "300"}), std::vector<long long>{1});
}

TEST_F(FleetScripts, BytesAddUpAcrossServersPerDay) {
  EXPECT_EQ(call(add_bytes_, {keys_.bytes("acme", 20000)}, {"100"}), std::vector<long long>{100});
  EXPECT_EQ(call(add_bytes_, {keys_.bytes("acme", 20000)}, {"50"}), std::vector<long long>{150});
  EXPECT_EQ(call(add_bytes_, {keys_.bytes("acme", 20001)}, {"7"}), std::vector<long long>{7});
  redisReply* ttl = command({"TTL", keys_.bytes("acme", 20000)});
  ASSERT_NE(ttl, nullptr);
  EXPECT_GT(ttl->integer, 172700);
  freeReplyObject(ttl);
}

TEST_F(FleetScripts, TheFleetsBytesOfTodayRefuseOnceTheyReachTheLimit) {
  EXPECT_EQ(admit({.id = "a", .bytes_per_day = 1000}), kAdmitted);  // nothing counted yet
  call(add_bytes_, {keys_.bytes("acme", 20000)}, {"999"});
  EXPECT_EQ(admit({.id = "b", .bytes_per_day = 1000}), kAdmitted);
  call(add_bytes_, {keys_.bytes("acme", 20000)}, {"1"});
  EXPECT_EQ(admit({.id = "c", .bytes_per_day = 1000}), (std::vector<long long>{4, 0}));
  EXPECT_EQ(admit({.id = "c", .bytes_per_day = 1001}), kAdmitted);
}

}  // namespace
}  // namespace mx
