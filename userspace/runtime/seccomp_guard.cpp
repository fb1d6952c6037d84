// SPDX-License-Identifier: Apache-2.0
#include "runtime/seccomp_guard.hpp"

#include <seccomp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/syscall_table.hpp"
#include "common/boot_clock.hpp"
#include "runtime/proc_info.hpp"
#include "runtime/process_handle.hpp"

namespace fnw {
namespace {

scmp_filter_ctx as_ctx(void* p) { return static_cast<scmp_filter_ctx>(p); }

// Identity of the notifying thread, read from /proc. Only trusted after
// seccomp_notify_id_valid() confirms the thread is still the one that made
// the call (a dead thread's tid may be reused).
void fill_identity(fnw_event_header& hdr, pid_t tid, const std::filesystem::path& cgroup2_root) {
    hdr.tid = static_cast<uint32_t>(tid);
    hdr.pid = hdr.tid;
    if (auto status = read_proc_status(tid)) {
        hdr.pid = status->tgid;
        hdr.ppid = status->ppid;
    }
    const std::string proc = "/proc/" + std::to_string(tid);
    std::ifstream comm_file(proc + "/comm");
    std::string comm;
    std::getline(comm_file, comm);
    std::strncpy(hdr.comm, comm.c_str(), FNW_COMM_LEN - 1);
    if (auto cgroup = read_proc_cgroup_id(tid, cgroup2_root)) hdr.cgroup_id = *cgroup;
    // The supervisor cannot tell which ancestors belong to the function (it
    // has no policy map): the lineage is unknown, never an empty chain that
    // would name this process the function's root.
    hdr.lineage_source = FNW_LINEAGE_FROM_PROC;
    hdr.lineage_len = 0;
    hdr.lineage_truncated = 1;
}

}  // namespace

Result<SeccompFilter> SeccompFilter::build(const SyscallBitmap& allow, const LauncherTail& tail) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_NOTIFY);
    if (!ctx) return fail("seccomp_init failed");
    SeccompFilter filter(ctx);

    // 32-bit (int 0x80) and x32 entry points would bypass an x86_64 allowlist.
    if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS))
        return fail(std::string("seccomp badarch: ") + std::strerror(-rc));

    for (size_t nr = 0; nr < allow.size(); ++nr) {
        if (!allow.test(nr)) continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, static_cast<int>(nr), 0);
        // -EINVAL/-EDOM: a number libseccomp does not know for this arch
        // (newer than it). Leaving it out only makes the filter stricter.
        if (rc != 0 && rc != -EINVAL && rc != -EDOM)
            return fail("seccomp rule for syscall " + std::to_string(nr) + ": " + std::strerror(-rc));
    }

    auto allow_always = [&](int nr) { return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); };
    int rc = 0;
    rc |= allow_always(SCMP_SYS(execve));
    rc |= allow_always(SCMP_SYS(exit));
    rc |= allow_always(SCMP_SYS(exit_group));
    rc |= allow_always(kKernelRestartSyscall);
    if (!allow.test(SYS_sendmsg))
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
                               SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(tail.notify_socket_fd)));
    if (!allow.test(SYS_write))
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
                               SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(tail.error_pipe_fd)));
    if (rc != 0) return fail("seccomp launcher rules failed");
    return filter;
}

SeccompFilter::SeccompFilter(SeccompFilter&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

SeccompFilter::~SeccompFilter() {
    if (ctx_) seccomp_release(as_ctx(ctx_));
}

int SeccompFilter::load_and_listen() {
    if (int rc = seccomp_load(as_ctx(ctx_))) return rc;
    int fd = seccomp_notify_fd(as_ctx(ctx_));
    return fd >= 0 ? fd : -EBADF;
}

namespace {

// One data byte plus room for one SCM_RIGHTS fd: the shape both ends use.
struct FdMessage {
    char byte = 'F';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};

    FdMessage() {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
    }
    FdMessage(const FdMessage&) = delete;
    FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace

bool send_fd(int socket_fd, int fd) {
    FdMessage m;
    cmsghdr* cm = CMSG_FIRSTHDR(&m.msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return ::sendmsg(socket_fd, &m.msg, 0) == 1;
}

UniqueFd receive_fd(int socket_fd) {
    FdMessage m;
    ssize_t n;
    do {
        n = ::recvmsg(socket_fd, &m.msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n != 1) return UniqueFd();
    cmsghdr* cm = CMSG_FIRSTHDR(&m.msg);
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
        return UniqueFd();
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return UniqueFd(fd);
}

SeccompSupervisor::SeccompSupervisor(UniqueFd listener, ViolationAction action, uint32_t policy_id,
                                     std::filesystem::path cgroup2_root)
    : listener_(std::move(listener)), action_(action), policy_id_(policy_id), cgroup2_root_(std::move(cgroup2_root)) {
    seccomp_notif* req = nullptr;
    seccomp_notif_resp* resp = nullptr;
    if (seccomp_notify_alloc(&req, &resp) == 0) {
        request_ = req;
        response_ = resp;
    }
}

SeccompSupervisor::~SeccompSupervisor() {
    seccomp_notify_free(static_cast<seccomp_notif*>(request_), static_cast<seccomp_notif_resp*>(response_));
}

void SeccompSupervisor::handle_one(const EventSink& sink) {
    auto* req = static_cast<seccomp_notif*>(request_);
    auto* resp = static_cast<seccomp_notif_resp*>(response_);
    if (!req || !resp) return;
    // The kernel requires a zeroed request buffer.
    std::memset(req, 0, sizeof(*req));
    if (int rc = seccomp_notify_receive(listener_.get(), req)) {
        // -ENOENT: the target died or was interrupted before we got there;
        // -ECANCELED: no task is attached to the filter any more.
        if (rc != -ENOENT && rc != -ECANCELED) spdlog::warn("seccomp notification receive failed: {}", std::strerror(-rc));
        return;
    }

    fnw_syscall_event ev{};
    ev.hdr.type = FNW_EVENT_SYSCALL;
    ev.hdr.size = sizeof(ev);
    ev.hdr.boot_ns = boot_now_ns();
    ev.hdr.policy_id = policy_id_;
    fill_identity(ev.hdr, static_cast<pid_t>(req->pid), cgroup2_root_);
    // The program, read now: the target cannot exit or exec while it waits
    // here, but once killed (below) it is gone before a line is written,
    // so the writer's own /proc read came too late about one run in ten.
    // Vouched for by the validity check below, like the pidfd.
    std::string exe = read_proc_exe(static_cast<pid_t>(req->pid)).value_or(std::string());
    // The process pinned by a pidfd before the notification is confirmed:
    // if the notifying thread is still waiting after this, its tgid (read
    // above) named this very process when the pidfd was taken, and the
    // kill below can reach it or nobody, never a reused pid.
    ProcessHandle target = action_ == ViolationAction::Kill ? ProcessHandle::open(static_cast<pid_t>(ev.hdr.pid))
                                                            : ProcessHandle();
    const bool still_valid = seccomp_notify_id_valid(listener_.get(), req->id) == 0;
    if (!still_valid) exe.clear();
    ev.nr = static_cast<uint32_t>(req->data.nr);
    for (int i = 0; i < FNW_SYSCALL_ARGS; ++i) ev.args[i] = req->data.args[i];
    ev.verdict = FNW_VERDICT_VIOLATION;
    ev.mechanism = FNW_MECH_SECCOMP;

    if (action_ == ViolationAction::Kill) {
        // A pending SIGKILL interrupts the notification wait: the syscall
        // never runs. Kill first so the target cannot run on after the answer.
        if (still_valid) target.kill();
        ev.action = FNW_ACTION_KILLED;
    } else {
        ev.action = FNW_ACTION_DENIED;
    }
    ++handled_;
    sink(ev, exe);

    std::memset(resp, 0, sizeof(*resp));
    resp->id = req->id;
    resp->error = -EPERM;
    resp->val = 0;
    resp->flags = 0;  // never SECCOMP_USER_NOTIF_FLAG_CONTINUE
    // A killed or vanished target cannot be answered: libseccomp reports
    // that as -ECANCELED (older versions: -ENOENT). Nothing is lost then.
    if (int rc = seccomp_notify_respond(listener_.get(), resp); rc != 0 && rc != -ENOENT && rc != -ECANCELED)
        spdlog::warn("seccomp notification respond failed: {}", std::strerror(-rc));
}

}  // namespace fnw
