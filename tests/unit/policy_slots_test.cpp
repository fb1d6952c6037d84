// SPDX-License-Identifier: Apache-2.0
#include "daemon/policy_slots.hpp"

#include <gtest/gtest.h>

namespace fnw {
namespace {

TEST(PolicySlotsTest, NeverHandsOutSlotZero) {
    PolicySlots slots(4);
    std::vector<uint32_t> got;
    while (auto s = slots.acquire()) got.push_back(*s);
    EXPECT_EQ(got, (std::vector<uint32_t>{1, 2, 3}));
}

TEST(PolicySlotsTest, ReusesTheSlotReleasedLongestAgo) {
    // A retired slot may still be named by records in the ring buffer: it
    // should be the last one to get a new meaning.
    PolicySlots slots(5);
    auto a = slots.acquire(), b = slots.acquire(), c = slots.acquire(), d = slots.acquire();
    ASSERT_TRUE(a && b && c && d);
    EXPECT_FALSE(slots.acquire());
    slots.release(*b);
    slots.release(*a);
    EXPECT_EQ(slots.acquire(), b);
    EXPECT_EQ(slots.acquire(), a);
}

TEST(PolicySlotsTest, DoubleReleaseDoesNotDuplicateASlot) {
    PolicySlots slots(3);
    auto a = slots.acquire();
    ASSERT_TRUE(a);
    slots.release(*a);
    slots.release(*a);
    EXPECT_EQ(slots.free_count(), 2u);
    EXPECT_FALSE(slots.in_use(*a));
    auto x = slots.acquire(), y = slots.acquire();
    ASSERT_TRUE(x && y);
    EXPECT_NE(*x, *y);
    EXPECT_FALSE(slots.acquire());
}

}  // namespace
}  // namespace fnw
