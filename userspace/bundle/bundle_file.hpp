// SPDX-License-Identifier: Apache-2.0
// Reading a file that must be small: a bundle, a key.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace fnw {

// The bytes of a regular file of at most `limit` bytes, or why not.
// Opened non-blocking and checked on the open descriptor: a FIFO at the
// path must not hang the daemon, and no rename between a check and the
// open can slip another file in. The message of a file over the limit
// starts with "file larger than".
Result<std::string> read_bounded_file(const std::filesystem::path& path, size_t limit);

}  // namespace fnw
