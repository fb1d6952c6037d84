// SPDX-License-Identifier: Apache-2.0
// Where a policy's paths are looked up when its file rules are compiled.
// Patterns mean paths as the function sees them (docs/policy.md): for a
// function in fnwarden's own root that is fnwarden's open(); for one in a
// container or a chroot, probes/root_opener.hpp resolves them inside that
// root.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "common/unique_fd.hpp"

namespace fnw {

class PathOpener {
public:
    virtual ~PathOpener() = default;
    // An O_PATH descriptor of the object `path` names, symlinks followed
    // (the kernel sees what they name); invalid with errno set.
    virtual UniqueFd open(const std::string& path) const = 0;
    // `path` without symlinks, "." or "..", as this root names it.
    virtual std::optional<std::filesystem::path> canonical(const std::string& path) const = 0;
    // A root other than fnwarden's own: which one, for --explain.
    virtual std::string foreign_root() const { return {}; }
    // Whether an overlayfs object's inode number (`ino` on overlay device
    // `dev`, generation 0) names it for as long as the rules are in force:
    // see RootOpener. Never in fnwarden's own root, where overlay objects
    // stay matched by name (file_rules.cpp).
    virtual bool overlay_identity_is_stable(const std::filesystem::path& /*canonical_path*/, uint64_t /*dev*/,
                                            uint64_t /*ino*/) const {
        return false;
    }
};

// fnwarden's own root and mount namespace.
class OwnRootOpener final : public PathOpener {
public:
    UniqueFd open(const std::string& path) const override {
        return UniqueFd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    }
    std::optional<std::filesystem::path> canonical(const std::string& path) const override {
        std::error_code ec;
        std::filesystem::path found = std::filesystem::canonical(path, ec);
        if (ec) return std::nullopt;
        return found;
    }
};

}  // namespace fnw
