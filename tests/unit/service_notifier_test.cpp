// SPDX-License-Identifier: Apache-2.0
// The systemd notification protocol as the daemon speaks it: datagrams on
// $NOTIFY_SOCKET, watchdog pings at half of $WATCHDOG_USEC.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"
#include "daemon/service_notifier.hpp"

namespace fnw {
namespace {

using namespace std::chrono_literals;

// A service manager's end: a datagram socket at a temporary path, and the
// environment systemd sets for the service.
class FakeServiceManager {
public:
    explicit FakeServiceManager(const char* watchdog_usec) {
        path_ = std::filesystem::temp_directory_path() / ("fnw-notify-" + std::to_string(::getpid()));
        std::filesystem::remove(path_);
        sock_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.string().copy(addr.sun_path, sizeof(addr.sun_path) - 1);
        EXPECT_EQ(::bind(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
        ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
        if (watchdog_usec) {
            ::setenv("WATCHDOG_USEC", watchdog_usec, 1);
            ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
        }
    }
    ~FakeServiceManager() {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
        std::filesystem::remove(path_);
    }
    std::vector<std::string> received() {
        std::vector<std::string> out;
        char buf[256];
        for (ssize_t n; (n = ::recv(sock_.get(), buf, sizeof(buf), 0)) > 0;) out.emplace_back(buf, size_t(n));
        return out;
    }

private:
    std::filesystem::path path_;
    UniqueFd sock_;
};

TEST(ServiceNotifier, SaysReadyAndPingsTheWatchdogAtHalfItsInterval) {
    FakeServiceManager manager("100000");  // 100 ms
    ServiceNotifier notifier;
    ASSERT_TRUE(notifier.watchdog_interval());
    EXPECT_EQ(*notifier.watchdog_interval(), 100ms);

    notifier.ready();
    const auto t0 = std::chrono::steady_clock::now();
    notifier.alive(t0);         // first turn: ping
    notifier.alive(t0 + 20ms);  // too soon
    notifier.alive(t0 + 49ms);  // still too soon
    notifier.alive(t0 + 50ms);  // half the interval: ping
    notifier.alive(t0 + 60ms);
    notifier.stopping();
    EXPECT_EQ(notifier.pings(), 2u);
    EXPECT_EQ(manager.received(),
              (std::vector<std::string>{"READY=1\nSTATUS=guarding", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"}));
}

TEST(ServiceNotifier, NoWatchdogForAnotherProcessOrWithoutOne) {
    {
        FakeServiceManager manager(nullptr);
        ServiceNotifier notifier;
        EXPECT_FALSE(notifier.watchdog_interval());
        notifier.alive();
        notifier.ready();
        EXPECT_EQ(notifier.pings(), 0u);
        EXPECT_EQ(manager.received(), std::vector<std::string>{"READY=1\nSTATUS=guarding"});
    }
    {
        FakeServiceManager manager("100000");
        ::setenv("WATCHDOG_PID", "1", 1);  // the watchdog is some other process's
        ServiceNotifier notifier;
        EXPECT_FALSE(notifier.watchdog_interval());
    }
    // No service manager at all: nothing sent, nothing fails.
    ServiceNotifier alone;
    alone.ready();
    alone.alive();
    EXPECT_EQ(alone.pings(), 0u);
}

}  // namespace
}  // namespace fnw
