// SPDX-License-Identifier: Apache-2.0
// PolicyTable against an in-memory KernelMaps: random sequences of reloads
// (functions added, removed, changed), cgroups made and removed, injected
// map failures and children copying a parent's entry in the middle of a
// reload (cgroup_mkdir). After every map call and every step: no cgroup is
// unguarded (its slot written and still reserved, never rewritten in place)
// and, once swept, no function is guarded by two slots.
#include "daemon/policy_table.hpp"

#include <gtest/gtest.h>

#include <random>

#include "fakes/fake_kernel_maps.hpp"

namespace fnw {
namespace {

using testing::FakeKernelMaps;
using Clock = std::chrono::steady_clock;

FunctionPolicy policy_of(const std::string& function) {
    FunctionPolicy p;
    p.function = function;
    p.name = function;
    p.source = function + ".yaml";
    p.mode = Mode::Enforce;
    return p;
}

// A policy set as load_policy_set makes one: sorted, with fingerprints.
PolicySet set_of(const std::map<std::string, uint64_t>& fingerprints) {
    PolicySet set;
    for (const auto& [fn, print] : fingerprints) {
        set.policies.push_back(policy_of(fn));
        set.fingerprints[fn] = print;
    }
    set.version = std::to_string(fingerprints.size());
    return set;
}

class World {
public:
    explicit World(uint32_t seed) : rng_(seed), table_(maps_, Mode::Enforce, {}, PolicySlots(16, 1)) {
        maps_.around_call = [this](const std::string& call) {
            check_guarded("around " + call);
            if (in_reload_ && chance(3)) mkdir_copying_a_parent();
        };
    }

    void run(int steps) {
        for (int step = 0; step < steps && !::testing::Test::HasFailure(); ++step) {
            switch (pick(5)) {
            case 0: reload(); break;
            case 1: register_cgroup(); break;
            case 2: remove_cgroup(); break;
            default: sweep(); break;
            }
            check_guarded("after step " + std::to_string(step));
        }
        // Sweeps a grace period apart: every retired slot is freed.
        for (int i = 0; i < 3; ++i) {
            now_ += kSlotGrace + std::chrono::seconds(1);
            table_.sweep(now_);
        }
        EXPECT_EQ(table_.retired_count(), 0u);
    }

private:
    size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
    bool chance(size_t one_in) { return pick(one_in) == 0; }

    void reload() {
        auto next = fingerprints_;
        for (int i = 0; i < 6; ++i) {
            const std::string fn = "f" + std::to_string(i);
            switch (pick(4)) {
            case 0: next.erase(fn); break;
            case 1: next[fn] = next.count(fn) ? next[fn] + 1 : 1; break;  // added or changed
            default: break;
            }
        }
        if (chance(4)) maps_.fail_in["set_policy"] = 1 + static_cast<int>(pick(3));
        const auto slots_before = table_.function_slots();
        const PolicySet set = set_of(next);
        in_reload_ = true;
        auto applied = table_.apply(set, current_ ? &*current_ : nullptr, now_);
        in_reload_ = false;
        maps_.fail_in.clear();
        if (!applied) {
            // Refused: the set in force is untouched.
            EXPECT_EQ(table_.function_slots(), slots_before) << applied.error();
            return;
        }
        current_ = set;
        fingerprints_ = next;
        for (const auto& [fn, print] : next) EXPECT_TRUE(table_.slot_of(fn)) << fn;
        EXPECT_EQ(table_.function_slots().size(), next.size());
    }

    // A launcher registers a cgroup (or a selector finds one).
    void register_cgroup() {
        if (table_.function_slots().empty()) return;
        auto it = table_.function_slots().begin();
        std::advance(it, pick(table_.function_slots().size()));
        fnw_cgroup_entry entry{};
        entry.policy_id = it->second;
        static_cast<void>(maps_.monitor_cgroup(next_cgroup_++, entry));
    }

    // cgroup_rmdir: the kernel deletes the entry itself.
    void remove_cgroup() {
        if (maps_.cgroups.empty()) return;
        auto it = maps_.cgroups.begin();
        std::advance(it, pick(maps_.cgroups.size()));
        maps_.cgroups.erase(it);
    }

    // cgroup_mkdir in the kernel, concurrent with the daemon: the child
    // copies its parent's entry as it is at that instant.
    void mkdir_copying_a_parent() {
        if (maps_.cgroups.empty()) return;
        auto it = maps_.cgroups.begin();
        std::advance(it, pick(maps_.cgroups.size()));
        fnw_cgroup_entry child = it->second;
        child.flags |= FNW_CGROUP_INHERITED;
        maps_.cgroups[next_cgroup_++] = child;
    }

    void sweep() {
        now_ += std::chrono::milliseconds(pick(3000));
        table_.sweep(now_);
        // Swept: every cgroup is on its function's one current slot.
        for (const auto& [id, entry] : maps_.cgroups) {
            const SlotInfo* info = table_.info(entry.policy_id);
            ASSERT_NE(info, nullptr) << "cgroup " << id;
            EXPECT_EQ(table_.slot_of(info->function), entry.policy_id)
                << "cgroup " << id << " of " << info->function << " still on slot " << entry.policy_id;
        }
    }

    void check_guarded(const std::string& when) {
        for (const auto& [id, entry] : maps_.cgroups) {
            EXPECT_TRUE(maps_.ever_written.count(entry.policy_id))
                << when << ": cgroup " << id << " points at unwritten slot " << entry.policy_id;
            EXPECT_TRUE(table_.slot_reserved(entry.policy_id))
                << when << ": cgroup " << id << " points at freed slot " << entry.policy_id;
        }
        EXPECT_TRUE(maps_.rewrites_in_use.empty()) << when << ": " << maps_.rewrites_in_use.front();
        maps_.rewrites_in_use.clear();
    }

    std::mt19937 rng_;
    FakeKernelMaps maps_;
    PolicyTable table_;
    std::optional<PolicySet> current_;
    std::map<std::string, uint64_t> fingerprints_;
    Clock::time_point now_{};
    uint64_t next_cgroup_ = 100;
    bool in_reload_ = false;
};

TEST(PolicyTable, NoCgroupUnguardedOrDoubleGuardedAcrossRandomReloads) {
    for (uint32_t seed : {1u, 2u, 3u, 5u, 8u, 13u, 21u, 34u, 55u, 89u, 144u, 233u}) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        World world(seed);
        world.run(400);
        if (HasFailure()) break;
    }
}

TEST(PolicyTable, UnchangedPolicyKeepsItsSlotAndChangedOneMoves) {
    FakeKernelMaps maps;
    PolicyTable table(maps, Mode::Enforce);
    const auto t0 = Clock::time_point{};
    const PolicySet first = set_of({{"a", 1}, {"b", 1}});
    ASSERT_TRUE(table.apply(first, nullptr, t0));
    const uint32_t a = *table.slot_of("a"), b = *table.slot_of("b");
    fnw_cgroup_entry entry{};
    entry.policy_id = b;
    maps.cgroups[7] = entry;

    const PolicySet second = set_of({{"a", 1}, {"b", 2}});
    auto applied = table.apply(second, &first, t0);
    ASSERT_TRUE(applied);
    EXPECT_EQ(applied->changed, std::vector<std::string>{"b"});
    EXPECT_EQ(*table.slot_of("a"), a);
    EXPECT_NE(*table.slot_of("b"), b);
    EXPECT_EQ(maps.cgroups[7].policy_id, *table.slot_of("b"));
    // The old slot stays reserved for the grace period, then is freed.
    EXPECT_TRUE(table.slot_reserved(b));
    table.sweep(t0 + std::chrono::seconds(1));
    EXPECT_TRUE(table.slot_reserved(b));
    table.sweep(t0 + kSlotGrace + std::chrono::seconds(1));
    EXPECT_FALSE(table.slot_reserved(b));
}

TEST(PolicyTable, RemovedFunctionsCgroupsAreDroppedAndReported) {
    FakeKernelMaps maps;
    PolicyTable table(maps, Mode::Enforce);
    const PolicySet first = set_of({{"a", 1}, {"gone", 1}});
    ASSERT_TRUE(table.apply(first, nullptr, {}));
    fnw_cgroup_entry entry{};
    entry.policy_id = *table.slot_of("gone");
    maps.cgroups[9] = entry;
    auto applied = table.apply(set_of({{"a", 1}}), &first, {});
    ASSERT_TRUE(applied);
    EXPECT_EQ(applied->dropped, std::vector<uint64_t>{9});
    EXPECT_FALSE(maps.cgroups.count(9));
    EXPECT_FALSE(table.slot_of("gone"));
}

TEST(PolicyTable, AFailedWriteLeavesTheSetInForceAndFreesWhatItTook) {
    FakeKernelMaps maps;
    PolicyTable table(maps, Mode::Enforce, {}, PolicySlots(4, 1));
    const PolicySet first = set_of({{"a", 1}});
    ASSERT_TRUE(table.apply(first, nullptr, {}));
    const uint32_t a = *table.slot_of("a");
    maps.fail_in["set_policy"] = 2;
    auto applied = table.apply(set_of({{"a", 2}, {"b", 1}}), &first, {});
    ASSERT_FALSE(applied);
    EXPECT_EQ(applied.error(), "b: injected failure");
    EXPECT_EQ(*table.slot_of("a"), a);
    EXPECT_FALSE(table.slot_of("b"));
    // Both slots taken for the failed reload are free again: 3 usable, 1 in use.
    EXPECT_TRUE(table.apply(set_of({{"a", 2}, {"b", 1}}), &first, {}));
}

TEST(PolicyTable, SlotWriterFailureFailsTheReload) {
    FakeKernelMaps maps;
    PolicyTable table(maps, Mode::Audit,
                      [](uint32_t, const FunctionPolicy& p, Mode mode) -> Status {
                          EXPECT_EQ(mode, Mode::Audit);  // the daemon's ceiling
                          if (p.function == "bad") return fail("bad globs");
                          return {};
                      });
    auto applied = table.apply(set_of({{"bad", 1}}), nullptr, {});
    ASSERT_FALSE(applied);
    EXPECT_EQ(applied.error(), "bad: bad globs");
    EXPECT_EQ(maps.calls["set_policy"], 0);
}

TEST(PolicyTable, RunsOutOfSlots) {
    FakeKernelMaps maps;
    PolicyTable table(maps, Mode::Enforce, {}, PolicySlots(3, 1));
    auto applied = table.apply(set_of({{"a", 1}, {"b", 1}, {"c", 1}}), nullptr, {});
    ASSERT_FALSE(applied);
    EXPECT_NE(applied.error().find("no free policy slot"), std::string::npos);
}

// ---- adopting a pinned set (an earlier daemon's slots) -----------------------

fnw_cgroup_entry entry_for(uint32_t slot) {
    fnw_cgroup_entry entry{};
    entry.policy_id = slot;
    return entry;
}

TEST(PolicyTable, WrittenSlotsNameTheirFunctionForTheNextDaemon) {
    FakeKernelMaps maps;
    PolicyTable table(maps, Mode::Enforce);
    const PolicySet first = set_of({{"a", 1}});
    ASSERT_TRUE(table.apply(first, nullptr, {}));
    const uint32_t a = *table.slot_of("a");
    EXPECT_EQ(maps.owner_functions(), (std::map<uint32_t, std::string>{{a, "a"}}));
    EXPECT_EQ(maps.owners[a], (SlotOwner{"a", "a", Mode::Enforce}));
    ASSERT_TRUE(table.apply(set_of({{"a", 2}}), &first, {}));
    table.sweep(Clock::time_point{} + kSlotGrace + std::chrono::seconds(1));
    // The freed slot is nobody's: a later adopter must not take it for a's.
    EXPECT_EQ(maps.owner_functions(), (std::map<uint32_t, std::string>{{*table.slot_of("a"), "a"}}));
}

TEST(PolicyTable, AdoptedSlotsGuardUntilTheFirstApplyMovesTheirCgroups) {
    FakeKernelMaps maps;
    maps.cgroups = {{100, entry_for(5)}, {101, entry_for(5)}, {102, entry_for(7)}};
    maps.owners = {{5, SlotOwner{"f", "f-policy", Mode::Enforce}}, {7, SlotOwner{"g", "g-policy", Mode::Audit}}};
    maps.ever_written = {5, 7};
    PolicyTable table(maps, Mode::Enforce);
    EXPECT_EQ(table.adopt(maps.owners), 2u);
    // No valid rules yet (an invalid set at start): sweeps change nothing.
    EXPECT_TRUE(table.sweep(Clock::time_point{} + std::chrono::hours(1)).empty());
    EXPECT_EQ(maps.cgroups.size(), 3u);
    EXPECT_EQ(maps.cgroups[102].policy_id, 7u);

    auto applied = table.apply(set_of({{"f", 1}}), nullptr, {});
    ASSERT_TRUE(applied);
    const uint32_t f = *table.slot_of("f");
    EXPECT_NE(f, 5u);
    EXPECT_NE(f, 7u);  // adopted slots are never handed out while reserved
    EXPECT_EQ(maps.cgroups[100].policy_id, f);
    EXPECT_EQ(maps.cgroups[101].policy_id, f);
    // g is not in the rules any more: its cgroup goes as a removed function's.
    EXPECT_EQ(applied->dropped, std::vector<uint64_t>{102});
    EXPECT_FALSE(maps.cgroups.count(102));
    // Records already in the ring still name the adopted slots' function.
    ASSERT_NE(table.info(5), nullptr);
    EXPECT_EQ(table.info(5)->function, "f");
    EXPECT_EQ(table.info(5)->policy, "f-policy");
    EXPECT_EQ(table.info(5)->mode, Mode::Enforce);
}

TEST(PolicyTable, EveryAdoptedSlotOfAFunctionMovesToItsNewSlot) {
    FakeKernelMaps maps;
    // The earlier daemon died mid-reload: f's cgroups on two slots.
    maps.cgroups = {{100, entry_for(5)}, {101, entry_for(9)}, {102, entry_for(3)}};
    maps.owners = {{5, SlotOwner{"f", "p", Mode::Enforce}}, {9, SlotOwner{"f", "p", Mode::Enforce}}};  // 3: none recorded
    PolicyTable table(maps, Mode::Enforce);
    EXPECT_EQ(table.adopt(maps.owners), 3u);
    auto applied = table.apply(set_of({{"f", 1}}), nullptr, {});
    ASSERT_TRUE(applied);
    const uint32_t f = *table.slot_of("f");
    EXPECT_EQ(maps.cgroups[100].policy_id, f);
    EXPECT_EQ(maps.cgroups[101].policy_id, f);
    // Nothing says whose slot 3 is: dropped rather than guessed.
    EXPECT_EQ(applied->dropped, std::vector<uint64_t>{102});
    for (uint32_t old : {3u, 5u, 9u}) EXPECT_TRUE(table.slot_reserved(old)) << old;
    table.sweep(Clock::time_point{} + kSlotGrace + std::chrono::seconds(1));
    table.sweep(Clock::time_point{} + 2 * kSlotGrace + std::chrono::seconds(2));
    for (uint32_t old : {3u, 5u, 9u}) EXPECT_FALSE(table.slot_reserved(old)) << old;
    EXPECT_EQ(table.retired_count(), 0u);
}

}  // namespace
}  // namespace fnw
