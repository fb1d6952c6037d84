// SPDX-License-Identifier: Apache-2.0
// A function's files section as userspace checks it: the canonical path of
// a file event, and which of the rights it needs the policy grants.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fnwarden/events.h>

#include "core/path_glob.hpp"
#include "core/policy.hpp"

namespace fnw {

// "read", "write", "create", "delete", "exec": the policy's words for FNW_FILE_*.
std::vector<std::string> file_access_names(uint32_t access);

// The files and exec sections compiled once per policy: one glob set per
// right (exec.allow is FNW_FILE_EXEC).
class FileMatcher {
public:
    FileMatcher() = default;  // grants nothing
    // Fails with the first pattern that does not compile (PathGlobSet::compile).
    static Result<FileMatcher> compile(const FileRules& rules, const ExecRules& exec = {});

    // The FNW_FILE_* rights in `access` that no pattern grants on `path`
    // (0: allowed). A path that is not absolute is granted nothing.
    uint32_t missing(std::string_view path, uint32_t access) const;

private:
    PathGlobSet read_, write_, create_, delete_, exec_;
};

// How the path of a file event was established, from most to least trusted
// (docs/events.md, "path_source").
enum class PathSource {
    Kernel,    // the opened object's dentries, walked in the kernel
    Resolved,  // resolved after the fact in the process's root, symlinks followed
    Base,      // the kernel-resolved cwd/dirfd, joined with the relative name (symlinks in it as given)
    Lexical,   // the name as given, "." and ".." folded (symlinks as given)
};

std::string_view to_string(PathSource source);

struct EventPath {
    std::string path;
    PathSource source = PathSource::Lexical;
    bool truncated = false;  // the kernel cut a name or its walk: not the whole path
    // Why it is not resolved (Base or Lexical): "process exited", "too many
    // links", ... Empty when nothing better could have been had.
    std::string_view reason;
};

// Joins `base` (absolute) and `name`, folding "." and ".." lexically; an
// absolute `name` ignores `base`. ".." never climbs above "/".
std::string join_path(std::string_view base, std::string_view name);

// The canonical path of `ev`'s primary name (see fnw_resolved_kind). Pure:
// what userspace could add after the fact is already in the record
// (runtime/path_resolver.hpp). A relative name whose base nobody could
// read stays relative, and matches no pattern.
EventPath event_path(const fnw_file_event& ev);

// The same for the second name of a rename or link (the new name, the
// existing one): resolved after the fact, or joined with the first name's
// base when both start from the same directory, else as given.
EventPath event_path2(const fnw_file_event& ev);

// resolve_note in words: "process exited", "too many links"...; empty for none.
std::string_view resolve_note_text(uint8_t note);

}  // namespace fnw
