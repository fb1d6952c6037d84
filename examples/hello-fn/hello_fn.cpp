// SPDX-License-Identifier: Apache-2.0
// hello-fn: a small function with a file, exec and network profile, the
// example for rules/examples/hello-fn.yaml. Installed the way Lambda lays a
// function out: code and data in /var/task/hello-fn (read-only to it),
// scratch space in /tmp/hello-fn.
//
//   hello-fn NAME                 answers "<greeting>, NAME!" and logs the request
//   hello-fn NAME --misbehave=X   also does one thing its policy forbids:
//     shadow      read /etc/shadow
//     write-code  append to its own code directory
//     exec-sh     run /bin/sh
//     connect     open a TCP connection to 127.0.0.2:9
//     shellcode   map anonymous memory writable and executable
//
// Plain POSIX calls on purpose: each misbehaviour is exactly one operation,
// so each should be exactly one violation.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr const char* kCodeDir = "/var/task/hello-fn";
constexpr const char* kScratchDir = "/tmp/hello-fn";

std::string read_file(const std::string& path) {
    std::string out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// Each returns what the operation's errno was (0: it worked), for the caller to print.
int misbehave(const std::string& what) {
    if (what == "shadow") {
        const int fd = ::open("/etc/shadow", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno;
        ::close(fd);
        return 0;
    }
    if (what == "write-code") {
        const int fd = ::open((std::string(kCodeDir) + "/greeting.txt").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0) return errno;
        const bool ok = ::write(fd, "pwned\n", 6) == 6;
        ::close(fd);
        return ok ? 0 : errno;
    }
    if (what == "exec-sh") {
        ::execl("/bin/sh", "sh", "-c", "true", static_cast<char*>(nullptr));
        return errno;
    }
    if (what == "shellcode") {
        // Writable and executable anonymous memory: where injected code runs.
        void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) return errno;
        ::munmap(page, 4096);
        return 0;
    }
    if (what == "connect") {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return errno;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(9);
        ::inet_pton(AF_INET, "127.0.0.2", &addr.sin_addr);
        const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        const int err = rc == 0 ? 0 : errno;
        ::close(fd);
        return err;
    }
    return EINVAL;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string name = argc > 1 ? argv[1] : "world";
    std::string greeting = read_file(std::string(kCodeDir) + "/greeting.txt");
    if (greeting.empty()) greeting = "Hello";

    ::mkdir(kScratchDir, 0700);
    const int log = ::open((std::string(kScratchDir) + "/requests.log").c_str(),
                           O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log >= 0) {
        const std::string line = name + "\n";
        if (::write(log, line.data(), line.size()) < 0) std::perror("hello-fn: log");
        ::close(log);
    }
    std::printf("%s, %s!\n", greeting.c_str(), name.c_str());
    std::fflush(stdout);

    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind("--misbehave=", 0) != 0) continue;
        const std::string what = arg.substr(12);
        const int err = misbehave(what);
        std::printf("misbehave %s: %s\n", what.c_str(), err ? std::strerror(err) : "done");
    }
    return 0;
}
