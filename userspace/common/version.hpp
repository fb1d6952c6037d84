// SPDX-License-Identifier: Apache-2.0
// fnwarden's version and the commit it was built from. The version is
// written once, in CMakeLists.txt's project(); the commit is read at build
// time (cmake/BuildVersion.cmake). Everything that prints or stamps a
// version (--version, status, the .deb, man pages, image labels) takes it
// from there.
#pragma once

#include <string>
#include <string_view>

namespace fnw {

// "0.1.0": CMakeLists.txt's project(fnwarden VERSION ...).
std::string_view fnwarden_version();

// The first 12 hex digits of the commit built, with "-dirty" when tracked
// files had uncommitted changes; "unknown" outside a git checkout.
std::string_view build_commit();

// "fnwarden 0.1.0 (commit 0123456789ab)": what --version prints.
std::string version_line();

}  // namespace fnw
