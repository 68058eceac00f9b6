// MxLookup on a real Loop with real c-ares against FakeDnsServer: MX records
// in order of preference, a name without MX records (implicit MX), an
// unknown name, a silent server (timeout), and a lookup destroyed while
// under way. mx_result for the c-ares outcomes without a server.
#include "mxegress/loop/mx_lookup.h"

#include <ares.h>

#include "../server/loop_test_support.h"
#include "fake_dns_server.h"

namespace mx::loopback {
namespace {

using Status = MxResult::Status;
using testing::FakeDnsServer;

class MxLookupTest : public LoopTest {
 protected:
  MxLookupTest()
      : dns_({{"mx.good.test", {192, 0, 2, 10}}, {"nomx.good.test", {192, 0, 2, 11}}},
             ".silent.test",
             {{"good.test",
               {{20, "mx2.good.test"}, {10, "mx1.good.test"}, {20, "mx3.good.test"}}}}) {}

  void TearDown() override {
    lookup_.reset();
    expect_every_handle_closed();
  }

  MxResult lookup(const std::string& domain) {
    ResolverSettings settings;
    settings.servers = {dns_.address()};
    settings.timeout = 300ms;
    settings.tries = 1;
    std::optional<MxResult> result;
    lookup_ = std::make_unique<MxLookup>(loop_, settings, domain,
                                         [&](MxResult r) { result = std::move(r); });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    return result.value_or(MxResult{});
  }

  FakeDnsServer dns_;
  std::unique_ptr<MxLookup> lookup_;
};

TEST_F(MxLookupTest, HostsInOrderOfPreferenceTiesInAnswerOrder) {
  const MxResult r = lookup("good.test");
  ASSERT_EQ(r.status, Status::Ok) << r.error;
  EXPECT_EQ(r.hosts, (std::vector<MxHost>{
                         {10, "mx1.good.test"}, {20, "mx2.good.test"}, {20, "mx3.good.test"}}));
  EXPECT_EQ(dns_.queries("good.test"), 1);
}

TEST_F(MxLookupTest, ANameWithAnAddressButNoMxIsImplicitMx) {
  const MxResult r = lookup("nomx.good.test");
  EXPECT_EQ(r.status, Status::NoMx);
  EXPECT_TRUE(r.hosts.empty());
}

TEST_F(MxLookupTest, AnUnknownNameHasNoMx) {
  EXPECT_EQ(lookup("unknown.test").status, Status::NoMx);
}

TEST_F(MxLookupTest, ASilentServerTimesOut) {
  const auto began = std::chrono::steady_clock::now();
  const MxResult r = lookup("x.silent.test");
  EXPECT_EQ(r.status, Status::Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
}

TEST_F(MxLookupTest, DestroyedUnderWayNeverCallsBack) {
  ResolverSettings settings;
  settings.servers = {dns_.address()};
  settings.timeout = 300ms;
  bool called = false;
  lookup_ = std::make_unique<MxLookup>(loop_, settings, "x.silent.test",
                                       [&](MxResult) { called = true; });
  run_for(20ms);
  lookup_.reset();
  run_for(400ms);
  EXPECT_FALSE(called);
}

TEST(MxResult, SaysWhatEachCAresOutcomeMeans) {
  EXPECT_EQ(mx_result(ARES_ENOTFOUND, {}).status, Status::NoMx);
  EXPECT_EQ(mx_result(ARES_ENODATA, {}).status, Status::NoMx);
  EXPECT_EQ(mx_result(ARES_ETIMEOUT, {}).status, Status::Timeout);
  EXPECT_EQ(mx_result(ARES_ESERVFAIL, {}).status, Status::Failed);
  EXPECT_EQ(mx_result(ARES_EREFUSED, {}).status, Status::Failed);
  const uint8_t garbage[] = {1, 2, 3};
  const MxResult bad = mx_result(ARES_SUCCESS, ByteView(garbage, sizeof garbage));
  EXPECT_EQ(bad.status, Status::Failed);
  EXPECT_NE(bad.error.find("unreadable"), std::string::npos);
}

}  // namespace
}  // namespace mx::loopback
