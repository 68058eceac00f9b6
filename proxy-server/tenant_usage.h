// What each tenant is using right now, for its limits: concurrent
// connections, connections per minute (token bucket), concurrent
// connections per destination IP, bytes per UTC day, how busy each of its
// source addresses is, and the warm-up buckets of its new source
// addresses. Keyed by tenant name and kept across reloads, so a SIGHUP
// neither resets a limit nor forgets live connections.
//
// Callers pass the time in, so tests drive the clock. Thread-safe: the
// server's loop threads share one registry, so a limit holds for the tenant
// as a whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mxegress/config/server_config.h"
#include "mxegress/net/socket_address.h"
#include "tenant_metrics.h"
#include "token_bucket.h"

namespace mx {

using WallTime = std::chrono::system_clock::time_point;

// What a check says of one source address when a source is picked.
enum class SourceVerdict : uint8_t {
  Use,
  Avoid,  // picked only when no address of the family is Use
  Skip,   // never picked
};
// Asked about each source address of the family; an empty one says Use.
using SourceCheck = std::function<SourceVerdict(const SocketAddress&)>;

class TenantUsage {
 public:
  // Connection-level limits; on success counts the connection as active.
  // Otherwise returns why, naming the limit ("max_connections 10 reached").
  std::optional<std::string> admit(const ServerConfig::Limits& limits, SteadyTime now,
                                   WallTime wall);
  void release();

  std::optional<std::string> admit_destination(const ServerConfig::Limits& limits,
                                               const std::string& ip);
  void release_destination(const std::string& ip);

  // The source address for a connection of `family`, or nullopt when the
  // tenant has sources but none of that family that `check` does not Skip.
  // `selection` chooses among the Use addresses (else among the Avoid ones).
  // An empty `sources` means the kernel picks: the result is an unspecified
  // address (family 0), and `check` is not asked. `check` is called without
  // the lock held, so it may ask this TenantUsage (warm-up tokens).
  std::optional<SocketAddress> pick_source(const std::vector<SocketAddress>& sources,
                                           ServerConfig::SourceSelection selection, int family,
                                           const SourceCheck& check = {});
  void release_source(const SocketAddress& source);

  // The warm-up bucket of `source` (docs/reputation.md): whether a session
  // may leave from it now at `per_hour`, and the token of one that does.
  // Not one step: two threads may both see the last token, and the bucket
  // then owes one, so the hour's count still holds over time.
  bool warmup_token_left(const SocketAddress& source, uint32_t per_hour, SteadyTime now);
  void take_warmup_token(const SocketAddress& source, uint32_t per_hour, SteadyTime now);

  void add_bytes(uint64_t bytes, WallTime wall);
  uint64_t bytes_today(WallTime wall) const;
  uint32_t active() const;

  // The tenant's counters for /metrics: atomics, outside the mutex.
  TenantMetrics& metrics() { return metrics_; }
  const TenantMetrics& metrics() const { return metrics_; }

 private:
  void roll_day(WallTime wall);
  TokenBucket& warmup_bucket(const SocketAddress& source);
  uint64_t bytes_today_locked(WallTime wall) const;

  mutable std::mutex mutex_;
  uint32_t active_ = 0;
  TokenBucket bucket_{std::chrono::minutes(1)};
  std::map<std::string, TokenBucket> warmup_buckets_;  // by source IP
  std::map<std::string, uint32_t> per_destination_;
  std::map<std::string, uint32_t> per_source_;
  size_t round_robin_v4_ = 0;  // one rotation per family, so interleaved
  size_t round_robin_v6_ = 0;  // IPv4 and IPv6 connections do not skew each other
  uint64_t bytes_ = 0;
  int64_t day_ = -1;
  TenantMetrics metrics_;
};

// Holds what one connection counts against its tenant and gives it back when
// destroyed.
class UsageLease {
 public:
  explicit UsageLease(std::shared_ptr<TenantUsage> usage) : usage_(std::move(usage)) {}
  ~UsageLease();
  UsageLease(const UsageLease&) = delete;
  UsageLease& operator=(const UsageLease&) = delete;

  TenantUsage& usage() { return *usage_; }
  void hold_destination(std::string ip) { destination_ = std::move(ip); }
  void hold_source(SocketAddress source) { source_ = source; }
  // Run when the lease ends, after the local slots are given back: the
  // fleet's leases of the connection (FleetClient::release).
  void on_release(std::function<void()> release) { on_release_ = std::move(release); }

 private:
  std::shared_ptr<TenantUsage> usage_;
  std::optional<std::string> destination_;
  std::optional<SocketAddress> source_;
  std::function<void()> on_release_;
};

// Every tenant's usage, by name.
class UsageRegistry {
 public:
  std::shared_ptr<TenantUsage> for_tenant(const std::string& name);
  // Every tenant seen since start (or named in a configuration), by name.
  // Entries are never removed, so a TenantUsage outlives whoever holds it.
  void for_each(const std::function<void(const std::string&, const TenantUsage&)>& visit) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<TenantUsage>> usage_;
};

}  // namespace mx
