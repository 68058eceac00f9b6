// A real redis-server for tests, on a Unix socket in a private temporary
// directory, without persistence; stopped and removed when destroyed.
#pragma once

#include <hiredis/hiredis.h>

#include <filesystem>
#include <string>

namespace mx::test {

class RedisProcess {
 public:
  // Empty when redis-server is not installed (tests then skip).
  static std::string binary();

  // Starts it (with `password`: requirepass) and waits until it answers PING.
  explicit RedisProcess(std::string password = {});
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  bool running() const { return pid_ > 0; }
  // SIGKILL, as a crash; start() again on the same socket.
  void kill();
  bool start();
  const std::filesystem::path& socket() const { return socket_; }
  // A new synchronous connection (the caller frees it).
  redisContext* connect() const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path socket_;
  std::string password_;
  int pid_ = -1;
};

}  // namespace mx::test
