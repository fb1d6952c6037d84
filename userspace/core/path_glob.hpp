// SPDX-License-Identifier: Apache-2.0
// Path patterns (spec.files, spec.exec) compiled to regexes, matched against
// the canonical absolute paths of file accesses.
//
// Syntax (checked by validate_path_pattern, core/policy.hpp): absolute,
// '/'-separated, no "." or ".." or empty segments. `*` matches characters
// within one segment (never '/', and a leading '.' too); `**`, a whole
// segment, matches zero or more whole segments, so "/a/**" is /a and
// everything beneath it. Everything else is literal. A pattern matches the
// whole path, byte for byte (paths need not be UTF-8).
//
// Two details of canonical paths shape the regexes: no path has an empty
// segment, so a segment that is only `*` needs at least one byte ("/*" does
// not match "/"); and no path but "/" ends in '/', so a pattern's trailing
// '/' (which the validator allows) is dropped: "/a/" is "/a".
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fnw {

// The RE2 regex equivalent to one validated pattern, without anchors (the
// caller matches it against the whole path, in Latin-1 mode).
std::string glob_to_regex(std::string_view pattern);

// A list of patterns (one policy section) compiled once into one RE2::Set:
// matching is linear in the path whatever the number of patterns, and no
// path can make it backtrack. Immutable once compiled: safe to match from
// several threads, and copies share the compiled set.
class PathGlobSet {
public:
    // Matches nothing.
    PathGlobSet() = default;

    // Fails, with a message naming the pattern, when a pattern is invalid
    // (see validate_path_pattern) or does not compile, or when the patterns
    // together exceed the set's memory budget.
    static Result<PathGlobSet> compile(const std::vector<std::string>& patterns);

    // The index (into the list given to compile()) of the first matching
    // pattern, or nullopt when none matches `path`.
    std::optional<size_t> match(std::string_view path) const;

    bool empty() const { return patterns_.empty(); }
    size_t size() const { return patterns_.size(); }
    const std::string& pattern(size_t index) const { return patterns_.at(index); }

private:
    struct Compiled;  // the RE2::Set: keeps <re2/set.h> out of this header

    std::vector<std::string> patterns_;
    std::shared_ptr<const Compiled> compiled_;  // null when empty
};

// What the kernel can check on its own, by inode: an exact path, or a
// directory and everything beneath it.
struct KernelPathRule {
    enum class Kind { Exact, Subtree };
    Kind kind = Kind::Exact;
    std::string path;  // no trailing '/', except "/" itself
    bool operator==(const KernelPathRule&) const = default;
};

// A pattern without wildcards -> Exact; "<literal dir>/**" (its only
// wildcards are final "**" segments) -> Subtree of that directory ("/" for
// "/**"). Anything else (a `*` in a segment, a `**` before a literal
// segment) or an invalid pattern -> nullopt: only a regex can check it.
std::optional<KernelPathRule> kernel_path_rule(std::string_view pattern);

}  // namespace fnw
