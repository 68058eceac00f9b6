// Name resolution off the loop thread (uv_getaddrinfo runs in libuv's thread
// pool). Destroying the Resolution cancels it: its callback never runs after.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/net/socket_address.h"

namespace mx {

class Resolution {
 public:
  // status: 0, or a libuv error (UV_EAI_NONAME for a name that does not exist).
  using Callback = std::function<void(int status, std::vector<SocketAddress> addresses)>;

  Resolution(Loop& loop, const std::string& host, uint16_t port, Callback done);
  ~Resolution();
  Resolution(const Resolution&) = delete;
  Resolution& operator=(const Resolution&) = delete;

 private:
  struct Request;
  Request* request_;
  DeferredCall immediate_;  // an answer known at once still arrives from the loop
};

}  // namespace mx
