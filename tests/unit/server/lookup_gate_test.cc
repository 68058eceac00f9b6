// The server's caps on lookups in flight: per tenant and in total, the
// refusal text that goes to the client's log line and the trail, the count
// for the metrics, a reload's new caps, and a slot given back when the
// lookup ends wherever that happens.
#include "lookup_gate.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(LookupGate, RefusesATenantAboveItsCapButNotTheOthers) {
  LookupGate gate({.total = 10, .per_tenant = 2});
  auto a1 = gate.admit("a", "x1.example");
  auto a2 = gate.admit("a", "x2.example");
  auto a3 = gate.admit("a", "x3.example");
  EXPECT_TRUE(a1.slot && a2.slot);
  EXPECT_FALSE(a3.slot);
  EXPECT_EQ(a3.refusal, "max_lookups_per_tenant 2 reached");
  auto b1 = gate.admit("b", "y.example");
  EXPECT_TRUE(b1.slot);
  EXPECT_EQ(b1.refusal, "");
  EXPECT_EQ(gate.limit().refused().per_key, 1u);
  EXPECT_EQ(gate.limit().in_flight("a"), 2u);
  a1.slot.release();
  EXPECT_TRUE(gate.admit("a", "x4.example").slot) << "a lookup that ended gave its place back";
}

TEST(LookupGate, RefusesEveryoneAboveTheTotal) {
  LookupGate gate({.total = 2, .per_tenant = 0});
  auto a = gate.admit("a", "x.example");
  auto b = gate.admit("b", "y.example");
  auto c = gate.admit("c", "z.example");
  EXPECT_FALSE(c.slot);
  EXPECT_EQ(c.refusal, "max_lookups 2 reached");
  EXPECT_EQ(gate.limit().refused().total, 1u);
}

TEST(LookupGate, AReloadAppliesNewCapsToNewLookups) {
  LookupGate gate({.total = 0, .per_tenant = 1});
  auto a1 = gate.admit("a", "x.example");
  EXPECT_FALSE(gate.admit("a", "x.example").slot);
  gate.set_caps({.total = 0, .per_tenant = 3});
  auto a2 = gate.admit("a", "x.example");
  auto a3 = gate.admit("a", "x.example");
  EXPECT_TRUE(a2.slot && a3.slot);
  gate.set_caps({.total = 0, .per_tenant = 1});
  EXPECT_FALSE(gate.admit("a", "x.example").slot) << "3 still in flight, above the new cap";
  EXPECT_EQ(gate.limit().in_flight("a"), 3u) << "lookups under way keep their slots";
}

TEST(LookupGate, DefaultsAre1024InAllAnd256PerTenant) {
  LookupGate gate;
  EXPECT_EQ(gate.limit().caps().total, 1024u);
  EXPECT_EQ(gate.limit().caps().per_key, 256u);
}

}  // namespace
}  // namespace mx
