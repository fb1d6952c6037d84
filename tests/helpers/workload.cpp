// SPDX-License-Identifier: Apache-2.0
// The process the BPF tests watch. Each argument is one step, run in order,
// so a test states exactly which syscalls the function makes:
//   getppid | getpgid | getsid   one raw syscall
//   repeat-getppid:N         N getppid calls (floods a traced cgroup)
//   repeat-getpgid:N         N getpgid calls (one violation, repeated, where getpgid is denied)
//   mkdir:PATH               raw mkdir(PATH, 0700)
//   tcp4:IP:PORT | tcp6:IP:PORT   TCP connect (errno kept for exit-errno)
//   udp4:IP:PORT | udp6:IP:PORT   one UDP datagram with sendto
//   bind4:PORT | bind6:PORT       bind a TCP socket to loopback:PORT
//   listen4:PORT:FILE | listen6:PORT:FILE   a TCP listener on loopback:PORT (PORT 0: listen()
//                            without bind, so the kernel picks the port), its port written to FILE,
//                            then accept one connection (errno kept for exit-errno)
//   unix-connect:NAME        connect a unix stream socket to NAME ("@name": abstract)
//   read:PATH | write:PATH   open and read / open O_TRUNC and write "changed"
//   read-at:DIR:NAME         openat(NAME) relative to an O_PATH fd of DIR, and read
//   unlink:PATH | rename:FROM:TO | exec:PATH | truncate:PATH (to 0 bytes)
//   memfd-exec:PATH          copy PATH into a memfd and execute that (fileless execution)
//   uring-read:PATH          open PATH for reading through io_uring (IORING_OP_OPENAT)
//   uring-write:PATH         open PATH for writing through io_uring
//   uring-tcp4:IP:PORT       TCP connect submitted through io_uring (IORING_OP_CONNECT)
//   create:PATH              create PATH (open O_CREAT|O_EXCL)
//   bpf                      one bpf() call (BPF_MAP_CREATE with an empty attr: EINVAL when let through)
//   ptrace-child             fork a child and PTRACE_SEIZE it (the child is then killed and reaped)
//   mmap-exec                map anonymous memory read-write-execute
//   jit                      map anonymous memory read-write, then mprotect it read-execute (a JIT's flip)
//   fork-getpgid:N           fork N children one after another; each calls getpgid and exits
//   orphan:G:R               fork a chain of G >= 2 generations (this process P -> A -> ... -> C); C
//                            calls getpgid, kills A, waits until A is reaped (its children moved to a
//                            new parent: P when R is 1, P being a child subreaper, else whoever
//                            reaps orphans outside), then calls getsid. P waits for C's word and its
//                            children; exit 4 if a fork or the wait failed, 124 if A was never reaped
//   move-parent:PROCS        write the parent's pid into PROCS (a cgroup.procs: move it to that cgroup)
//   nest:N                   the remaining steps run in a descendant N generations down (each
//                            generation forks one child, waits, and exits with its status)
//   open-loop:MS:PATH        open()+close() PATH in a tight loop for MS milliseconds
//   open-until:STOP:MS:PATH  the same until the file STOP exists (looked for about every 50 ms),
//                            at most MS milliseconds; exit 124 if STOP never came
//   sleep-ms:MS              sleep
//   print:TEXT               write TEXT and a newline to stdout
//   exit:N                   exit with status N
//   exit-errno               exit with the errno of the last raw syscall (0: it succeeded)
//   x32-getpid               getpid with the x32 bit set (__X32_SYSCALL_BIT | __NR_getpid)
//   int80-getpid             getpid through the 32-bit entry (int $0x80, i386 number 20)
//   write-fds:HI             point every fd 3..HI at /dev/null, one write(2) on each in turn
//   sendmsg-fds:HI           the same with a unix datagram socket and sendmsg(2)
//   await-file:PATH          block until PATH exists (inotify); exit 124 if it does not within 30 s.
//                            Leaves the last errno alone
//   detach:N                 the next N steps run in a grandchild whose parent exits at once (a
//                            double fork: it is nobody's child in the function); end them with exit:.
//                            The caller skips them and goes on
//   write-errno:PATH         write the errno of the last step as text to PATH (whole: written, then renamed)
//   chdir:DIR                chdir (later steps may name paths relative to DIR)
//   link:OLD:NEW | symlink:TARGET:NEW   raw link / symlink syscalls (NEW is the name created)
//   rmdir:DIR | creat:PATH | mknod:PATH (a FIFO, 0600)   raw rmdir / creat / mknod syscalls
//   chmod:PATH:MODE (octal) | chown:PATH:UID:GID           raw chmod / chown syscalls
//   openat2:PATH             openat2(AT_FDCWD, PATH, O_WRONLY|O_TRUNC)
//   uring-mkdir:DIR | uring-rmdir:DIR | uring-unlink:PATH | uring-rename:FROM:TO |
//   uring-link:OLD:NEW | uring-symlink:TARGET:NEW   the same done by io_uring, no syscall of its own
//   wait-fifo:PATH           open the FIFO PATH for reading (the test's open for writing returns:
//                            "ready"), then wait for its byte or close (a handshake, 30 s bound)
//   exit-on-error            exit with the errno of the last raw syscall if it failed, else go on
//   await-kill:S             wait for a signal to end the process (a kill the test expects);
//                            SIGALRM ends it after S seconds if none came
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <liburing.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <csignal>
#include <asm/unistd.h>
#include <poll.h>
#include <sys/inotify.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// Runs the one operation `prep` puts in an SQE through a fresh io_uring and
// waits for it: the operation happens in the kernel's io_uring path, not in
// its own syscall. Returns the CQE's result (>= 0), or -errno.
template <typename Prep>
int uring_run_one(Prep prep) {
    io_uring ring;
    if (int rc = io_uring_queue_init(4, &ring, 0); rc < 0) return rc;
    prep(io_uring_get_sqe(&ring));
    int res = 0;
    io_uring_cqe* cqe = nullptr;
    if (int rc = io_uring_submit(&ring); rc < 0) {
        res = rc;
    } else if (int wait = io_uring_wait_cqe(&ring, &cqe); wait < 0) {
        res = wait;
    } else {
        res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
    return res;
}

// Opens PATH with io_uring (IORING_OP_OPENAT). Returns 0 or errno.
int uring_open(const char* path, int flags) {
    const int fd = uring_run_one([&](io_uring_sqe* sqe) { io_uring_prep_openat(sqe, AT_FDCWD, path, flags, 0); });
    if (fd < 0) return -fd;
    close(fd);
    return 0;
}

// "IP:PORT" (IPv6 without brackets: the port is after the last colon).
bool parse_endpoint(const std::string& text, bool v6, sockaddr_storage& out, socklen_t& len) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    std::string ip = text.substr(0, colon);
    auto port = static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1));
    out = {};
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&out);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        len = sizeof(*a);
        return inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) == 1;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&out);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    len = sizeof(*a);
    return inet_pton(AF_INET, ip.c_str(), &a->sin_addr) == 1;
}

// Returns 0 or errno; never leaves the socket open.
int socket_step(const std::string& kind, const std::string& arg) {
    const bool v6 = kind.back() == '6';
    sockaddr_storage addr;
    socklen_t len = 0;
    if (kind.rfind("bind", 0) == 0) {
        if (!parse_endpoint(std::string(v6 ? "::1" : "127.0.0.1") + ":" + arg, v6, addr, len)) return EINVAL;
    } else if (!parse_endpoint(arg, v6, addr, len)) {
        return EINVAL;
    }
    const bool udp = kind.rfind("udp", 0) == 0;
    int fd = socket(v6 ? AF_INET6 : AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0) return errno;
    int rc;
    if (kind.rfind("bind", 0) == 0)
        rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
    else if (udp)
        rc = static_cast<int>(sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&addr), len));
    else
        rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
    int err = rc < 0 ? errno : 0;
    close(fd);
    return err;
}

// listen4:PORT:FILE / listen6:PORT:FILE (see the top of the file).
int listen_and_accept(bool v6, const std::string& arg) {
    const auto colon = arg.find(':');
    if (colon == std::string::npos) return EINVAL;
    const long port = std::strtol(arg.substr(0, colon).c_str(), nullptr, 10);
    const std::string file = arg.substr(colon + 1);
    const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    sockaddr_storage addr{};
    socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(static_cast<uint16_t>(port));
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(static_cast<uint16_t>(port));
    }
    // Port 0: no bind() at all; listen() binds an ephemeral port itself.
    if (port != 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) return errno;
    if (listen(fd, 4) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return errno;
    const uint16_t bound = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    // Written whole, then renamed: the test never reads half a number.
    const std::string tmp = file + ".tmp";
    FILE* out = fopen(tmp.c_str(), "w");
    if (!out) return errno;
    fprintf(out, "%u\n", bound);
    if (fclose(out) != 0 || rename(tmp.c_str(), file.c_str()) != 0) return errno;
    const int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    const int err = conn < 0 ? errno : 0;
    if (conn >= 0) close(conn);
    close(fd);
    return err;
}

// unix-connect:NAME
int unix_connect(const std::string& name) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len = sizeof(sa_family_t);
    if (!name.empty() && name.front() == '@') {
        std::memcpy(addr.sun_path + 1, name.data() + 1, std::min(name.size() - 1, sizeof(addr.sun_path) - 1));
        len += static_cast<socklen_t>(std::min(name.size(), sizeof(addr.sun_path)));
    } else {
        std::strncpy(addr.sun_path, name.c_str(), sizeof(addr.sun_path) - 1);
        len += static_cast<socklen_t>(std::strlen(addr.sun_path) + 1);
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const int err = connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 ? 0 : errno;
    close(fd);
    return err;
}

// uring-tcp4:IP:PORT: a TCP connect submitted through io_uring
// (IORING_OP_CONNECT): no connect syscall is made. Returns 0 or errno.
int uring_connect(const std::string& endpoint) {
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (!parse_endpoint(endpoint, false, addr, len)) return EINVAL;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const int res = uring_run_one(
        [&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(&addr), len); });
    close(fd);
    return res < 0 ? -res : 0;
}

// uring-mkdir:P | uring-rmdir:P | uring-unlink:P | uring-rename:FROM:TO |
// uring-link:OLD:NEW | uring-symlink:TARGET:NEW, `op` without "uring-": the
// operation done by io_uring (IORING_OP_MKDIRAT, UNLINKAT, RENAMEAT, LINKAT,
// SYMLINKAT), no syscall of its own. False when `op` is none of these; else
// `err` is 0 or errno.
bool uring_path_step(const std::string& op, int& err) {
    const auto colon = op.find(':');
    if (colon == std::string::npos) return false;
    const std::string kind = op.substr(0, colon), arg = op.substr(colon + 1);
    const auto split = arg.find(':');
    const std::string a = arg.substr(0, split), b = split == std::string::npos ? "" : arg.substr(split + 1);
    int res = 0;
    if (kind == "mkdir")
        res = uring_run_one([&](io_uring_sqe* sqe) { io_uring_prep_mkdirat(sqe, AT_FDCWD, arg.c_str(), 0700); });
    else if (kind == "rmdir")
        res = uring_run_one([&](io_uring_sqe* sqe) { io_uring_prep_unlinkat(sqe, AT_FDCWD, arg.c_str(), AT_REMOVEDIR); });
    else if (kind == "unlink")
        res = uring_run_one([&](io_uring_sqe* sqe) { io_uring_prep_unlinkat(sqe, AT_FDCWD, arg.c_str(), 0); });
    else if (kind == "rename")
        res = uring_run_one(
            [&](io_uring_sqe* sqe) { io_uring_prep_renameat(sqe, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), 0); });
    else if (kind == "link")
        res = uring_run_one(
            [&](io_uring_sqe* sqe) { io_uring_prep_linkat(sqe, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), 0); });
    else if (kind == "symlink")
        res = uring_run_one([&](io_uring_sqe* sqe) { io_uring_prep_symlinkat(sqe, a.c_str(), AT_FDCWD, b.c_str()); });
    else
        return false;
    err = res < 0 ? -res : 0;
    return true;
}

// wait-fifo:PATH. Opening the FIFO for reading is what returns the test's
// blocked open() for writing: the workload has got here. Then it waits for
// the test's byte (or its close): the test acts in between. The 30 s bound
// only ends a broken test; nothing relies on it. Returns 0 or errno.
int wait_fifo(const char* path) {
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno;
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, 30000);
    const int err = n > 0 ? 0 : n == 0 ? ETIMEDOUT : errno;
    close(fd);
    return err;
}

// await-file:PATH. The watch is set before the first look, so the file
// appearing in between is not missed. Returns 0, ETIMEDOUT or errno.
int await_file(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (watch < 0) return errno;
    if (inotify_add_watch(watch, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        const int err = errno;
        close(watch);
        return err;
    }
    // A bound, not a delay: the test creates the file; if it never does, the
    // step gives up instead of hanging the test.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int err = 0;
    while (access(path.c_str(), F_OK) != 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            err = ETIMEDOUT;
            break;
        }
        pollfd p{watch, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
            err = errno;
            break;
        }
        char buf[4096];
        while (read(watch, buf, sizeof(buf)) > 0) {
        }
    }
    close(watch);
    return err;
}

// write-fds:HI / sendmsg-fds:HI: the same fd numbers a launcher's seccomp
// filter may let through (whichever they are), each made to point at
// something harmless, then used. Returns the errno of the last call.
int use_every_fd(bool with_sendmsg, long hi) {
    // Both ends moved above the range, so every number in it gets its turn.
    auto above = [hi](int fd) {
        const int moved = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, static_cast<int>(hi + 1));
        if (fd >= 0) close(fd);
        return moved;
    };
    int target = -1, peer = -1;
    if (with_sendmsg) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return errno;
        target = above(sv[0]);
        peer = above(sv[1]);
        if (peer < 0) return errno;
    } else {
        target = above(open("/dev/null", O_WRONLY | O_CLOEXEC));
    }
    if (target < 0) return errno;
    int err = 0;
    for (long fd = 3; fd <= hi; ++fd) {
        if (dup2(target, static_cast<int>(fd)) < 0) return errno;
        long rc;
        if (with_sendmsg) {
            char byte = 'x';
            iovec iov{&byte, 1};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            rc = syscall(SYS_sendmsg, fd, &msg, MSG_DONTWAIT);
        } else {
            rc = syscall(SYS_write, fd, "x", 1);
        }
        err = rc < 0 ? errno : 0;
    }
    return err;
}

// orphan:G:R (see the top of this file).
int orphan_chain(long generations, bool subreaper) {
    if (generations < 2 || (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)) return 4;
    int done[2];
    if (pipe(done) != 0) return 4;
    const pid_t first = fork();
    if (first < 0) return 4;
    if (first == 0) {
        close(done[0]);
        const pid_t a = getpid();
        for (long k = 1; k < generations; ++k) {
            const pid_t child = fork();
            if (child < 0) _exit(4);
            if (child > 0) {  // A and the generations between: wait (A is killed meanwhile)
                int status = 0;
                _exit(waitpid(child, &status, 0) == child && WIFEXITED(status) ? WEXITSTATUS(status) : 4);
            }
        }
        syscall(SYS_getpgid, 0);  // C, with A among its ancestors
        kill(a, SIGKILL);
        // P reaps A; exit_notify() moved A's children before that.
        for (int t = 0; t < 10000 && kill(a, 0) == 0; ++t) usleep(1000);
        if (kill(a, 0) == 0) _exit(124);
        syscall(SYS_getsid, 0);
        const char word = 'x';
        _exit(write(done[1], &word, 1) == 1 ? 0 : 4);
    }
    close(done[1]);
    int status = 0;
    if (waitpid(first, &status, 0) != first) return 4;  // A, killed
    char word = 0;
    const bool told = read(done[0], &word, 1) == 1;
    while (waitpid(-1, &status, 0) > 0) {  // a subreaper's orphans: the generations below A
    }
    return told ? 0 : 124;
}

}  // namespace

int main(int argc, char** argv) {
    int last_errno = 0;
    auto raw = [&](long rc) { last_errno = rc < 0 ? errno : 0; };
    for (int i = 1; i < argc; ++i) {
        std::string step = argv[i];
        if (step == "getppid") {
            raw(syscall(SYS_getppid));
        } else if (step == "getpgid") {
            raw(syscall(SYS_getpgid, 0));
        } else if (step == "getsid") {
            raw(syscall(SYS_getsid, 0));
        } else if (step.rfind("mkdir:", 0) == 0) {
            raw(syscall(SYS_mkdir, step.c_str() + 6, 0700));
        } else if (step.size() > 5 && step[4] == ':' &&
                   (step.rfind("tcp", 0) == 0 || step.rfind("udp", 0) == 0)) {
            last_errno = socket_step(step.substr(0, 4), step.substr(5));
        } else if (step.size() > 6 && step[5] == ':' && step.rfind("bind", 0) == 0) {
            last_errno = socket_step(step.substr(0, 5), step.substr(6));
        } else if (step.rfind("listen4:", 0) == 0 || step.rfind("listen6:", 0) == 0) {
            last_errno = listen_and_accept(step[6] == '6', step.substr(8));
        } else if (step.rfind("unix-connect:", 0) == 0) {
            last_errno = unix_connect(step.substr(13));
        } else if (step.rfind("read:", 0) == 0) {
            int fd = open(step.c_str() + 5, O_RDONLY | O_CLOEXEC);
            char buf[64];
            raw(fd < 0 ? -1 : read(fd, buf, sizeof(buf)));
            if (fd >= 0) close(fd);
        } else if (step.rfind("read-at:", 0) == 0) {
            // read-at:DIR:NAME: openat() relative to a directory fd (O_PATH: the directory itself is not read).
            const std::string args = step.substr(8);
            const auto colon = args.find(':');
            const int dir = open(args.substr(0, colon).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
            const int fd = dir < 0 ? -1 : openat(dir, args.substr(colon + 1).c_str(), O_RDONLY | O_CLOEXEC);
            raw(fd);
            if (fd >= 0) close(fd);
            if (dir >= 0) close(dir);
        } else if (step.rfind("create:", 0) == 0) {
            int fd = open(step.c_str() + 7, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            last_errno = fd < 0 ? errno : 0;
            if (fd >= 0) close(fd);
        } else if (step.rfind("write:", 0) == 0) {
            int fd = open(step.c_str() + 6, O_WRONLY | O_TRUNC | O_CLOEXEC);
            raw(fd < 0 ? -1 : write(fd, "changed", 7));
            if (fd >= 0) close(fd);
        } else if (step.rfind("uring-read:", 0) == 0) {
            last_errno = uring_open(step.c_str() + 11, O_RDONLY);
        } else if (step.rfind("uring-tcp4:", 0) == 0) {
            last_errno = uring_connect(step.substr(11));
        } else if (step.rfind("uring-write:", 0) == 0) {
            last_errno = uring_open(step.c_str() + 12, O_WRONLY);
        } else if (step.rfind("fork-getpgid:", 0) == 0) {
            long n = std::strtol(step.c_str() + 13, nullptr, 10);
            for (long k = 0; k < n; ++k) {
                pid_t child = fork();
                if (child == 0) {
                    syscall(SYS_getpgid, 0);
                    _exit(0);
                }
                if (child < 0 || waitpid(child, nullptr, 0) != child) return 4;
            }
        } else if (step.rfind("move-parent:", 0) == 0) {
            const int fd = open(step.c_str() + 12, O_WRONLY | O_CLOEXEC);
            const std::string pid = std::to_string(getppid());
            raw(fd < 0 ? -1 : write(fd, pid.data(), pid.size()));
            if (fd >= 0) close(fd);
        } else if (step.rfind("orphan:", 0) == 0) {
            char* end = nullptr;
            const long generations = std::strtol(step.c_str() + 7, &end, 10);
            const int rc = orphan_chain(generations, end && std::strcmp(end, ":1") == 0);
            if (rc != 0) return rc;
        } else if (step.rfind("nest:", 0) == 0) {
            const long depth = std::strtol(step.c_str() + 5, nullptr, 10);
            for (long k = 0; k < depth; ++k) {
                const pid_t child = fork();
                if (child < 0) return 4;
                if (child > 0) {
                    int status = 0;
                    if (waitpid(child, &status, 0) != child) return 4;
                    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
            }
        } else if (step.rfind("truncate:", 0) == 0) {
            raw(truncate(step.c_str() + 9, 0));
        } else if (step.rfind("unlink:", 0) == 0) {
            raw(unlink(step.c_str() + 7));
        } else if (step.rfind("rename:", 0) == 0) {
            std::string args = step.substr(7);
            auto colon = args.find(':');
            raw(rename(args.substr(0, colon).c_str(), args.substr(colon + 1).c_str()));
        } else if (step.rfind("exec:", 0) == 0) {
            char* const child_argv[] = {const_cast<char*>(step.c_str() + 5), nullptr};
            raw(execv(step.c_str() + 5, child_argv));
        } else if (step.rfind("memfd-exec:", 0) == 0) {
            const int in = open(step.c_str() + 11, O_RDONLY | O_CLOEXEC);
            const int mem = static_cast<int>(syscall(SYS_memfd_create, "payload", 0));
            if (in < 0 || mem < 0) return 5;
            char buf[65536];
            for (ssize_t n; (n = read(in, buf, sizeof(buf))) > 0;)
                if (write(mem, buf, static_cast<size_t>(n)) != n) return 5;
            char* const child_argv[] = {const_cast<char*>("payload"), nullptr};
            char* const child_env[] = {nullptr};
            raw(syscall(SYS_execveat, mem, "", child_argv, child_env, AT_EMPTY_PATH));
        } else if (step == "unshare-mount") {  // a mount namespace of its own, no exec
            raw(unshare(CLONE_NEWNS));
        } else if (step == "bpf") {
            char attr[128] = {};  // union bpf_attr, all zero: no map type
            raw(syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof(attr)));
        } else if (step == "ptrace-child") {
            const pid_t child = fork();
            if (child == 0) {
                pause();
                _exit(0);
            }
            if (child < 0) return 4;
            raw(ptrace(PTRACE_SEIZE, child, nullptr, nullptr));
            const int seized = last_errno;
            kill(child, SIGKILL);
            waitpid(child, nullptr, 0);
            last_errno = seized;
        } else if (step == "mmap-exec") {
            void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            last_errno = p == MAP_FAILED ? errno : 0;
            if (p != MAP_FAILED) munmap(p, 4096);
        } else if (step == "jit") {
            void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return 4;
            raw(mprotect(p, 4096, PROT_READ | PROT_EXEC));
            munmap(p, 4096);
        } else if (step == "exit-errno") {
            return last_errno;
        } else if (step.rfind("repeat-getppid:", 0) == 0) {
            long n = std::strtol(step.c_str() + 15, nullptr, 10);
            for (long k = 0; k < n; ++k) syscall(SYS_getppid);
        } else if (step.rfind("repeat-getpgid:", 0) == 0) {
            long n = std::strtol(step.c_str() + 15, nullptr, 10);
            for (long k = 0; k < n; ++k) syscall(SYS_getpgid, 0);
        } else if (step.rfind("open-loop:", 0) == 0) {
            // open-loop:MS:PATH: open()+close() PATH as fast as possible for
            // MS milliseconds (an event flood when the cgroup is traced).
            std::string args = step.substr(10);
            auto colon = args.find(':');
            const long ms = std::strtol(args.substr(0, colon).c_str(), nullptr, 10);
            const std::string path = args.substr(colon + 1);
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
            while (std::chrono::steady_clock::now() < until)
                for (int k = 0; k < 256; ++k) {
                    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
                    if (fd >= 0) close(fd);
                }
        } else if (step.rfind("open-until:", 0) == 0) {
            // open-until:STOP:MS:PATH: a flood the test ends (by creating
            // STOP) once it has seen what it floods for; MS bounds it.
            std::string args = step.substr(11);
            const auto c1 = args.find(':');
            const auto c2 = c1 == std::string::npos ? c1 : args.find(':', c1 + 1);
            if (c2 == std::string::npos) return 2;
            const std::string stop = args.substr(0, c1);
            const long ms = std::strtol(args.substr(c1 + 1, c2 - c1 - 1).c_str(), nullptr, 10);
            const std::string path = args.substr(c2 + 1);
            const auto start = std::chrono::steady_clock::now();
            const auto until = start + std::chrono::milliseconds(ms);
            auto next_look = start;
            bool stopped = false;
            for (auto now = start; now < until; now = std::chrono::steady_clock::now()) {
                if (now >= next_look) {
                    if (access(stop.c_str(), F_OK) == 0) {
                        stopped = true;
                        break;
                    }
                    next_look = now + std::chrono::milliseconds(50);
                }
                for (int k = 0; k < 256; ++k) {
                    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
                    if (fd >= 0) close(fd);
                }
            }
            if (!stopped) return 124;
        } else if (step.rfind("sleep-ms:", 0) == 0) {
            usleep(static_cast<useconds_t>(std::strtol(step.c_str() + 9, nullptr, 10)) * 1000);
        } else if (step.rfind("print:", 0) == 0) {
            std::string line = step.substr(6) + "\n";
            if (write(1, line.data(), line.size()) < 0) return 3;
        } else if (step.rfind("exit:", 0) == 0) {
            return std::atoi(step.c_str() + 5);
        } else if (step == "x32-getpid") {
            raw(syscall(__X32_SYSCALL_BIT | SYS_getpid));
        } else if (step == "int80-getpid") {
            long rc = 20;  // __NR_getpid in the i386 table
            // The 32-bit entry from 64-bit code: the kernel zeroes r8-r11.
            asm volatile("int $0x80" : "+a"(rc) : : "r8", "r9", "r10", "r11", "memory");
            last_errno = rc < 0 && rc > -4096 ? static_cast<int>(-rc) : 0;
        } else if (step.rfind("write-fds:", 0) == 0) {
            last_errno = use_every_fd(false, std::strtol(step.c_str() + 10, nullptr, 10));
        } else if (step.rfind("sendmsg-fds:", 0) == 0) {
            last_errno = use_every_fd(true, std::strtol(step.c_str() + 12, nullptr, 10));
        } else if (step.rfind("await-file:", 0) == 0) {
            if (await_file(step.substr(11)) != 0) return 124;
        } else if (step.rfind("detach:", 0) == 0) {
            const long n = std::strtol(step.c_str() + 7, nullptr, 10);
            const pid_t middle = fork();
            if (middle < 0) return 4;
            if (middle == 0) {
                const pid_t grandchild = fork();
                if (grandchild != 0) _exit(grandchild < 0 ? 4 : 0);
                continue;  // the grandchild: the next n steps are its own
            }
            int status = 0;
            if (waitpid(middle, &status, 0) != middle || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
            i += static_cast<int>(n);
        } else if (step.rfind("write-errno:", 0) == 0) {
            const std::string file = step.substr(12);
            const std::string tmp = file + ".tmp";
            FILE* out = fopen(tmp.c_str(), "w");
            if (!out) return 5;
            fprintf(out, "%d\n", last_errno);
            if (fclose(out) != 0 || rename(tmp.c_str(), file.c_str()) != 0) return 5;
        } else if (step.rfind("chdir:", 0) == 0) {
            raw(chdir(step.c_str() + 6));
        } else if (step.rfind("link:", 0) == 0 || step.rfind("symlink:", 0) == 0) {
            // Raw syscalls: libc may route link() through linkat().
            const bool sym = step[0] == 's';
            const std::string args = step.substr(sym ? 8 : 5);
            const auto colon = args.find(':');
            const std::string from = args.substr(0, colon), to = args.substr(colon + 1);
            raw(syscall(sym ? SYS_symlink : SYS_link, from.c_str(), to.c_str()));
        } else if (step.rfind("rmdir:", 0) == 0) {
            raw(syscall(SYS_rmdir, step.c_str() + 6));
        } else if (step.rfind("mknod:", 0) == 0) {
            raw(syscall(SYS_mknod, step.c_str() + 6, S_IFIFO | 0600, 0));
        } else if (step.rfind("creat:", 0) == 0) {
            const long fd = syscall(SYS_creat, step.c_str() + 6, 0600);
            raw(fd);
            if (fd >= 0) close(static_cast<int>(fd));
        } else if (step.rfind("chmod:", 0) == 0) {
            const std::string args = step.substr(6);
            const auto colon = args.rfind(':');
            const auto mode = static_cast<mode_t>(std::strtol(args.c_str() + colon + 1, nullptr, 8));
            raw(syscall(SYS_chmod, args.substr(0, colon).c_str(), mode));
        } else if (step.rfind("chown:", 0) == 0) {
            const std::string args = step.substr(6);
            const auto gid_at = args.rfind(':'), uid_at = args.rfind(':', gid_at - 1);
            raw(syscall(SYS_chown, args.substr(0, uid_at).c_str(),
                        static_cast<uid_t>(std::strtol(args.c_str() + uid_at + 1, nullptr, 10)),
                        static_cast<gid_t>(std::strtol(args.c_str() + gid_at + 1, nullptr, 10))));
        } else if (step.rfind("openat2:", 0) == 0) {
            open_how how{};
            how.flags = O_WRONLY | O_TRUNC | O_CLOEXEC;
            const long fd = syscall(SYS_openat2, AT_FDCWD, step.c_str() + 8, &how, sizeof(how));
            raw(fd);
            if (fd >= 0) close(static_cast<int>(fd));
        } else if (step.rfind("uring-", 0) == 0 && uring_path_step(step.substr(6), last_errno)) {
            // done: mkdir, rmdir, unlink, rename, link or symlink through io_uring
        } else if (step.rfind("wait-fifo:", 0) == 0) {
            last_errno = wait_fifo(step.c_str() + 10);
        } else if (step == "exit-on-error") {
            if (last_errno != 0) return last_errno;
        } else if (step.rfind("await-kill:", 0) == 0) {
            // Nothing wakes pause() but a signal; SIGALRM's default action
            // ends the process, which a test waiting for SIGKILL sees.
            alarm(static_cast<unsigned>(std::strtoul(step.c_str() + 11, nullptr, 10)));
            for (;;) pause();
        } else {
            const char msg[] = "fnw_test_workload: unknown step\n";
            (void)!write(2, msg, sizeof(msg) - 1);
            return 2;
        }
    }
    return 0;
}
