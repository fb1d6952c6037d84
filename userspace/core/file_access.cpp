// SPDX-License-Identifier: Apache-2.0
#include "core/file_access.hpp"

#include <cstring>

#include <fnwarden/kernel_abi.h>

namespace fnw {

std::vector<std::string> file_access_names(uint32_t access) {
    std::vector<std::string> out;
    if (access & FNW_FILE_READ) out.emplace_back("read");
    if (access & FNW_FILE_WRITE) out.emplace_back("write");
    if (access & FNW_FILE_CREATE) out.emplace_back("create");
    if (access & FNW_FILE_DELETE) out.emplace_back("delete");
    if (access & FNW_FILE_EXEC) out.emplace_back("exec");
    return out;
}

Result<FileMatcher> FileMatcher::compile(const FileRules& rules, const ExecRules& exec) {
    FileMatcher m;
    const std::pair<const std::vector<std::string>*, PathGlobSet*> sections[] = {
        {&rules.read, &m.read_},     {&rules.write, &m.write_}, {&rules.create, &m.create_},
        {&rules.remove, &m.delete_}, {&exec.allow, &m.exec_}};
    for (const auto& [patterns, set] : sections) {
        auto compiled = PathGlobSet::compile(*patterns);
        if (!compiled) return fail(compiled.error());
        *set = std::move(*compiled);
    }
    return m;
}

uint32_t FileMatcher::missing(std::string_view path, uint32_t access) const {
    if (path.empty() || path.front() != '/') return access;
    uint32_t missing = 0;
    const std::pair<uint32_t, const PathGlobSet*> sections[] = {
        {FNW_FILE_READ, &read_},     {FNW_FILE_WRITE, &write_}, {FNW_FILE_CREATE, &create_},
        {FNW_FILE_DELETE, &delete_}, {FNW_FILE_EXEC, &exec_}};
    for (const auto& [right, set] : sections)
        if ((access & right) && !set->match(path)) missing |= right;
    return missing;
}

std::string_view to_string(PathSource source) {
    switch (source) {
    case PathSource::Kernel: return "kernel";
    case PathSource::Resolved: return "resolved";
    case PathSource::Base: return "kernel-base";
    case PathSource::Lexical: return "lexical";
    }
    return "unknown";
}

std::string_view resolve_note_text(uint8_t note) {
    switch (note) {
    case FNW_RESOLVE_NOTE_PROCESS_GONE: return "process exited";
    case FNW_RESOLVE_NOTE_TOO_MANY_LINKS: return "too many links";
    case FNW_RESOLVE_NOTE_BASE_UNREADABLE: return "base unreadable";
    case FNW_RESOLVE_NOTE_NAME_TRUNCATED: return "name truncated";
    case FNW_RESOLVE_NOTE_LOOKUP_FAILED: return "lookup failed";
    case FNW_RESOLVE_NOTE_TOO_LONG: return "path too long";
    }
    return {};
}

std::string join_path(std::string_view base, std::string_view name) {
    std::vector<std::string_view> segments;
    auto push = [&](std::string_view text) {
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('/', start);
            if (end == std::string_view::npos) end = text.size();
            std::string_view seg = text.substr(start, end - start);
            if (seg == "..") {
                if (!segments.empty()) segments.pop_back();
            } else if (!seg.empty() && seg != ".") {
                segments.push_back(seg);
            }
            start = end + 1;
        }
    };
    if (name.empty() || name.front() != '/') push(base);
    push(name);
    std::string out;
    for (auto seg : segments) {
        out += '/';
        out += seg;
    }
    return out.empty() ? "/" : out;
}

namespace {

std::string bounded(const char* text, size_t size) { return std::string(text, strnlen(text, size)); }

// One name, its directory fd, and what the kernel resolved for it.
EventPath path_of(std::string_view raw, bool raw_truncated, bool kernel_base, const fnw_file_event& ev) {
    const std::string resolved = bounded(ev.resolved, sizeof(ev.resolved));
    EventPath out;
    out.reason = resolve_note_text(ev.resolve_note);
    out.truncated = raw_truncated;
    if (!raw.empty() && raw.front() == '/') {
        out.path = join_path("/", raw);
        out.source = PathSource::Lexical;
    } else if (kernel_base) {
        out.path = join_path(resolved, raw);
        out.source = PathSource::Base;
        out.truncated = out.truncated || ev.resolved_truncated != 0;
    } else {
        // Nobody could read the base: not a path, and it matches nothing.
        out.path = std::string(raw);
        out.source = PathSource::Lexical;
        if (out.reason.empty()) out.reason = resolve_note_text(FNW_RESOLVE_NOTE_BASE_UNREADABLE);
    }
    return out;
}

}  // namespace

EventPath event_path(const fnw_file_event& ev) {
    EventPath out;
    if (ev.resolved_kind == FNW_RESOLVED_OBJECT) {
        out.path = bounded(ev.resolved, sizeof(ev.resolved));
        out.source = PathSource::Kernel;
        out.truncated = ev.resolved_truncated != 0;
        return out;
    }
    if (ev.resolved_kind == FNW_RESOLVED_USER) {
        out.path = bounded(ev.resolved, sizeof(ev.resolved));
        out.source = PathSource::Resolved;
        return out;
    }
    return path_of(bounded(ev.path, sizeof(ev.path)), ev.path_truncated != 0,
                   ev.resolved_kind == FNW_RESOLVED_BASE, ev);
}

EventPath event_path2(const fnw_file_event& ev) {
    const std::string raw = bounded(ev.path2, sizeof(ev.path2));
    if (ev.resolved_kind == FNW_RESOLVED_USER) {
        const size_t first = strnlen(ev.resolved, sizeof(ev.resolved));
        if (first + 1 < sizeof(ev.resolved) && ev.resolved[first + 1] != '\0') {
            EventPath out;
            out.path = bounded(ev.resolved + first + 1, sizeof(ev.resolved) - first - 1);
            out.source = PathSource::Resolved;
            return out;
        }
        // Resolved for the first name only: the kernel's base is gone.
        return path_of(raw, ev.path2_truncated != 0, false, ev);
    }
    // The kernel's base is the first name's directory.
    return path_of(raw, ev.path2_truncated != 0, ev.resolved_kind == FNW_RESOLVED_BASE && ev.dfd2 == ev.dfd, ev);
}

}  // namespace fnw
