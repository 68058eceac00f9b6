#include "server_choice.h"

#include <algorithm>

namespace mx {
namespace {
bool excluded(std::span<const size_t> exclude, size_t index) {
  return std::find(exclude.begin(), exclude.end(), index) != exclude.end();
}
}  // namespace

bool server_usable(const ServerStatus& server, std::chrono::steady_clock::time_point now) {
  return server.up || now >= server.retry_at;
}

std::optional<uint32_t> best_priority(std::span<const ServerStatus> servers,
                                      std::chrono::steady_clock::time_point now,
                                      std::span<const size_t> exclude) {
  std::optional<uint32_t> best;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (excluded(exclude, i) || !server_usable(servers[i], now)) continue;
    if (!best || servers[i].priority < *best) best = servers[i].priority;
  }
  return best;
}

std::optional<size_t> choose_server(std::span<const ServerStatus> servers,
                                    std::chrono::steady_clock::time_point now, bool need_ready,
                                    std::span<const size_t> exclude, uint64_t random) {
  const std::optional<uint32_t> best = best_priority(servers, now, exclude);
  if (!best) return std::nullopt;
  std::vector<size_t> group;
  uint64_t total = 0;
  for (size_t i = 0; i < servers.size(); ++i) {
    const ServerStatus& s = servers[i];
    if (excluded(exclude, i) || !server_usable(s, now) || s.priority != *best) continue;
    if (need_ready && !s.ready) continue;
    group.push_back(i);
    total += s.weight;
  }
  if (group.empty() || total == 0) return std::nullopt;
  uint64_t pick = random % total;
  for (size_t i : group) {
    if (pick < servers[i].weight) return i;
    pick -= servers[i].weight;
  }
  return group.back();
}

}  // namespace mx
