// A DNS server on 127.0.0.1 for the resolver's tests, in a thread of its
// own: A queries for the names it was given get their address, AAAA queries
// for them an empty answer (NODATA), other names NXDOMAIN, and names under
// `silent` nothing at all. MX queries for the names of `mx` get their MX
// records (preference, host). It counts the queries it saw per name.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mxegress/net/socket_address.h"

namespace mx::testing {

class FakeDnsServer {
 public:
  using MxRecords = std::vector<std::pair<uint16_t, std::string>>;
  FakeDnsServer(std::map<std::string, std::array<uint8_t, 4>> names, std::string silent,
                std::map<std::string, MxRecords> mx = {})
      : names_(std::move(names)), silent_(std::move(silent)), mx_(std::move(mx)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeDnsServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  SocketAddress address() const { return *SocketAddress::parse_ip("127.0.0.1", port_); }
  int queries(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(name);
    return it == seen_.end() ? 0 : it->second;
  }
  int total_queries() const {
    std::lock_guard lock(mutex_);
    int total = 0;
    for (const auto& [name, count] : seen_) total += count;
    return total;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      uint8_t query[512];
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 17) continue;
      std::vector<uint8_t> answer = respond(query, static_cast<size_t>(n));
      if (!answer.empty()) {
        ::sendto(fd_, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from),
                 from_len);
      }
    }
  }

  // The answer to one query, or nothing for a silent name or garbage.
  std::vector<uint8_t> respond(const uint8_t* query, size_t size) {
    std::string name;
    size_t at = 12;
    while (at < size && query[at] != 0) {
      const size_t length = query[at];
      if (at + 1 + length >= size) return {};
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(query + at + 1), length);
      at += 1 + length;
    }
    if (at + 5 > size) return {};
    const uint16_t type = static_cast<uint16_t>(query[at + 1] << 8 | query[at + 2]);
    const size_t question_end = at + 5;
    {
      std::lock_guard lock(mutex_);
      ++seen_[name];
    }
    if (name.size() >= silent_.size() &&
        name.compare(name.size() - silent_.size(), silent_.size(), silent_) == 0) {
      return {};
    }
    std::vector<uint8_t> out(query, query + question_end);
    auto known = names_.find(name);
    auto mx = mx_.find(name);
    out[2] = 0x81;  // QR, RD
    out[3] = known == names_.end() && mx == mx_.end() ? 0x83 : 0x80;  // RA, NXDOMAIN or NOERROR
    out[6] = out[7] = out[8] = out[9] = out[10] = out[11] = 0;
    if (mx != mx_.end() && type == 15) {
      out[7] = static_cast<uint8_t>(mx->second.size());
      for (const auto& [preference, host] : mx->second) {
        std::vector<uint8_t> rdata = {static_cast<uint8_t>(preference >> 8),
                                      static_cast<uint8_t>(preference & 0xff)};
        size_t start = 0;
        while (start < host.size()) {
          const size_t dot = std::min(host.find('.', start), host.size());
          rdata.push_back(static_cast<uint8_t>(dot - start));
          rdata.insert(rdata.end(), host.begin() + static_cast<ptrdiff_t>(start),
                       host.begin() + static_cast<ptrdiff_t>(dot));
          start = dot + 1;
        }
        rdata.push_back(0);
        const uint8_t record[] = {0xC0, 0x0C, 0, 15, 0, 1, 0, 0, 0, 60,
                                  0, static_cast<uint8_t>(rdata.size())};
        out.insert(out.end(), std::begin(record), std::end(record));
        out.insert(out.end(), rdata.begin(), rdata.end());
      }
    }
    if (known != names_.end() && type == 1) {
      out[7] = 1;  // one answer
      const uint8_t record[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
      out.insert(out.end(), std::begin(record), std::end(record));
      out.insert(out.end(), known->second.begin(), known->second.end());
    }
    return out;
  }

  std::map<std::string, std::array<uint8_t, 4>> names_;
  std::string silent_;
  std::map<std::string, MxRecords> mx_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::map<std::string, int> seen_;
  std::thread thread_;
};

}  // namespace mx::testing
