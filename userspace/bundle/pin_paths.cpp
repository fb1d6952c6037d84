// SPDX-License-Identifier: Apache-2.0
#include "bundle/pin_paths.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;

// "" or why `path` cannot be a deployed location: a pin names the path the
// function will open, so it must say it exactly.
std::string deployed_problem(const fs::path& path) {
    if (!path.is_absolute()) return "is not absolute";
    for (const fs::path& part : path.relative_path())
        if (part == "." || part == "..") return "has a \".\" or \"..\" component";
    return "";
}

}  // namespace

Result<PinSource> parse_pin_argument(std::string_view argument, const fs::path& cwd) {
    const size_t equals = argument.find('=');
    const std::string_view local = argument.substr(0, equals);
    if (local.empty()) return fail("--pin \"" + std::string(argument) + "\": no local path before \"=\"");
    PinSource source;
    source.local = (cwd / fs::path(local)).lexically_normal();
    if (equals == std::string_view::npos) {
        source.deployed = source.local;
    } else {
        const fs::path deployed(argument.substr(equals + 1));
        if (std::string problem = deployed_problem(deployed); !problem.empty())
            return fail("--pin \"" + std::string(argument) + "\": the deployed path " + problem);
        source.deployed = deployed.lexically_normal();
    }
    // "/build/fn/" and "/build/fn" are one directory.
    if (source.local.has_relative_path() && !source.local.has_filename()) source.local = source.local.parent_path();
    if (source.deployed.has_relative_path() && !source.deployed.has_filename())
        source.deployed = source.deployed.parent_path();
    return source;
}

std::string deployed_pin_path(const PinSource& source, const fs::path& file) {
    const fs::path below = file.lexically_normal().lexically_relative(source.local);
    if (below.empty() || below == ".") return source.deployed.string();
    return (source.deployed / below).lexically_normal().string();
}

}  // namespace fnw
