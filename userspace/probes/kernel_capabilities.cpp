// SPDX-License-Identifier: Apache-2.0
#include "probes/kernel_capabilities.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <linux/landlock.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/unique_fd.hpp"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

std::optional<std::vector<std::string>> read_active_lsms() {
    std::ifstream lsm("/sys/kernel/security/lsm");
    if (!lsm) return std::nullopt;
    std::string list;
    std::getline(lsm, list);
    std::stringstream names(list);
    std::vector<std::string> out;
    for (std::string name; std::getline(names, name, ',');)
        if (!name.empty()) out.push_back(name);
    return out;
}

Status mount_if_missing(const char* probe_path, const char* fs, const char* at, const char* why) {
    if (::access(probe_path, F_OK) == 0) return {};
    if (::mount(fs, at, fs, MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return fail(std::string(fs) + " is not mounted and mounting it at " + at + " failed: " + errno_text(errno));
    spdlog::info("mounted {} at {} ({})", fs, at, why);
    return {};
}

}  // namespace

bool KernelCapabilities::bpf_lsm_listed() const {
    return active_lsms && std::find(active_lsms->begin(), active_lsms->end(), "bpf") != active_lsms->end();
}

KernelCapabilities probe_kernel_capabilities() {
    KernelCapabilities k;
    utsname u{};
    if (uname(&u) == 0) k.release = u.release;
    std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
    for (std::string a; actions >> a;) k.seccomp_user_notif = k.seccomp_user_notif || a == "user_notif";
    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi > 0) k.landlock_abi = static_cast<int>(abi);
    k.active_lsms = read_active_lsms();
    return k;
}

Status mount_kernel_filesystems() {
    // No tracefs: no program attaches to a tracefs tracepoint (the syscall
    // handlers are tail-called from tp_btf/sys_enter and sys_exit).
    return mount_if_missing("/sys/kernel/security/lsm", "securityfs", "/sys/kernel/security",
                            "to see whether the bpf LSM is active");
}

EnforcementCapabilities enforcement_capabilities(const KernelCapabilities& kernel, std::string lsm_error,
                                                 std::map<std::string, std::string> lsm_hooks) {
    EnforcementCapabilities caps;
    caps.seccomp_user_notif = kernel.seccomp_user_notif;
    caps.landlock_abi = kernel.landlock_abi.value_or(0);
    caps.lsm_error = std::move(lsm_error);
    caps.lsm_hooks = std::move(lsm_hooks);
    return caps;
}

}  // namespace fnw
