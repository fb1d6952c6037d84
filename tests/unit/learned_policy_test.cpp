// SPDX-License-Identifier: Apache-2.0
#include "core/learned_policy.hpp"

#include <sys/syscall.h>

#include <algorithm>

#include <gtest/gtest.h>

#include <fnwarden/kernel_abi.h>

#include "core/policy_parser.hpp"
#include "core/policy_writer.hpp"

namespace fnw {
namespace {

using Strings = std::vector<std::string>;

FunctionPolicy identity() {
    FunctionPolicy p;
    p.name = "learned";
    p.function = "fn";
    return p;
}

bool has(const Strings& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

TEST(LearnedPolicy, ReadsOfSystemFilesStayExactHoweverMany) {
    LearnedAccesses seen;
    for (int i = 0; i < 40; ++i) seen.add_file("/usr/lib/x86_64-linux-gnu/lib" + std::to_string(i) + ".so", FNW_FILE_READ);
    for (int i = 0; i < 12; ++i) seen.add_file("/etc/conf" + std::to_string(i), FNW_FILE_READ);
    const FunctionPolicy p = policy_from_learned(seen, identity());
    EXPECT_EQ(p.files.read.size(), 52u);
    EXPECT_TRUE(std::none_of(p.files.read.begin(), p.files.read.end(),
                             [](const std::string& s) { return s.find('*') != std::string::npos; }));
    EXPECT_TRUE(p.files.restricted && p.exec.restricted && p.network.restricted && p.process.restricted);
    EXPECT_TRUE(p.files.write.empty() && p.files.create.empty() && p.files.remove.empty());
}

TEST(LearnedPolicy, ReadOnlyCodeOutsideTempStaysExact) {
    // node_modules: many files read, nothing written there: exact paths.
    LearnedAccesses seen;
    for (int i = 0; i < 30; ++i) seen.add_file("/srv/fn/node_modules/m" + std::to_string(i) + ".js", FNW_FILE_READ);
    const FunctionPolicy p = policy_from_learned(seen, identity());
    EXPECT_EQ(p.files.read.size(), 30u);
}

TEST(LearnedPolicy, CreatedOrDeletedInADirectoryGivesItsSubtree) {
    LearnedAccesses seen;
    seen.add_file("/srv/data/out/result-1234.json", FNW_FILE_CREATE | FNW_FILE_WRITE);
    seen.add_file("/srv/data/out/result-1234.json", FNW_FILE_READ);
    seen.add_file("/srv/data/spool/job", FNW_FILE_DELETE);
    seen.add_file("/srv/data/config.yaml", FNW_FILE_READ);
    const FunctionPolicy p = policy_from_learned(seen, identity());
    EXPECT_EQ(p.files.create, Strings{"/srv/data/out/**"});
    EXPECT_EQ(p.files.write, Strings{"/srv/data/out/**"});
    EXPECT_EQ(p.files.remove, Strings{"/srv/data/spool/**"});
    EXPECT_TRUE(has(p.files.read, "/srv/data/out/**"));
    EXPECT_TRUE(has(p.files.read, "/srv/data/config.yaml"));  // its parent is not owned
}

TEST(LearnedPolicy, ManyEntriesOfAWrittenOrTempDirectoryGeneralise) {
    LearnedAccesses few, many;
    for (size_t i = 0; i + 1 < kManyEntries; ++i) few.add_file("/tmp/work/f" + std::to_string(i), FNW_FILE_READ);
    for (size_t i = 0; i < kManyEntries; ++i) many.add_file("/tmp/work/f" + std::to_string(i), FNW_FILE_READ);
    EXPECT_EQ(policy_from_learned(few, identity()).files.read.size(), kManyEntries - 1);
    EXPECT_EQ(policy_from_learned(many, identity()).files.read, Strings{"/tmp/work/**"});

    LearnedAccesses written;  // an existing directory it writes into
    for (size_t i = 0; i < kManyEntries; ++i)
        written.add_file("/srv/cache/e" + std::to_string(i), i == 0 ? FNW_FILE_WRITE : FNW_FILE_READ);
    const FunctionPolicy p = policy_from_learned(written, identity());
    EXPECT_EQ(p.files.read, Strings{"/srv/cache/**"});
    EXPECT_EQ(p.files.write, Strings{"/srv/cache/**"});
}

// A temp work dir holding a spool the function fills (forced to spool/**)
// and one data file: the spool's many files are not entries of the work
// dir, which stays exact (a file beside them, never read, stays refused).
TEST(LearnedPolicy, EntriesUnderACreatedInDirectoryDoNotCountForItsParent) {
    LearnedAccesses seen;
    for (int i = 0; i < 20; ++i) seen.add_file("/tmp/job/spool/req-" + std::to_string(i), FNW_FILE_CREATE | FNW_FILE_WRITE);
    seen.add_file("/tmp/job/data/greeting.txt", FNW_FILE_READ);
    const FunctionPolicy p = policy_from_learned(seen, identity());
    EXPECT_EQ(p.files.read, Strings{"/tmp/job/data/greeting.txt"});
    EXPECT_EQ(p.files.create, Strings{"/tmp/job/spool/**"});
}

TEST(LearnedPolicy, ManyIsCountedInEntriesOfTheDirectoryNotFilesBeneath) {
    LearnedAccesses seen;  // 20 files, but in one subdirectory of /tmp/job
    for (int i = 0; i < 20; ++i) seen.add_file("/tmp/job/cache/f" + std::to_string(i), FNW_FILE_READ);
    EXPECT_EQ(policy_from_learned(seen, identity()).files.read, Strings{"/tmp/job/cache/**"});
}

TEST(LearnedPolicy, TempRootsThemselvesNeedACreateThere) {
    LearnedAccesses seen;
    for (size_t i = 0; i < 2 * kManyEntries; ++i) seen.add_file("/tmp/f" + std::to_string(i), FNW_FILE_READ);
    EXPECT_EQ(policy_from_learned(seen, identity()).files.read.size(), 2 * kManyEntries);
    seen.add_file("/tmp/new", FNW_FILE_CREATE);
    EXPECT_EQ(policy_from_learned(seen, identity()).files.read, Strings{"/tmp/**"});
}

TEST(LearnedPolicy, ProcPidsBecomeWildcards) {
    EXPECT_EQ(stable_path("/proc/4242/task/4243/stat"), "/proc/*/task/*/stat");
    EXPECT_EQ(stable_path("/proc/meminfo"), "/proc/meminfo");
    EXPECT_EQ(stable_path("/srv/4242"), "/srv/4242");
    LearnedAccesses seen;
    seen.add_file("/proc/100/maps", FNW_FILE_READ);
    seen.add_file("/proc/200/maps", FNW_FILE_READ);
    EXPECT_EQ(policy_from_learned(seen, identity()).files.read, Strings{"/proc/*/maps"});
}

TEST(LearnedPolicy, ExecAddsReadAndRelativeNamesAreIgnored) {
    LearnedAccesses seen;
    seen.add_file("/usr/bin/python3.11", FNW_FILE_EXEC);
    seen.add_file("relative/name", FNW_FILE_READ);
    const FunctionPolicy p = policy_from_learned(seen, identity());
    EXPECT_EQ(p.exec.allow, Strings{"/usr/bin/python3.11"});
    EXPECT_EQ(p.files.read, Strings{"/usr/bin/python3.11"});
}

LearnedPeer peer(uint8_t last, uint16_t port, uint8_t protocol = 6) {
    LearnedPeer p;
    p.address[10] = p.address[11] = 0xff;
    p.address[12] = 127;
    p.address[15] = last;
    p.port = port;
    p.protocol = protocol;
    return p;
}

TEST(LearnedPolicy, NetworkPeersPortsAndSockets) {
    LearnedAccesses seen;
    seen.egress = {peer(1, 9001), peer(1, 443), peer(1, 53, 17), peer(2, 80)};
    seen.listen = {{8080, 6}};
    seen.unix_sockets = {"/run/fn.sock", "@abstract"};
    const FunctionPolicy p = policy_from_learned(seen, identity());
    ASSERT_EQ(p.network.egress.size(), 3u);  // 127.0.0.1 tcp, 127.0.0.1 udp, 127.0.0.2 tcp
    EXPECT_EQ(format_network(p.network.egress[0].network), "127.0.0.1/32");
    EXPECT_EQ(p.network.egress[0].ports, (std::vector<uint16_t>{443, 9001}));
    ASSERT_EQ(p.network.listen.size(), 1u);
    EXPECT_EQ(p.network.listen[0].port, 8080);
    EXPECT_EQ(p.network.unix_sockets, (Strings{"/run/fn.sock", "@abstract"}));
    EXPECT_EQ(p.network.on_violation, ViolationAction::Deny);
}

TEST(LearnedPolicy, RendersToAPolicyTheParserReadsBack) {
    LearnedAccesses seen;
    seen.syscalls.set(SYS_read);
    seen.add_file("/etc/hosts", FNW_FILE_READ);
    seen.add_file("/tmp/w/out", FNW_FILE_CREATE | FNW_FILE_WRITE);
    seen.add_file("/usr/bin/python3.11", FNW_FILE_EXEC);
    seen.egress = {peer(1, 9001)};
    seen.listen = {{8080, 6}};
    seen.unix_sockets = {"/run/fn.sock"};
    seen.process.exec_memory = true;
    const FunctionPolicy p = policy_from_learned(seen, identity());
    auto back = parse_policy(render_policy_yaml(p), "learned.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string() << "\n" << render_policy_yaml(p);
    EXPECT_EQ(back.policy->files.read, p.files.read);
    EXPECT_EQ(back.policy->files.create, Strings{"/tmp/w/**"});
    EXPECT_EQ(back.policy->exec.allow, p.exec.allow);
    EXPECT_EQ(back.policy->network.unix_sockets, p.network.unix_sockets);
    EXPECT_EQ(back.policy->network.listen.size(), 1u);
    EXPECT_TRUE(back.policy->process.exec_memory);
    EXPECT_EQ(back.policy->syscalls.allow, p.syscalls.allow);
}

TEST(LearnedPolicy, MergeUnitesEverySectionAndKeepsUnrestrictedOnes) {
    LearnedAccesses first, second;
    first.syscalls.set(SYS_read);
    first.add_file("/etc/hosts", FNW_FILE_READ);
    first.egress = {peer(1, 443)};
    second.syscalls.set(SYS_write);
    second.add_file("/etc/resolv.conf", FNW_FILE_READ);
    second.add_file("/usr/bin/dash", FNW_FILE_EXEC);
    second.egress = {peer(1, 80), peer(1, 443)};
    second.listen = {{8080, 6}};
    second.unix_sockets = {"/run/a.sock"};
    second.process.ptrace = true;
    const FunctionPolicy base = policy_from_learned(first, identity());
    const FunctionPolicy merged = merge_policies(base, policy_from_learned(second, identity()));
    EXPECT_TRUE(merged.syscalls.allow.test(SYS_read) && merged.syscalls.allow.test(SYS_write));
    EXPECT_TRUE(has(merged.files.read, "/etc/hosts") && has(merged.files.read, "/etc/resolv.conf"));
    EXPECT_EQ(merged.exec.allow, Strings{"/usr/bin/dash"});
    ASSERT_EQ(merged.network.egress.size(), 1u);
    EXPECT_EQ(merged.network.egress[0].ports, (std::vector<uint16_t>{80, 443}));
    EXPECT_EQ(merged.network.listen.size(), 1u);
    EXPECT_EQ(merged.network.unix_sockets, Strings{"/run/a.sock"});
    EXPECT_TRUE(merged.process.ptrace);

    FunctionPolicy open = identity();  // no sections at all: nothing restricted
    open.syscalls.allow.set();
    const FunctionPolicy still_open = merge_policies(open, policy_from_learned(second, identity()));
    EXPECT_TRUE(still_open.syscalls.allow.all());
    EXPECT_FALSE(still_open.files.restricted || still_open.exec.restricted || still_open.network.restricted ||
                 still_open.process.restricted);
}

TEST(LearnedPolicy, SummaryHasALinePerSection) {
    LearnedAccesses seen;
    for (size_t i = 0; i < kManyEntries; ++i) seen.add_file("/tmp/w/f" + std::to_string(i), FNW_FILE_READ);
    seen.listen = {{8080, 6}};
    const auto lines = learned_summary(policy_from_learned(seen, identity()));
    const auto find = [&](const std::string& prefix) {
        return std::find_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
    };
    ASSERT_NE(find("files.read: 1 entry, 1 as dir/**: /tmp/w/**"), lines.end());
    ASSERT_NE(find("network.listen: 1 port: 8080"), lines.end());
    for (const char* section : {"syscalls:", "files.write:", "files.create:", "files.delete:", "exec:",
                                "network.egress:", "network.unix:", "process:"})
        EXPECT_NE(find(section), lines.end()) << section;
}

}  // namespace
}  // namespace fnw
