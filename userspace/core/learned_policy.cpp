// SPDX-License-Identifier: Apache-2.0
#include "core/learned_policy.hpp"

#include <algorithm>
#include <map>

#include <fnwarden/kernel_abi.h>

namespace fnw {

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string parent_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// `path` is `dir` or beneath it.
bool within(std::string_view path, std::string_view dir) {
    if (dir == "/") return true;
    return path.substr(0, dir.size()) == dir && (path.size() == dir.size() || path[dir.size()] == '/');
}

constexpr std::string_view kTempRoots[] = {"/tmp", "/var/tmp", "/dev/shm"};
// Read by every program (libraries, configuration, kernel state): a
// function never owns these, however many of their files it read.
constexpr std::string_view kSystemDirs[] = {"/usr", "/etc", "/lib", "/lib32", "/lib64", "/bin", "/sbin",
                                            "/boot", "/proc", "/sys", "/dev", "/run", "/var/lib"};

bool beneath_temp_root(std::string_view dir) {
    return std::any_of(std::begin(kTempRoots), std::end(kTempRoots),
                       [&](std::string_view root) { return dir != root && within(dir, root); });
}

// A directory `dir/**` may never be learned for by count: the root, a
// top-level directory that is not a temp root, or anything in a system one.
bool never_generalised_by_count(std::string_view dir) {
    if (dir == "/" || dir.find('/', 1) == std::string_view::npos) return true;
    if (beneath_temp_root(dir)) return false;
    return std::any_of(std::begin(kSystemDirs), std::end(kSystemDirs),
                       [&](std::string_view sys) { return within(dir, sys); });
}

struct PathsByRight {
    std::set<std::string> read, write, create, remove, exec;
    std::set<std::string> all() const {
        std::set<std::string> every;
        for (const auto* right : {&read, &write, &create, &remove, &exec}) every.insert(right->begin(), right->end());
        return every;
    }
};

PathsByRight stable_paths(const LearnedAccesses& seen) {
    PathsByRight out;
    auto copy = [](const std::set<std::string>& from, std::set<std::string>& to) {
        for (const auto& path : from) to.insert(stable_path(path));
    };
    copy(seen.read, out.read);
    copy(seen.write, out.write);
    copy(seen.create, out.create);
    copy(seen.remove, out.remove);
    copy(seen.exec, out.exec);
    return out;
}

// The distinct entries directly in `dir` that `paths` use (a path deeper
// down counts as the child of `dir` it is beneath).
size_t entries_of(const std::set<std::string>& paths, const std::string& dir) {
    std::set<std::string_view> children;
    const size_t start = dir == "/" ? 1 : dir.size() + 1;
    for (const auto& path : paths) {
        if (path.size() <= start || !within(path, dir)) continue;
        const std::string_view rest = std::string_view(path).substr(start);
        children.insert(rest.substr(0, rest.find('/')));
    }
    return children.size();
}

// The directories whose whole subtree is learned as `dir/**`, none beneath
// another.
std::set<std::string> generalised_dirs(const PathsByRight& paths) {
    std::set<std::string> dirs;
    // Created or deleted in: forced, whatever the count.
    for (const auto* right : {&paths.create, &paths.remove})
        for (const auto& path : *right) dirs.insert(parent_of(path));
    // The rest, not beneath a forced one: a directory written in, or a temp
    // directory, with many entries of its own.
    std::set<std::string> rest;
    for (const auto& path : paths.all())
        if (std::none_of(dirs.begin(), dirs.end(), [&](const std::string& d) { return within(path, d); }))
            rest.insert(path);
    std::set<std::string> owned;
    for (const auto& path : paths.write)
        if (rest.count(path)) owned.insert(parent_of(path));
    for (const auto& path : rest)
        for (std::string dir = parent_of(path); dir != "/"; dir = parent_of(dir))
            if (beneath_temp_root(dir)) owned.insert(dir);
    for (const auto& dir : owned)
        if (!never_generalised_by_count(dir) && entries_of(rest, dir) >= kManyEntries) dirs.insert(dir);
    // Keep the shallowest: a directory beneath another one is covered.
    std::set<std::string> minimal;
    for (const auto& dir : dirs)
        if (std::none_of(minimal.begin(), minimal.end(), [&](const std::string& top) { return within(dir, top); }))
            minimal.insert(dir);
    return minimal;
}

std::vector<std::string> patterns(const std::set<std::string>& paths, const std::set<std::string>& dirs) {
    std::set<std::string> out;
    for (const auto& path : paths) {
        const auto dir = std::find_if(dirs.begin(), dirs.end(), [&](const std::string& d) { return within(path, d); });
        out.insert(dir == dirs.end() ? path : (*dir == "/" ? std::string("/**") : *dir + "/**"));
    }
    return {out.begin(), out.end()};
}

std::vector<EgressRule> egress_rules(const std::set<LearnedPeer>& peers) {
    // One rule per (address, protocol), its ports together.
    std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, std::set<uint16_t>> grouped;
    for (const auto& peer : peers) grouped[{peer.address, peer.protocol}].insert(peer.port);
    std::vector<EgressRule> rules;
    for (const auto& [key, ports] : grouped) {
        EgressRule rule;
        rule.network.address = key.first;
        rule.network.prefix = 128;
        rule.protocol = key.second;
        rule.ports.assign(ports.begin(), ports.end());
        rules.push_back(std::move(rule));
    }
    return rules;
}

template <class T>
void unite(std::vector<T>& into, const std::vector<T>& more) {
    for (const auto& value : more)
        if (std::find(into.begin(), into.end(), value) == into.end()) into.push_back(value);
}

void merge_egress(std::vector<EgressRule>& into, const std::vector<EgressRule>& more) {
    for (const auto& rule : more) {
        auto same = std::find_if(into.begin(), into.end(), [&](const EgressRule& r) {
            return r.network.address == rule.network.address && r.network.prefix == rule.network.prefix &&
                   r.protocol == rule.protocol;
        });
        if (same == into.end()) {
            into.push_back(rule);
        } else if (!same->ports.empty()) {  // empty: every port already
            if (rule.ports.empty()) {
                same->ports.clear();
            } else {
                std::set<uint16_t> ports(same->ports.begin(), same->ports.end());
                ports.insert(rule.ports.begin(), rule.ports.end());
                same->ports.assign(ports.begin(), ports.end());
            }
        }
    }
}

std::string joined(const std::vector<std::string>& items, size_t at_most = 6) {
    std::string text;
    for (size_t i = 0; i < items.size() && i < at_most; ++i) text += (i ? ", " : "") + items[i];
    if (items.size() > at_most) text += ", ...";
    return text;
}

// "1 entry", "3 entries".
std::string counted(size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string list_summary(const char* key, const std::vector<std::string>& patterns) {
    std::vector<std::string> globs;
    for (const auto& p : patterns)
        if (p.size() >= 3 && p.compare(p.size() - 3, 3, "/**") == 0) globs.push_back(p);
    std::string line = std::string(key) + ": " + counted(patterns.size(), "entry", "entries");
    if (!globs.empty()) line += ", " + std::to_string(globs.size()) + " as dir/**: " + joined(globs);
    return line;
}

}  // namespace

void LearnedAccesses::add_file(std::string_view path, uint32_t access) {
    if (path.empty() || path.front() != '/') return;
    const std::string p(path);
    if (access & FNW_FILE_READ) read.insert(p);
    if (access & FNW_FILE_WRITE) write.insert(p);
    if (access & FNW_FILE_CREATE) create.insert(p);
    if (access & FNW_FILE_DELETE) remove.insert(p);
    if (access & FNW_FILE_EXEC) {
        exec.insert(p);
        read.insert(p);
    }
}

std::string stable_path(std::string_view path) {
    if (!within(path, "/proc")) return std::string(path);
    std::string out;
    size_t start = 1;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        const std::string_view segment = path.substr(start, end - start);
        out += '/';
        out += all_digits(segment) ? std::string_view("*") : segment;
        start = end + 1;
    }
    return out;
}

FunctionPolicy policy_from_learned(const LearnedAccesses& seen, const FunctionPolicy& identity) {
    FunctionPolicy policy;
    policy.name = identity.name;
    policy.function = identity.function;
    policy.selector = identity.selector;
    policy.mode = identity.mode;
    policy.syscalls.allow = seen.syscalls;
    policy.syscalls.on_violation = ViolationAction::Deny;

    const PathsByRight paths = stable_paths(seen);
    const std::set<std::string> dirs = generalised_dirs(paths);
    policy.files.restricted = true;
    policy.files.read = patterns(paths.read, dirs);
    policy.files.write = patterns(paths.write, dirs);
    policy.files.create = patterns(paths.create, dirs);
    policy.files.remove = patterns(paths.remove, dirs);
    policy.files.on_violation = ViolationAction::Deny;
    policy.exec.restricted = true;
    policy.exec.allow = patterns(paths.exec, dirs);
    policy.exec.on_violation = ViolationAction::Deny;

    policy.network.restricted = true;
    policy.network.egress = egress_rules(seen.egress);
    for (const auto& [port, protocol] : seen.listen) policy.network.listen.push_back({port, protocol});
    policy.network.unix_sockets.assign(seen.unix_sockets.begin(), seen.unix_sockets.end());
    policy.network.on_violation = ViolationAction::Deny;

    policy.process = seen.process;
    policy.process.restricted = true;
    policy.process.on_violation = ViolationAction::Deny;
    return policy;
}

FunctionPolicy merge_policies(const FunctionPolicy& base, const FunctionPolicy& learned) {
    FunctionPolicy merged = base;
    if (!merged.syscalls.allow.all()) merged.syscalls.allow |= learned.syscalls.allow;
    if (merged.files.restricted) {
        unite(merged.files.read, learned.files.read);
        unite(merged.files.write, learned.files.write);
        unite(merged.files.create, learned.files.create);
        unite(merged.files.remove, learned.files.remove);
    }
    if (merged.exec.restricted) unite(merged.exec.allow, learned.exec.allow);
    if (merged.network.restricted) {
        merge_egress(merged.network.egress, learned.network.egress);
        for (const auto& rule : learned.network.listen)
            if (std::none_of(merged.network.listen.begin(), merged.network.listen.end(), [&](const ListenRule& r) {
                    return r.port == rule.port && (r.protocol == 0 || r.protocol == rule.protocol);
                }))
                merged.network.listen.push_back(rule);
        unite(merged.network.unix_sockets, learned.network.unix_sockets);
    }
    if (merged.process.restricted) {
        merged.process.ptrace |= learned.process.ptrace;
        merged.process.bpf |= learned.process.bpf;
        merged.process.exec_memory |= learned.process.exec_memory;
    }
    return merged;
}

std::vector<std::string> learned_summary(const FunctionPolicy& policy) {
    std::vector<std::string> lines;
    lines.push_back(policy.syscalls.allow.all() ? "syscalls: unrestricted"
                                                : "syscalls: " + std::to_string(policy.syscalls.allow.count()) +
                                                      " allowed");
    if (policy.files.restricted) {
        lines.push_back(list_summary("files.read", policy.files.read));
        lines.push_back(list_summary("files.write", policy.files.write));
        lines.push_back(list_summary("files.create", policy.files.create));
        lines.push_back(list_summary("files.delete", policy.files.remove));
    } else {
        lines.push_back("files: unrestricted");
    }
    lines.push_back(policy.exec.restricted
                        ? "exec: " + counted(policy.exec.allow.size(), "program", "programs") +
                              (policy.exec.allow.empty() ? "" : ": " + joined(policy.exec.allow))
                        : "exec: unrestricted");
    if (policy.network.restricted) {
        std::vector<std::string> peers, ports;
        for (const auto& rule : policy.network.egress) {
            std::string peer = format_network(rule.network) + (rule.protocol == 17 ? " udp" : "");
            for (size_t i = 0; i < rule.ports.size(); ++i) peer += (i ? "," : " port ") + std::to_string(rule.ports[i]);
            peers.push_back(peer);
        }
        for (const auto& rule : policy.network.listen)
            ports.push_back(std::to_string(rule.port) + (rule.protocol == 17 ? "/udp" : ""));
        lines.push_back("network.egress: " + counted(peers.size(), "peer", "peers") +
                        (peers.empty() ? "" : ": " + joined(peers)));
        lines.push_back("network.listen: " + counted(ports.size(), "port", "ports") +
                        (ports.empty() ? "" : ": " + joined(ports)));
        lines.push_back("network.unix: " + counted(policy.network.unix_sockets.size(), "socket", "sockets") +
                        (policy.network.unix_sockets.empty() ? "" : ": " + joined(policy.network.unix_sockets)));
    } else {
        lines.push_back("network: unrestricted");
    }
    if (policy.process.restricted)
        lines.push_back(std::string("process: ptrace ") + (policy.process.ptrace ? "yes" : "no") + ", bpf " +
                        (policy.process.bpf ? "yes" : "no") + ", execMemory " +
                        (policy.process.exec_memory ? "yes" : "no"));
    else
        lines.push_back("process: unrestricted");
    return lines;
}

}  // namespace fnw
