// RedisLink over hiredis's asynchronous API on a libuv loop: connects (Unix
// socket or TCP), sends AUTH, loads the scripts (SCRIPT LOAD) and calls them
// with EVALSHA (EVAL on NOSCRIPT, which loads them again); times each call
// out itself (hiredis 0.14 has no per-call timeout) and reconnects every
// reconnect_interval while the connection is down.
#pragma once

#include <array>
#include <map>
#include <memory>

#include "fleet/redis_link.h"
#include "mxegress/config/fleet_config.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"

struct redisAsyncContext;

namespace mx {

class HiredisLink final : public RedisLink {
 public:
  HiredisLink(Loop& loop, const FleetConfig& config);
  ~HiredisLink() override;
  HiredisLink(const HiredisLink&) = delete;
  HiredisLink& operator=(const HiredisLink&) = delete;

  bool connected() const override { return context_ != nullptr && up_; }
  bool call(FleetScript script, std::vector<std::string> keys, std::vector<std::string> argv,
            Done done) override;
  void on_connection(std::function<void(bool up)> changed) override {
    changed_ = std::move(changed);
  }

 private:
  struct Pending {
    FleetScript script;
    std::vector<std::string> keys;
    std::vector<std::string> argv;
    Done done;
    std::unique_ptr<Timer> timeout;
    bool retried = false;  // EVAL after NOSCRIPT, once
  };

  void connect();
  void send(uint64_t id, Pending& pending);
  void finish(uint64_t id, RedisAnswer answer);
  void lost();
  void set_up(bool up);
  void log_error(const std::string& error);

  static void on_connect(const redisAsyncContext* context, int status);
  static void on_disconnect(const redisAsyncContext* context, int status);
  static void on_reply(redisAsyncContext* context, void* reply, void* privdata);
  static void on_ignored_reply(redisAsyncContext* context, void* reply, void* privdata);

  Loop& loop_;
  FleetConfig config_;
  std::array<std::string, 5> shas_;
  redisAsyncContext* context_ = nullptr;
  bool up_ = false;
  bool destroying_ = false;
  Timer reconnect_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 1;
  std::function<void(bool up)> changed_;
  std::string last_error_;  // logged already
};

}  // namespace mx
