// TenantUsage::pick_source with a per-address check (Use, Avoid, Skip),
// under both selections.
#include <gtest/gtest.h>

#include <map>

#include "tenant_usage.h"

namespace mx {
namespace {

using SourceSelection = ServerConfig::SourceSelection;

SocketAddress ip(std::string_view text) { return *SocketAddress::parse_ip(text, 0); }

const std::vector<SocketAddress> kSources = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"),
                                             ip("2001:db8::1")};

// A check answering from a table (Use when not listed), counting its calls.
struct TableCheck {
  std::map<std::string, SourceVerdict> verdicts;
  int calls = 0;
  SourceCheck check() {
    return [this](const SocketAddress& source) {
      ++calls;
      auto it = verdicts.find(source.ip_string());
      return it == verdicts.end() ? SourceVerdict::Use : it->second;
    };
  }
};

std::vector<std::string> pick_n(TenantUsage& usage, SourceSelection selection,
                                const SourceCheck& check, int n, bool release = true) {
  std::vector<std::string> picked;
  for (int i = 0; i < n; ++i) {
    auto source = usage.pick_source(kSources, selection, AF_INET, check);
    if (!source) {
      picked.push_back("none");
      continue;
    }
    picked.push_back(source->ip_string());
    if (release) usage.release_source(*source);
  }
  return picked;
}

TEST(PickSourceCheck, RoundRobinAmongTheUseAddresses) {
  TenantUsage usage;
  TableCheck table{{{"192.0.2.2", SourceVerdict::Skip}}};
  EXPECT_EQ(pick_n(usage, SourceSelection::RoundRobin, table.check(), 4),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.3", "192.0.2.1", "192.0.2.3"}));
  // Only addresses of the family are asked.
  EXPECT_EQ(table.calls, 12);
}

TEST(PickSourceCheck, AvoidIsPickedOnlyWhenNothingIsUse) {
  TenantUsage usage;
  TableCheck table{{{"192.0.2.1", SourceVerdict::Avoid}, {"192.0.2.2", SourceVerdict::Skip}}};
  EXPECT_EQ(pick_n(usage, SourceSelection::RoundRobin, table.check(), 3),
            (std::vector<std::string>{"192.0.2.3", "192.0.2.3", "192.0.2.3"}));
  table.verdicts["192.0.2.3"] = SourceVerdict::Skip;
  EXPECT_EQ(pick_n(usage, SourceSelection::RoundRobin, table.check(), 2),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.1"}));
  table.verdicts["192.0.2.3"] = SourceVerdict::Avoid;  // two Avoid: round-robin among them
  EXPECT_EQ(pick_n(usage, SourceSelection::RoundRobin, table.check(), 2),
            (std::vector<std::string>{"192.0.2.3", "192.0.2.1"}));
}

TEST(PickSourceCheck, EverythingSkippedIsNone) {
  TenantUsage usage;
  TableCheck table{{{"192.0.2.1", SourceVerdict::Skip},
                    {"192.0.2.2", SourceVerdict::Skip},
                    {"192.0.2.3", SourceVerdict::Skip}}};
  for (auto selection : {SourceSelection::RoundRobin, SourceSelection::LeastUsed}) {
    EXPECT_EQ(usage.pick_source(kSources, selection, AF_INET, table.check()), std::nullopt);
  }
  // The other family is unaffected.
  EXPECT_EQ(usage.pick_source(kSources, SourceSelection::RoundRobin, AF_INET6, table.check()),
            ip("2001:db8::1"));
}

TEST(PickSourceCheck, LeastUsedAmongTheUseAddresses) {
  TenantUsage usage;
  // 192.0.2.1 busy twice, 192.0.2.2 once, 192.0.2.3 not at all.
  usage.pick_source({ip("192.0.2.1")}, SourceSelection::LeastUsed, AF_INET);
  usage.pick_source({ip("192.0.2.1")}, SourceSelection::LeastUsed, AF_INET);
  usage.pick_source({ip("192.0.2.2")}, SourceSelection::LeastUsed, AF_INET);
  TableCheck table{{{"192.0.2.3", SourceVerdict::Skip}}};
  EXPECT_EQ(pick_n(usage, SourceSelection::LeastUsed, table.check(), 1),
            std::vector<std::string>{"192.0.2.2"});
  // The least used is Avoid: a busier Use one is taken.
  table.verdicts = {{"192.0.2.2", SourceVerdict::Avoid}, {"192.0.2.3", SourceVerdict::Avoid}};
  EXPECT_EQ(pick_n(usage, SourceSelection::LeastUsed, table.check(), 1),
            std::vector<std::string>{"192.0.2.1"});
  // Nothing Use: the least used of the Avoid ones.
  table.verdicts["192.0.2.1"] = SourceVerdict::Avoid;
  EXPECT_EQ(pick_n(usage, SourceSelection::LeastUsed, table.check(), 1),
            std::vector<std::string>{"192.0.2.3"});
  table.verdicts["192.0.2.3"] = SourceVerdict::Skip;
  EXPECT_EQ(pick_n(usage, SourceSelection::LeastUsed, table.check(), 1),
            std::vector<std::string>{"192.0.2.2"});
}

TEST(PickSourceCheck, AnEmptyCheckUsesEverything) {
  TenantUsage usage;
  EXPECT_EQ(pick_n(usage, SourceSelection::RoundRobin, SourceCheck{}, 4),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.1"}));
}

TEST(PickSourceCheck, NoSourcesLetsTheKernelPickWithoutAsking) {
  TenantUsage usage;
  TableCheck table;
  auto source = usage.pick_source({}, SourceSelection::RoundRobin, AF_INET, table.check());
  ASSERT_TRUE(source);
  EXPECT_EQ(source->family(), 0);
  EXPECT_EQ(table.calls, 0);
}

}  // namespace
}  // namespace mx
