// SPDX-License-Identifier: Apache-2.0
#include "core/path_glob.hpp"

#include <algorithm>

#include <re2/re2.h>
#include <re2/set.h>

#include "core/policy.hpp"

namespace fnw {

namespace {

// RE2, not std::regex, for the reasons in core/selector.cpp: the path is
// chosen by the process being watched, and must not be able to make a match
// slow (backtracking) or crash it (recursion per character).
//
// Memory budget of one set (compiled program plus DFA cache, RE2's default
// for a single regex). An RE2::Set has no NFA to fall back to, so this is
// what caps a section's patterns: about 130k regex instructions, i.e. some
// thirty patterns of PATH_MAX literal bytes, or thousands of ordinary ones.
// The DFA cache grows as paths are matched, up to the budget.
constexpr int64_t kSetMemoryBudget = 8 << 20;

// One whole path segment: non-empty (canonical paths have no "//"), no '/'.
constexpr std::string_view kSegment = "[^/]+";

RE2::Options glob_regex_options() {
    RE2::Options options;
    // Paths are bytes, not text: in Latin-1 every byte is one character, so
    // "[^/]" matches bytes that are not valid UTF-8 (which in UTF-8 mode
    // would match nothing, and an oddly named file would slip out of "/tmp/*").
    // UTF-8 in a pattern is still matched byte for byte.
    options.set_encoding(RE2::Options::EncodingLatin1);
    // Errors are returned to the caller, not printed to stderr.
    options.set_log_errors(false);
    options.set_max_mem(kSetMemoryBudget);
    return options;
}

re2::StringPiece piece(std::string_view text) { return re2::StringPiece(text.data(), text.size()); }

// The segments of a validated pattern: "/" -> {}, "/a/b" and "/a/b/" -> {a, b}.
std::vector<std::string_view> segments_of(std::string_view pattern) {
    std::vector<std::string_view> segments;
    size_t start = 1;
    while (start < pattern.size()) {
        size_t end = pattern.find('/', start);
        if (end == std::string_view::npos) end = pattern.size();
        segments.push_back(pattern.substr(start, end - start));
        start = end + 1;
    }
    return segments;
}

// One segment with `*` in it and no '/': literal runs quoted, so '.', '+',
// '(', '$', '\' in file names stay literal.
void append_segment_regex(std::string_view segment, std::string& regex) {
    // A lone "*" is a whole segment, which is never empty: "/*" is not "/".
    if (segment == "*") {
        regex += kSegment;
        return;
    }
    size_t start = 0;
    while (start < segment.size()) {
        size_t star = segment.find('*', start);
        if (star == std::string_view::npos) star = segment.size();
        if (star > start) regex += RE2::QuoteMeta(piece(segment.substr(start, star - start)));
        if (star == segment.size()) return;
        regex += "[^/]*";
        start = star + 1;
    }
}

}  // namespace

std::string glob_to_regex(std::string_view pattern) {
    const std::vector<std::string_view> segments = segments_of(pattern);
    if (segments.empty()) return "/";
    // Only "**": every absolute path, "/" included, which "(?:/seg)*" would
    // miss (zero segments is "", not "/").
    if (std::all_of(segments.begin(), segments.end(), [](std::string_view s) { return s == "**"; }))
        return "/(?:[^/]+(?:/[^/]+)*)?";

    std::string regex;
    bool after_globstar = false;
    for (std::string_view segment : segments) {
        if (segment == "**") {
            // Zero or more whole segments, each with its leading '/': "/a/**"
            // is /a and beneath, "/a/**/b" includes /a/b. Consecutive "**"
            // mean the same as one.
            if (!after_globstar) regex += "(?:/[^/]+)*";
            after_globstar = true;
            continue;
        }
        after_globstar = false;
        regex += '/';
        append_segment_regex(segment, regex);
    }
    return regex;
}

struct PathGlobSet::Compiled {
    explicit Compiled(const RE2::Options& options) : set(options, RE2::ANCHOR_BOTH) {}
    RE2::Set set;
};

Result<PathGlobSet> PathGlobSet::compile(const std::vector<std::string>& patterns) {
    PathGlobSet result;
    if (patterns.empty()) return result;

    auto compiled = std::make_shared<Compiled>(glob_regex_options());
    for (size_t i = 0; i < patterns.size(); ++i) {
        const std::string& pattern = patterns[i];
        // The parser has checked already; a pattern from elsewhere that is
        // not valid would be translated into a regex that means something else.
        if (std::string why = validate_path_pattern(pattern); !why.empty())
            return fail("path pattern \"" + pattern + "\" " + why);
        std::string why;
        // Add() numbers patterns in order, from 0: the set's indices are ours.
        if (compiled->set.Add(piece(glob_to_regex(pattern)), &why) != static_cast<int>(i))
            return fail("path pattern \"" + pattern + "\" does not compile: " + why);
    }
    // Compile() fails when the program, or the DFA's minimum working room,
    // does not fit in the budget.
    if (!compiled->set.Compile()) {
        if (patterns.size() == 1)
            return fail("path pattern \"" + patterns[0] + "\" exceeds the regex memory budget (" +
                        std::to_string(kSetMemoryBudget >> 20) + " MiB)");
        return fail(std::to_string(patterns.size()) + " path patterns, from \"" + patterns[0] +
                    "\", exceed the regex memory budget together (" + std::to_string(kSetMemoryBudget >> 20) +
                    " MiB): split or shorten them");
    }
    result.patterns_ = patterns;
    result.compiled_ = std::move(compiled);
    return result;
}

std::optional<size_t> PathGlobSet::match(std::string_view path) const {
    if (!compiled_) return std::nullopt;
    std::vector<int> hits;
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    if (compiled_->set.Match(piece(path), &hits, &info))
        return static_cast<size_t>(*std::min_element(hits.begin(), hits.end()));
    if (info.kind == RE2::Set::kNoError) return std::nullopt;

    // The set's DFA gave up (out of memory). Compile() checked it has room
    // to work, so this is not expected; but "no match" here would be a
    // spurious violation, so answer pattern by pattern instead: slower, and
    // each RE2 falls back to its NFA, still linear in the path.
    for (size_t i = 0; i < patterns_.size(); ++i) {
        const RE2 regex(glob_to_regex(patterns_[i]), glob_regex_options());
        if (regex.ok() && RE2::FullMatch(piece(path), regex)) return i;
    }
    return std::nullopt;
}

std::optional<KernelPathRule> kernel_path_rule(std::string_view pattern) {
    if (!validate_path_pattern(pattern).empty()) return std::nullopt;
    const std::vector<std::string_view> segments = segments_of(pattern);
    // Final "**" segments make a subtree; any other wildcard needs a regex.
    size_t literal = segments.size();
    while (literal > 0 && segments[literal - 1] == "**") --literal;
    std::string path;
    for (size_t i = 0; i < literal; ++i) {
        if (segments[i].find('*') != std::string_view::npos) return std::nullopt;
        path += '/';
        path += segments[i];
    }
    if (path.empty()) path = "/";
    return KernelPathRule{literal == segments.size() ? KernelPathRule::Kind::Exact : KernelPathRule::Kind::Subtree,
                          std::move(path)};
}

}  // namespace fnw
