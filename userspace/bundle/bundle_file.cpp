// SPDX-License-Identifier: Apache-2.0
#include "bundle/bundle_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"

namespace fnw {

Result<std::string> read_bounded_file(const std::filesystem::path& path, size_t limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd.valid()) return fail(std::string("cannot read file: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(std::string("cannot stat file: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail("not a regular file");
    const std::string over = "file larger than " + std::to_string(limit) + " bytes";
    if (static_cast<uint64_t>(st.st_size) > limit) return fail(over);
    // One byte more than the limit: the file may grow after fstat.
    std::string bytes(static_cast<size_t>(st.st_size) + 1, '\0');
    size_t filled = 0;
    for (;;) {
        if (filled == bytes.size()) {
            if (bytes.size() > limit) return fail(over);
            bytes.resize(std::min(limit + 1, bytes.size() * 2));
        }
        const ssize_t n = ::read(fd.get(), bytes.data() + filled, bytes.size() - filled);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("cannot read file: ") + std::strerror(errno));
        if (n == 0) break;
        filled += static_cast<size_t>(n);
    }
    if (filled > limit) return fail(over);
    bytes.resize(filled);
    return bytes;
}

}  // namespace fnw
