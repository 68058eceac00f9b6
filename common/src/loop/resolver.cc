#include "mxegress/loop/resolver.h"

#include <netdb.h>

namespace mx {

struct Resolution::Request {
  uv_getaddrinfo_t req{};
  Resolution* owner;  // nulled when the Resolution goes away first
  Callback done;
};

Resolution::Resolution(Loop& loop, const std::string& host, uint16_t port, Callback done)
    : request_(nullptr), immediate_(loop) {
  // An IP literal needs no resolver (and AI_ADDRCONFIG could even refuse
  // 127.0.0.1 on a host whose only IPv4 address is loopback).
  if (auto literal = SocketAddress::parse_ip(host, port)) {
    immediate_.schedule([done = std::move(done), address = *literal] { done(0, {address}); });
    return;
  }
  request_ = new Request{{}, this, std::move(done)};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  const std::string service = std::to_string(port);
  const int rc = uv_getaddrinfo(
      loop.get(), &request_->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
        auto* request = reinterpret_cast<Request*>(req);
        std::vector<SocketAddress> addresses;
        for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
          if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            addresses.push_back(SocketAddress::from_sockaddr(ai->ai_addr));
          }
        }
        uv_freeaddrinfo(result);
        Resolution* owner = request->owner;
        Callback done = std::move(request->done);
        delete request;
        if (owner == nullptr || status == UV_ECANCELED) return;
        owner->request_ = nullptr;
        done(status, std::move(addresses));
      },
      host.c_str(), service.c_str(), &hints);
  if (rc != 0) {
    // Report the failure from the loop, as a real answer would arrive.
    Callback cb = std::move(request_->done);
    delete request_;
    request_ = nullptr;
    immediate_.schedule([cb, rc] { cb(rc, {}); });
  }
}

Resolution::~Resolution() {
  if (request_ == nullptr) return;
  // Still pending: the callback will free the request and see no owner.
  request_->owner = nullptr;
  request_->done = nullptr;
  uv_cancel(reinterpret_cast<uv_req_t*>(&request_->req));
}

}  // namespace mx
