// A RedisLink that records each call for the test to answer (the I/O
// boundary of the fleet's logic in unit tests).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fleet/redis_link.h"

namespace mx::test {

struct RedisCall {
  FleetScript script;
  std::vector<std::string> keys;
  std::vector<std::string> argv;
  RedisLink::Done done;
};

class FakeRedisLink final : public RedisLink {
 public:
  explicit FakeRedisLink(std::vector<RedisCall>& calls) : calls_(calls) {}
  bool connected() const override { return up; }
  bool call(FleetScript script, std::vector<std::string> keys, std::vector<std::string> argv,
            Done done) override {
    if (!up) return false;
    calls_.push_back(RedisCall{script, std::move(keys), std::move(argv), std::move(done)});
    return true;
  }
  void on_connection(std::function<void(bool up)> changed) override { changed_ = changed; }
  // Connects or disconnects, telling the owner.
  void set_up(bool value) {
    up = value;
    if (changed_) changed_(value);
  }
  bool up = true;

 private:
  std::vector<RedisCall>& calls_;
  std::function<void(bool)> changed_;
};

inline RedisAnswer redis_ok(std::vector<int64_t> integers) {
  return RedisAnswer{RedisStatus::Ok, std::move(integers)};
}

}  // namespace mx::test
