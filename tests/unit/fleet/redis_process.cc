#include "redis_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace mx::test {

std::string RedisProcess::binary() {
  for (const char* path : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return {};
}

RedisProcess::RedisProcess(std::string password) : password_(std::move(password)) {
  if (binary().empty()) return;
  std::string pattern = (std::filesystem::temp_directory_path() / "mx-redis-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return;
  dir_ = pattern;
  socket_ = dir_ / "redis.sock";
  start();
}

bool RedisProcess::start() {
  const std::string program = binary();
  std::vector<std::string> args = {
      program, "--port",       "0",      "--unixsocket", socket_.string(), "--save",
      "",      "--appendonly", "no",     "--dir",        dir_.string(),    "--daemonize",
      "no",    "--loglevel",   "warning"};
  if (!password_.empty()) {
    args.push_back("--requirepass");
    args.push_back(password_);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    // Its start-up warnings (memory overcommit) are not the test's output.
    const int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) return false;
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (redisContext* context = connect()) {
      // Without the password a live Redis answers NOAUTH: up too.
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      const bool up = reply != nullptr &&
                      (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_ERROR);
      if (reply != nullptr) freeReplyObject(reply);
      redisFree(context);
      if (up) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  return false;
}

void RedisProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

RedisProcess::~RedisProcess() {
  kill();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

redisContext* RedisProcess::connect() const {
  redisContext* context = redisConnectUnix(socket_.c_str());
  if (context != nullptr && context->err != 0) {
    redisFree(context);
    return nullptr;
  }
  return context;
}

}  // namespace mx::test
