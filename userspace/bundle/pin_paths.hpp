// SPDX-License-Identifier: Apache-2.0
// Where a code pin's file is hashed and where the manifest says it lives.
// A pipeline builds the bundle from a checkout (/build/fn) for a function
// deployed elsewhere (/var/task/fn): `--pin /build/fn=/var/task/fn` hashes
// the files under /build/fn and records them under /var/task/fn, the paths
// the daemon compares with what the function opens. Pure: no I/O.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace fnw {

struct PinSource {
    std::filesystem::path local;     // absolute, normalised: the file or directory hashed
    std::filesystem::path deployed;  // absolute, normalised: what the manifest records for `local`
};

// One --pin argument: "PATH" (recorded as its own absolute path) or
// "PATH=DEPLOYED" (split at the first '='; DEPLOYED absolute, without
// "." or ".." components). A relative PATH is taken from `cwd`.
Result<PinSource> parse_pin_argument(std::string_view argument, const std::filesystem::path& cwd);

// The manifest path of `file`, which is `source.local` or lies under it
// (absolute, normalised): `source.deployed` plus the part below `local`.
std::string deployed_pin_path(const PinSource& source, const std::filesystem::path& file);

}  // namespace fnw
