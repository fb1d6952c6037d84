// SPDX-License-Identifier: Apache-2.0
// Run in a fresh process by FileAppender.StartsNoThreadBeforeItsFirstBytes:
// whether an appender keeps the process single-threaded until it is handed
// bytes. `fnwarden run` starts its function inside its cgroup only while no
// other thread exists (function_runner.cpp, fork_into_cgroup).
// Exit: 0 as it should be; 1 a thread with nothing to write; 2 the process
// was not single-threaded to begin with; 3 /dev/null did not open; 4 bytes
// written without the thread.
#include <sys/single_threaded.h>
#include <unistd.h>

#include "output/file_appender.hpp"

int main() {
    if (!__libc_single_threaded) return 2;
    {
        auto idle = fnw::FileAppender::borrow(STDOUT_FILENO);
        idle->idle();
        idle->flush();
        if (!__libc_single_threaded) return 1;
    }
    auto used = fnw::FileAppender::open("/dev/null");
    if (!used) return 3;
    (*used)->batch() += "x\n";
    (*used)->flush();
    return __libc_single_threaded ? 4 : 0;
}
