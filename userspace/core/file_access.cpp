#include "core/file_access.hpp"

#include <cstring>
#include <filesystem>

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
    case PathSource::Base: return "kernel-base";
    case PathSource::Lexical: return "lexical";
    case PathSource::Proc: return "proc";
    }
    return "unknown";
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

}  // namespace

EventPath event_path(const fnw_file_event& ev) {
    const std::string raw = bounded(ev.path, sizeof(ev.path));
    const std::string resolved = bounded(ev.resolved, sizeof(ev.resolved));
    EventPath out;
    out.truncated = ev.resolved_truncated != 0 || ev.path_truncated != 0;
    if (ev.resolved_kind == FNW_RESOLVED_OBJECT) {
        out.path = resolved;
        out.source = PathSource::Kernel;
        out.truncated = ev.resolved_truncated != 0;
    } else if (!raw.empty() && raw.front() == '/') {
        out.path = join_path("/", raw);
        out.source = PathSource::Lexical;
    } else if (ev.resolved_kind == FNW_RESOLVED_BASE) {
        out.path = join_path(resolved, raw);
        out.source = PathSource::Base;
    } else {
        // The kernel could not read the base: /proc now, if the process lives.
        constexpr int32_t kAtFdcwd = -100;
        std::error_code ec;
        const std::string link = "/proc/" + std::to_string(ev.hdr.pid) +
                                 (ev.dfd == kAtFdcwd ? "/cwd" : "/fd/" + std::to_string(ev.dfd));
        auto dir = std::filesystem::read_symlink(link, ec);
        out.path = ec ? raw : join_path(dir.string(), raw);
        out.source = PathSource::Proc;
        out.truncated = out.truncated || ec;
    }
    return out;
}

}  // namespace fnw
