// SPDX-License-Identifier: Apache-2.0
// ProbeSet's roots besides fnwarden's (probe_set_roots.cpp): a chroot's
// rules stay while any process of its cgroup lives in it, and go with the
// last one, whichever process the root was first found through.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "probe_fixture.hpp"

namespace fnw::test {
namespace {

namespace fs = std::filesystem;

class RulesRootsTest : public ProbeTest {
protected:
    void TearDown() override {
        for (pid_t pid : children_) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    // A child chrooted into dir_/jail and moved into `cgroup`, waiting to be killed.
    pid_t chrooted_child(const fs::path& cgroup) {
        int ready[2];
        EXPECT_EQ(::pipe(ready), 0);
        const std::string procs = (cgroup / "cgroup.procs").string();
        const pid_t pid = ::fork();
        if (pid == 0) {  // only async-signal-safe calls from here
            const int fd = ::open(procs.c_str(), O_WRONLY);
            if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(1);  // "0": the writer itself
            if (::chroot((dir_ / "jail").c_str()) != 0 || ::chdir("/") != 0) _exit(1);
            (void)!::write(ready[1], "x", 1);
            for (;;) ::pause();
        }
        ::close(ready[1]);
        char byte = 0;
        EXPECT_EQ(::read(ready[0], &byte, 1), 1) << "the child did not chroot";
        ::close(ready[0]);
        children_.push_back(pid);
        return pid;
    }
    void end(pid_t pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        std::erase(children_, pid);
    }

    fs::path dir_;
    std::vector<pid_t> children_;
};

TEST_F(RulesRootsTest, AChrootKeepsItsRulesWhileAnyProcessOfItsCgroupLivesInIt) {
    std::string tmpl = (fs::temp_directory_path() / "fnw-roots-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "jail/app");
    const fs::path cgroup = cgroup_parent_ / "jail";
    ASSERT_EQ(::mkdir(cgroup.c_str(), 0755), 0) << std::strerror(errno);

    FunctionPolicy policy;
    policy.name = "rooted";
    policy.files.restricted = true;
    policy.files.read = {"/app/**"};
    constexpr uint32_t kSlot = 7;
    ASSERT_TRUE(probes_->set_policy(kSlot, policy, Mode::Enforce).ok());

    const pid_t first = chrooted_child(cgroup), second = chrooted_child(cgroup);
    auto added = probes_->add_rules_root(kSlot, first);
    ASSERT_TRUE(added) << added.error();
    EXPECT_TRUE(*added) << "a chroot is not fnwarden's root";
    EXPECT_FALSE(*probes_->add_rules_root(kSlot, second)) << "the same root, known already";
    EXPECT_FALSE(*probes_->add_rules_root(kSlot, ::getpid())) << "fnwarden's own root";
    EXPECT_EQ(probes_->rules_root_count(kSlot), 1u);

    end(first);
    ASSERT_TRUE(probes_->sweep_rules_roots().ok());
    EXPECT_EQ(probes_->rules_root_count(kSlot), 1u) << "the second process lives in the same root";
    end(second);
    ASSERT_TRUE(probes_->sweep_rules_roots().ok());
    EXPECT_EQ(probes_->rules_root_count(kSlot), 0u) << "nobody lives there any more";
}

}  // namespace
}  // namespace fnw::test
