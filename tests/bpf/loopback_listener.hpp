// SPDX-License-Identifier: Apache-2.0
// A TCP listener on loopback for BPF tests that connect to something real.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"

namespace fnw::test {

// A TCP listener on loopback in the test process (outside every monitored
// cgroup, so the hooks let it bind), on a kernel-chosen port.
struct Listener {
    UniqueFd fd;
    uint16_t port = 0;

    static Listener open(bool v6) {
        Listener l;
        l.fd.reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_storage addr{};
        socklen_t len;
        if (v6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            len = sizeof(*a);
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&addr);
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof(*a);
        }
        EXPECT_EQ(::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
        EXPECT_EQ(::listen(l.fd.get(), 16), 0);
        EXPECT_EQ(::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
        l.port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
        return l;
    }
};

}  // namespace fnw::test
