#include "fleet/hiredis_link.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <cstdio>

#include "fleet_scripts.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {

std::string_view script_text(FleetScript script) {
  switch (script) {
    case FleetScript::Admit:
      return fleet_script::admit;
    case FleetScript::Renew:
      return fleet_script::renew;
    case FleetScript::Release:
      return fleet_script::release;
    case FleetScript::Heartbeat:
      return fleet_script::heartbeat;
    case FleetScript::AddBytes:
      return fleet_script::add_bytes;
  }
  return {};
}

// The SHA-1 Redis names a script by, computed here so EVALSHA needs no reply.
std::string sha1_hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  char byte[3];
  for (unsigned char c : digest) {
    std::snprintf(byte, sizeof byte, "%02x", c);
    hex += byte;
  }
  return hex;
}

void send_argv(redisAsyncContext* context, redisCallbackFn* callback, void* privdata,
               const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  redisAsyncCommandArgv(context, callback, privdata, static_cast<int>(args.size()), argv.data(),
                        lengths.data());
}

}  // namespace

HiredisLink::HiredisLink(Loop& loop, const FleetConfig& config)
    : loop_(loop), config_(config), reconnect_(loop) {
  for (size_t i = 0; i < shas_.size(); ++i) {
    shas_[i] = sha1_hex(script_text(static_cast<FleetScript>(i)));
  }
  connect();
}

HiredisLink::~HiredisLink() {
  destroying_ = true;
  if (context_ != nullptr) redisAsyncFree(context_);  // calls back with null replies: ignored
}

void HiredisLink::connect() {
  MX_ASSERT_IN_LOOP(loop_);
  redisAsyncContext* context =
      config_.redis.tcp
          ? redisAsyncConnect(config_.redis.tcp->ip_string().c_str(), config_.redis.tcp->port())
          : redisAsyncConnectUnix(config_.redis.unix_path.c_str());
  if (context == nullptr || context->err != 0) {
    if (context != nullptr) redisAsyncFree(context);
    reconnect_.start(config_.reconnect_interval, [this] { connect(); });
    return;
  }
  context->data = this;
  if (redisLibuvAttach(context, loop_.get()) != REDIS_OK) {
    redisAsyncFree(context);
    reconnect_.start(config_.reconnect_interval, [this] { connect(); });
    return;
  }
  redisAsyncSetConnectCallback(context, on_connect);
  redisAsyncSetDisconnectCallback(context, on_disconnect);
  context_ = context;
}

void HiredisLink::on_connect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<HiredisLink*>(context->data);
  if (status != REDIS_OK) {
    // hiredis frees the context after this returns.
    self->context_ = nullptr;
    self->reconnect_.start(self->config_.reconnect_interval, [self] { self->connect(); });
    return;
  }
  // Replies come in order: AUTH and the scripts are in place before any
  // EVALSHA sent after them.
  if (!self->config_.password.empty()) {
    send_argv(self->context_, on_ignored_reply, nullptr, {"AUTH", self->config_.password});
  }
  for (size_t i = 0; i < self->shas_.size(); ++i) {
    send_argv(self->context_, on_ignored_reply, nullptr,
              {"SCRIPT", "LOAD", std::string(script_text(static_cast<FleetScript>(i)))});
  }
  self->set_up(true);
}

void HiredisLink::on_disconnect(const redisAsyncContext* context, int) {
  auto* self = static_cast<HiredisLink*>(context->data);
  if (self->destroying_) return;
  // hiredis frees the context after this returns.
  self->context_ = nullptr;
  self->lost();
  self->reconnect_.start(self->config_.reconnect_interval, [self] { self->connect(); });
}

void HiredisLink::on_ignored_reply(redisAsyncContext* context, void* reply, void*) {
  auto* self = static_cast<HiredisLink*>(context->data);
  const auto* r = static_cast<redisReply*>(reply);
  if (self->destroying_ || r == nullptr || r->type != REDIS_REPLY_ERROR) return;
  self->log_error(std::string(r->str, r->len));
}

void HiredisLink::log_error(const std::string& error) {
  // Once per kind until a call succeeds: a wrong password fails every call.
  if (error == last_error_) return;
  last_error_ = error;
  MX_LOG(Warn, "fleet") << "redis: " << error;
}

bool HiredisLink::call(FleetScript script, std::vector<std::string> keys,
                       std::vector<std::string> argv, Done done) {
  MX_ASSERT_IN_LOOP(loop_);
  if (!connected()) return false;
  const uint64_t id = next_id_++;
  Pending& pending = pending_[id];
  pending.script = script;
  pending.keys = std::move(keys);
  pending.argv = std::move(argv);
  pending.done = std::move(done);
  pending.timeout = std::make_unique<Timer>(loop_);
  pending.timeout->start(config_.timeout, [this, id] {
    finish(id, RedisAnswer{RedisStatus::Timeout, {}});
  });
  send(id, pending);
  return true;
}

void HiredisLink::send(uint64_t id, Pending& pending) {
  std::vector<std::string> args;
  if (pending.retried) {
    args = {"EVAL", std::string(script_text(pending.script))};
  } else {
    args = {"EVALSHA", shas_[static_cast<size_t>(pending.script)]};
  }
  args.push_back(std::to_string(pending.keys.size()));
  args.insert(args.end(), pending.keys.begin(), pending.keys.end());
  args.insert(args.end(), pending.argv.begin(), pending.argv.end());
  send_argv(context_, on_reply, reinterpret_cast<void*>(static_cast<uintptr_t>(id)), args);
}

void HiredisLink::on_reply(redisAsyncContext* context, void* reply, void* privdata) {
  auto* self = static_cast<HiredisLink*>(context->data);
  if (self->destroying_) return;
  const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(privdata));
  auto it = self->pending_.find(id);
  if (it == self->pending_.end()) return;  // timed out already
  const auto* r = static_cast<redisReply*>(reply);
  RedisAnswer answer;
  if (r == nullptr) {
    answer.status = RedisStatus::Disconnected;
  } else if (r->type == REDIS_REPLY_ERROR) {
    const std::string_view error(r->str, r->len);
    if (error.starts_with("NOSCRIPT") && !it->second.retried && self->context_ != nullptr) {
      it->second.retried = true;
      self->send(id, it->second);
      return;
    }
    self->log_error(std::string(error));
    answer.status = RedisStatus::Error;
  } else if (r->type == REDIS_REPLY_INTEGER) {
    self->last_error_.clear();
    answer.status = RedisStatus::Ok;
    answer.integers.push_back(r->integer);
  } else if (r->type == REDIS_REPLY_ARRAY) {
    self->last_error_.clear();
    answer.status = RedisStatus::Ok;
    for (size_t i = 0; i < r->elements; ++i) answer.integers.push_back(r->element[i]->integer);
  } else {
    answer.status = RedisStatus::Error;
  }
  self->finish(id, std::move(answer));
}

void HiredisLink::finish(uint64_t id, RedisAnswer answer) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Done done = std::move(it->second.done);
  // The timer may be the caller: free it outside its own callback.
  loop_.destroy_later(std::move(it->second.timeout));
  pending_.erase(it);
  done(std::move(answer));
}

void HiredisLink::lost() {
  std::map<uint64_t, Pending> pending = std::move(pending_);
  pending_.clear();
  set_up(false);
  for (auto& [id, call] : pending) {
    loop_.destroy_later(std::move(call.timeout));
    call.done(RedisAnswer{RedisStatus::Disconnected, {}});
  }
}

void HiredisLink::set_up(bool up) {
  if (up_ == up) return;
  up_ = up;
  if (changed_) changed_(up);
}

}  // namespace mx
