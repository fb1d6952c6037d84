// SPDX-License-Identifier: Apache-2.0
// Registrations against an in-memory kernel map: who may let go of what,
// and what a launcher's disconnect and the loop's drain do.
#include "daemon/registrations.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_kernel_maps.hpp"

namespace fnw {
namespace {

using testing::FakeKernelMaps;

Registration launched_by(ClientId client, const std::string& function, bool trace = false) {
    Registration reg;
    reg.function = function;
    reg.client = client;
    reg.trace = trace;
    return reg;  // no path: nothing for the daemon to empty or remove
}

class Launchers : public ::testing::Test {
protected:
    void guard(uint64_t cgroup_id, Registration reg) {
        maps_.cgroups[cgroup_id] = fnw_cgroup_entry{};
        registrations_.add(cgroup_id, std::move(reg));
    }
    FakeKernelMaps maps_;
    Registrations registrations_{maps_, "/sys/fs/cgroup"};
};

TEST_F(Launchers, OnlyTheRegisteringClientMayUnregister) {
    guard(7, launched_by(1, "alpha", /*trace=*/true));
    EXPECT_FALSE(registrations_.unregister(2, 7));
    EXPECT_FALSE(registrations_.find(7)->released);
    EXPECT_TRUE(registrations_.unregister(1, 7));
    EXPECT_TRUE(registrations_.find(7)->released);
    EXPECT_FALSE(registrations_.find(7)->launcher_gone);
    EXPECT_FALSE(registrations_.find(7)->trace);  // --trace ended with the launcher's hold
    EXPECT_FALSE(registrations_.unregister(1, 99));
}

TEST_F(Launchers, ADisconnectReleasesEveryCgroupOfThatClientOnly) {
    guard(7, launched_by(1, "alpha"));
    guard(8, launched_by(1, "beta"));
    guard(9, launched_by(2, "gamma"));
    EXPECT_EQ(registrations_.count_of(1), 2u);
    EXPECT_TRUE(registrations_.release_client(1));
    EXPECT_TRUE(registrations_.find(7)->launcher_gone);
    EXPECT_TRUE(registrations_.find(8)->launcher_gone);
    EXPECT_FALSE(registrations_.find(9)->released);
    EXPECT_FALSE(registrations_.release_client(3));
    // Released cgroups stay guarded in the kernel until they are gone.
    EXPECT_TRUE(maps_.cgroups.count(7));
}

TEST_F(Launchers, DrainForgetsReleasedCgroupsOnceTheKernelEntryIsGone) {
    guard(7, launched_by(1, "alpha"));
    guard(8, launched_by(1, "beta"));
    guard(9, launched_by(2, "gamma"));
    registrations_.release_client(1);
    maps_.cgroups.erase(7);  // cgroup_rmdir
    registrations_.drain_released(std::chrono::steady_clock::now());
    EXPECT_EQ(registrations_.find(7), nullptr);
    ASSERT_NE(registrations_.find(8), nullptr);  // still populated, still guarded
    EXPECT_TRUE(maps_.cgroups.count(8));
    ASSERT_NE(registrations_.find(9), nullptr);  // never released
    DaemonCounters counters;
    registrations_.add_status_counters(counters);
    EXPECT_EQ(counters.launcher_cgroups_emptied, 0u);
    EXPECT_EQ(counters.launcher_cgroups_removed, 0u);
}

// A pinned set adopted at start: which entries a restarted launcher may
// resume, by the function whose slot each pointed at.
TEST_F(Launchers, AdoptionRemembersEachWrittenEntrysFunction) {
    fnw_cgroup_entry alpha{}, beta{}, inherited{}, unowned{};
    alpha.policy_id = 1;
    beta.policy_id = 2;
    inherited.policy_id = 1;
    inherited.flags = FNW_CGROUP_INHERITED;  // copied by cgroup_mkdir: no launcher wrote it
    unowned.policy_id = 9;                   // a slot with no owner recorded
    const std::map<uint32_t, std::string> owners{{1, "alpha"}, {2, "beta"}};
    registrations_.adopt({{7, alpha}, {8, beta}, {9, inherited}, {10, unowned}}, [&](uint32_t slot) {
        auto it = owners.find(slot);
        return it == owners.end() ? std::string() : it->second;
    });
    ASSERT_TRUE(registrations_.adopted_function(7));
    EXPECT_EQ(*registrations_.adopted_function(7), "alpha");
    ASSERT_TRUE(registrations_.adopted_function(8));
    EXPECT_EQ(*registrations_.adopted_function(8), "beta");
    EXPECT_FALSE(registrations_.adopted_function(9));
    EXPECT_FALSE(registrations_.adopted_function(10));
    EXPECT_FALSE(registrations_.adopted_function(11));
    // Registered (resumed): no longer waiting to be.
    guard(7, launched_by(1, "alpha"));
    EXPECT_FALSE(registrations_.adopted_function(7));
    EXPECT_TRUE(registrations_.adopted_function(8));
}

}  // namespace
}  // namespace fnw
