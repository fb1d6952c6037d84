// SPDX-License-Identifier: Apache-2.0
// Real syscall blocking for launched functions, without BPF-LSM: a seccomp
// filter built from the policy's syscall allowlist. Allowed syscalls pass in
// the kernel; every other one is suspended and handed to the launcher
// (SECCOMP_RET_USER_NOTIF), which reports it and answers EPERM (deny) or
// kills the process (kill). The syscall never runs, so it has no side effect.
//
// seccomp runs before the sys_enter tracepoint: a syscall stopped here is
// invisible to the BPF probe, and the notification is its only report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.hpp"

#include <fnwarden/events.h>

#include "common/unique_fd.hpp"
#include "core/policy.hpp"

namespace fnw {

// The launcher child's last steps after loading the filter, which the filter
// must let through whatever the policy says: sending the listener fd to the
// parent (sendmsg on exactly this socket fd), reporting an exec failure
// (write on exactly this pipe fd), execve itself, and exiting. Later execve
// calls of the function are still checked by the BPF probe.
struct LauncherTail {
    int notify_socket_fd = -1;
    int error_pipe_fd = -1;
};

class SeccompFilter {
public:
    static Result<SeccompFilter> build(const SyscallBitmap& allow, const LauncherTail& tail);

    SeccompFilter(SeccompFilter&& other) noexcept;
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;
    ~SeccompFilter();

    // In the child, right before exec: installs the filter on the calling
    // thread and returns the notification listener fd, or -errno.
    int load_and_listen();

private:
    explicit SeccompFilter(void* ctx) : ctx_(ctx) {}
    void* ctx_;  // scmp_filter_ctx
};

// Passing the listener fd from the child to the launcher (SCM_RIGHTS).
bool send_fd(int socket_fd, int fd);
UniqueFd receive_fd(int socket_fd);

// Answers notifications on the launcher side.
class SeccompSupervisor {
public:
    // The event and the program the notifying process was running: read
    // while it waited in the notification, "" when that cannot be vouched
    // for (the notification was gone after the read: a reused pid, an exec
    // by another thread).
    using EventSink = std::function<void(const fnw_syscall_event&, std::string_view exe)>;

    SeccompSupervisor(UniqueFd listener, ViolationAction action, uint32_t policy_id,
                      std::filesystem::path cgroup2_root);
    ~SeccompSupervisor();
    SeccompSupervisor(const SeccompSupervisor&) = delete;
    SeccompSupervisor& operator=(const SeccompSupervisor&) = delete;

    int fd() const { return listener_.get(); }

    // Receives one notification, reports it through `sink`, then answers it.
    // Never answers "continue": that would let the syscall run with
    // arguments the target may have changed after we looked (TOCTOU).
    void handle_one(const EventSink& sink);

    uint64_t handled() const { return handled_; }

private:
    UniqueFd listener_;
    ViolationAction action_;
    uint32_t policy_id_;
    std::filesystem::path cgroup2_root_;
    void* request_ = nullptr;   // struct seccomp_notif*
    void* response_ = nullptr;  // struct seccomp_notif_resp*
    uint64_t handled_ = 0;
};

}  // namespace fnw
