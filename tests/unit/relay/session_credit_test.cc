// Tier (a): the flow-control arithmetic of a multiplexed session.
#include "mxegress/relay/session_credit.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(SendCreditTest, StartsWithTheWindowAndSpendsIt) {
  SendCredit credit(1000);
  EXPECT_EQ(credit.available(), 1000u);
  credit.consume(600);
  EXPECT_EQ(credit.available(), 400u);
  credit.consume(400);
  EXPECT_EQ(credit.available(), 0u);
  EXPECT_TRUE(credit.add(250));
  EXPECT_EQ(credit.available(), 250u);
}

TEST(SendCreditTest, CreditBeyondWhatAnyWindowAllowsIsAProtocolError) {
  SendCredit credit(UINT32_MAX - 10);
  EXPECT_TRUE(credit.add(10));
  EXPECT_FALSE(credit.add(1));
  EXPECT_EQ(credit.available(), size_t{UINT32_MAX});
}

TEST(ReceiveCreditTest, ReturnsCreditOnceHalfTheWindowWasConsumed) {
  ReceiveCredit credit(1000);
  EXPECT_TRUE(credit.on_received(300));
  EXPECT_EQ(credit.take_returnable(), 0u);
  EXPECT_TRUE(credit.on_received(200));
  EXPECT_EQ(credit.take_returnable(), 500u);
  EXPECT_EQ(credit.take_returnable(), 0u) << "returned once";
}

TEST(ReceiveCreditTest, NothingGoesBackWhilePausedAndEverythingOnResume) {
  ReceiveCredit credit(1000);
  credit.pause();
  EXPECT_TRUE(credit.on_received(900));
  EXPECT_EQ(credit.take_returnable(), 0u);
  EXPECT_EQ(credit.take_returnable(true), 0u);
  credit.resume();
  EXPECT_EQ(credit.take_returnable(true), 900u);
  EXPECT_TRUE(credit.on_received(1));
  EXPECT_EQ(credit.take_returnable(true), 1u) << "on resume even a small amount goes back";
}

TEST(ReceiveCreditTest, DataBeyondTheWindowIsAProtocolError) {
  ReceiveCredit credit(1000);
  EXPECT_TRUE(credit.on_received(1000));
  EXPECT_FALSE(credit.on_received(1));
}

TEST(ReceiveCreditTest, ReturnedCreditMayBeSpentAgain) {
  ReceiveCredit receiver(1000);
  SendCredit sender(1000);
  // A sender and a receiver in lockstep never disagree about the window.
  for (int round = 0; round < 100; ++round) {
    const size_t n = sender.available() < 300 ? sender.available() : 300;
    sender.consume(n);
    ASSERT_TRUE(receiver.on_received(n));
    if (const uint32_t back = receiver.take_returnable()) {
      ASSERT_TRUE(sender.add(back));
    }
    ASSERT_GT(sender.available(), 0u) << "round " << round;
  }
}

}  // namespace
}  // namespace mx
