// SPDX-License-Identifier: Apache-2.0
// fnwarden-container-init: the first program of a container started
// through fnwarden-runtime. Bind-mounted read-only from the host, static
// (it must not depend on the image's libraries). Inside the container's
// root it applies the plan the wrapper wrote (oci/init_plan.hpp):
// Landlock on the paths as the container sees them, then the seccomp
// program, then execs the container's own entrypoint.
//
//   fnwarden-container-init PLAN -- ENTRYPOINT [ARGS...]
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "oci/init_plan.hpp"

namespace {

constexpr int kExitCannotGuard = 126;  // the entrypoint never runs unguarded
constexpr int kExitNotFound = 127;

[[noreturn]] void die(int status, const std::string& message) {
    std::fprintf(stderr, "fnwarden-container-init: %s\n", message.c_str());
    std::_Exit(status);
}

std::string read_all(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) die(kExitCannotGuard, std::string("cannot read ") + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void load_seccomp(const std::string& file) {
    std::string program = read_all(file.c_str());
    if (program.empty() || program.size() % sizeof(sock_filter) != 0)
        die(kExitCannotGuard, file + ": not a seccomp program");
    sock_fprog prog{static_cast<unsigned short>(program.size() / sizeof(sock_filter)),
                    reinterpret_cast<sock_filter*>(program.data())};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        die(kExitCannotGuard, std::string("cannot install the seccomp filter: ") + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4 || std::strcmp(argv[2], "--") != 0) die(kExitCannotGuard, "usage: fnwarden-container-init PLAN -- COMMAND...");
    fnw::Result<fnw::InitPlan> plan = fnw::parse_init_plan(read_all(argv[1]));
    if (!plan) die(kExitCannotGuard, plan.error());
    if (plan->landlock.active()) {
        fnw::Result<fnw::UniqueFd> ruleset = fnw::build_landlock_ruleset(plan->landlock);
        if (!ruleset) die(kExitCannotGuard, ruleset.error());
        if (int rc = fnw::enforce_landlock(ruleset->get()); rc < 0)
            die(kExitCannotGuard, std::string("cannot enforce the landlock ruleset: ") + std::strerror(-rc));
    }
    if (!plan->seccomp_file.empty()) load_seccomp(plan->seccomp_file);
    ::execvp(argv[3], argv + 3);
    die(errno == ENOENT ? kExitNotFound : kExitCannotGuard,
        std::string("cannot exec ") + argv[3] + ": " + std::strerror(errno));
}
