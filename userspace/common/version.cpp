// SPDX-License-Identifier: Apache-2.0
#include "common/version.hpp"

// Generated into the build tree at every build (cmake/BuildVersion.cmake);
// only this file includes it, so a new commit recompiles one file.
#include "fnw_build_version.hpp"

namespace fnw {

std::string_view fnwarden_version() { return FNW_VERSION; }

std::string_view build_commit() { return FNW_BUILD_COMMIT; }

std::string version_line() {
    return "fnwarden " + std::string(fnwarden_version()) + " (commit " + std::string(build_commit()) + ")";
}

}  // namespace fnw
