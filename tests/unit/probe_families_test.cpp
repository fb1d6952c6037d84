// SPDX-License-Identifier: Apache-2.0
// The probe family table covers the skeleton: every program exactly once,
// each LSM program on the hook its section names, each stand-in for a hook
// the table has. No kernel: the skeleton is opened (parsed), never loaded.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/syscall_table.hpp"
#include "probes/probe_families.hpp"

namespace fnw {
namespace {

// Where in the skeleton's progs struct each table entry points.
std::map<size_t, int> table_entries_by_slot() {
    SkeletonPrograms progs{};
    const auto* base = reinterpret_cast<const char*>(&progs);
    std::map<size_t, int> seen;
    for (const auto& family : probe_families())
        for (const auto& program : family.programs)
            ++seen[static_cast<size_t>(reinterpret_cast<const char*>(&(progs.*program.member)) - base) /
                   sizeof(bpf_program*)];
    return seen;
}

TEST(ProbeFamilies, EverySkeletonProgramIsInExactlyOneFamily) {
    const size_t slots = sizeof(SkeletonPrograms) / sizeof(bpf_program*);
    const auto seen = table_entries_by_slot();
    for (size_t slot = 0; slot < slots; ++slot) {
        auto it = seen.find(slot);
        EXPECT_TRUE(it != seen.end() && it->second == 1)
            << "skeleton program #" << slot << " is in " << (it == seen.end() ? 0 : it->second)
            << " families (bpf/ added or duplicated a program: give it one entry in probe_families.cpp)";
    }
    EXPECT_EQ(seen.size(), slots);
}

using Skeleton = std::unique_ptr<fnwarden_bpf, decltype(&fnwarden_bpf__destroy)>;

Skeleton open_skeleton() { return Skeleton(fnwarden_bpf__open(), fnwarden_bpf__destroy); }

TEST(ProbeFamilies, SkeletonProgramCountMatchesTheTable) {
    Skeleton skel = open_skeleton();
    ASSERT_TRUE(skel) << "the embedded BPF object does not parse";
    size_t in_table = 0;
    for (const auto& family : probe_families()) in_table += family.programs.size();
    EXPECT_EQ(static_cast<size_t>(skel->skeleton->prog_cnt), in_table);
}

TEST(ProbeFamilies, LsmProgramsSitOnTheHookTheTableNames) {
    Skeleton skel = open_skeleton();
    ASSERT_TRUE(skel);
    for (const auto& family : probe_families()) {
        for (const auto& program : family.programs) {
            const std::string section = bpf_program__section_name(program_of(skel.get(), program));
            if (program.lsm_hook) {
                EXPECT_EQ(section, std::string("lsm/") + program.lsm_hook) << family.name;
                EXPECT_EQ(family.attach, AttachPolicy::WithSkeleton) << family.name;
            } else {
                EXPECT_NE(section.rfind("lsm/", 0), 0u) << section << " has no hook in the table";
            }
        }
    }
}

// No per-syscall tracepoint: attaching one puts every syscall of every task
// on the perf syscall callbacks (docs/performance.md, "Bystanders"). The
// syscall handlers sit on the raw hooks their dispatcher is on (a tail call
// stays on one hook), at syscalls this architecture has.
TEST(ProbeFamilies, SyscallHandlersAreDispatchedFromTheRawHooks) {
    Skeleton skel = open_skeleton();
    ASSERT_TRUE(skel);
    const auto section_of = [&](const ProbeProgram& program) {
        return std::string(bpf_program__section_name(program_of(skel.get(), program)));
    };
    for (const auto& family : probe_families()) {
        for (const auto& program : family.programs) {
            EXPECT_NE(section_of(program).rfind("tracepoint/syscalls/", 0), 0u) << family.name;
            if (family.attach != AttachPolicy::Dispatched) continue;
            EXPECT_TRUE(section_of(program) == "tp_btf/sys_enter" || section_of(program) == "tp_btf/sys_exit")
                << family.name << ": " << section_of(program);
            if (family.family == ProbeFamily::LandlockReporting) {
                EXPECT_EQ(program.syscalls, nullptr);  // its own slot
                continue;
            }
            ASSERT_NE(program.syscalls, nullptr) << family.name;
            if (std::string(program.syscalls) == "*") continue;
            std::string names = program.syscalls;
            for (size_t start = 0; start <= names.size();) {
                const size_t end = std::min(names.find(' ', start), names.size());
                const std::string name = names.substr(start, end - start);
                EXPECT_TRUE(SyscallTable::number(name).has_value()) << family.name << ": " << name;
                start = end + 1;
            }
        }
    }
    EXPECT_EQ(section_of(probe_family(ProbeFamily::Syscalls).programs[0]), "tp_btf/sys_enter");
    EXPECT_EQ(section_of(probe_family(ProbeFamily::SyscallExitDispatch).programs[0]), "tp_btf/sys_exit");
    EXPECT_EQ(section_of(probe_family(ProbeFamily::LandlockReporting).programs[0]), "tp_btf/sys_exit");
    for (const auto& program : probe_family(ProbeFamily::NetCgroup).programs)
        EXPECT_EQ(section_of(program).rfind("cgroup/", 0), 0u);
}

TEST(ProbeFamilies, StandInsReplaceHooksTheTableHas) {
    std::set<std::string> hooks;
    for (const auto& family : probe_families())
        for (const auto& program : family.programs)
            if (program.lsm_hook) hooks.insert(program.lsm_hook);
    for (const auto& program : probe_family(ProbeFamily::ProcessSyscalls).programs) {
        ASSERT_NE(program.stands_in_for, nullptr);
        EXPECT_TRUE(hooks.count(program.stands_in_for)) << program.stands_in_for;
    }
}

TEST(ProbeFamilies, FindProgramNamesItsFamily) {
    Skeleton skel = open_skeleton();
    ASSERT_TRUE(skel);
    auto place = find_program(skel.get(), skel->progs.fnw_proc_enter_mmap);
    ASSERT_NE(place.family, nullptr);
    EXPECT_EQ(place.family->family, ProbeFamily::ProcessSyscalls);
    EXPECT_STREQ(place.program->stands_in_for, "mmap_file");
    place = find_program(skel.get(), skel->progs.fnw_lsm_bpf_kernel);
    ASSERT_NE(place.family, nullptr);
    EXPECT_EQ(place.program->arity, 4u);
    EXPECT_EQ(find_program(skel.get(), nullptr).family, nullptr);
}

}  // namespace
}  // namespace fnw
