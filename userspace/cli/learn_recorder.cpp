// SPDX-License-Identifier: Apache-2.0
#include "cli/learn_recorder.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "core/elf_interpreter.hpp"
#include "core/event_kind.hpp"
#include "core/file_access.hpp"

namespace fnw::cli {

namespace {

std::string canonical_or_empty(const std::filesystem::path& path) {
    std::error_code ec;
    auto canonical = std::filesystem::canonical(path, ec);
    return ec ? std::string() : canonical.string();
}

// A script's `#!` interpreter, as written; "" when `program` is no script.
std::string shebang_interpreter(const std::string& program) {
    std::ifstream in(program, std::ios::binary);
    char head[256] = {};
    in.read(head, sizeof(head) - 1);
    if (std::strncmp(head, "#!", 2) != 0) return "";
    std::istringstream line(std::string(head + 2, std::strcspn(head + 2, "\n")));
    std::string interpreter;
    line >> interpreter;
    return interpreter;
}

void record_net(LearnedAccesses& seen, const fnw_net_event& ev, uint64_t& skipped) {
    if (ev.op == FNW_NET_CONNECT_UNIX) {
        std::string name(unix_path(ev));
        if (!name.empty() && name.front() == '\0') name.front() = '@';
        if (name.empty()) ++skipped; else seen.unix_sockets.insert(name);
        return;
    }
    if (ev.op == FNW_NET_BIND || ev.op == FNW_NET_ACCEPT) {
        const uint16_t port = ev.op == FNW_NET_BIND ? ev.port : ev.local_port;
        if (port == 0) ++skipped;  // an ephemeral port: the kernel picks it, no rule names it
        else seen.listen.insert({port, ev.protocol});
        return;
    }
    LearnedPeer peer;
    std::memcpy(peer.address.data(), ev.addr, peer.address.size());
    peer.port = ev.port;
    peer.protocol = ev.protocol;
    seen.egress.insert(peer);
}

void record_file(LearnedAccesses& seen, const fnw_file_event& ev, uint64_t& skipped) {
    const EventPath path = event_path(ev);
    if (path.path.empty() || path.path.front() != '/' || path.truncated) {
        ++skipped;
        return;
    }
    if (is_exec_event(ev)) {
        seen.add_file(path.path, FNW_FILE_EXEC);
        return;
    }
    seen.add_file(path.path, ev.access);
    // rename/link: the other name, when absolute (no base was resolved for it).
    const std::string_view second = bounded(ev.path2);
    if (ev.access2 && !second.empty()) {
        if (second.front() == '/') seen.add_file(join_path("/", second), ev.access2);
        else ++skipped;
    }
}

}  // namespace

void LearnRecorder::record(const Record& record) {
    if (std::holds_alternative<fnw_violation_summary_event>(record)) {
        // A repeat of a violation reported on its own line first: nothing new.
        summaries_ += std::get<fnw_violation_summary_event>(record).repeats;
        return;
    }
    if (!is_violation(record)) return;
    if (const auto* ev = std::get_if<fnw_syscall_event>(&record)) {
        seen_.process.ptrace |= ev->rule == FNW_RULE_PROCESS_PTRACE;
        seen_.process.bpf |= ev->rule == FNW_RULE_PROCESS_BPF;
        seen_.process.exec_memory |= ev->rule == FNW_RULE_PROCESS_EXEC_MEMORY;
    } else if (const auto* file = std::get_if<FileRecord>(&record)) {
        record_file(seen_, **file, skipped_);
    } else if (const auto* net = std::get_if<fnw_net_event>(&record)) {
        record_net(seen_, *net, skipped_);
    }
}

void LearnRecorder::add_program(const std::string& command0) {
    std::string found;
    if (command0.find('/') != std::string::npos) {
        found = canonical_or_empty(command0);
    } else if (const char* path = std::getenv("PATH")) {
        std::istringstream dirs(path);
        for (std::string dir; found.empty() && std::getline(dirs, dir, ':');)
            if (!dir.empty() && ::access((std::filesystem::path(dir) / command0).c_str(), X_OK) == 0)
                found = canonical_or_empty(std::filesystem::path(dir) / command0);
    }
    if (!found.empty()) seen_.add_file(found, FNW_FILE_EXEC);
}

void LearnRecorder::add_interpreters() {
    // A script's interpreter may itself be a script or a dynamic program:
    // go on until nothing new is added (bounded by the programs there are).
    for (bool grew = true; grew;) {
        grew = false;
        const std::set<std::string> programs = seen_.exec;
        for (const auto& program : programs) {
            std::string brought[2] = {shebang_interpreter(program), {}};
            if (auto interp = read_elf_interpreter(program); interp.ok() && interp->has_value()) brought[1] = **interp;
            for (const auto& interpreter : brought) {
                const std::string canonical = interpreter.empty() ? "" : canonical_or_empty(interpreter);
                if (canonical.empty() || seen_.exec.count(canonical)) continue;
                seen_.add_file(canonical, FNW_FILE_EXEC);
                grew = true;
            }
        }
    }
}

std::vector<std::string> learning_losses(const ProbeCounters& counters) {
    std::vector<std::string> losses;
    auto say = [&](uint64_t ProbeCounters::*field) {
        if (counters.*field > 0)
            losses.push_back(std::to_string(counters.*field) + " " + kernel_counter(field).cli_text + " (" +
                             kernel_counter(field).key + ")");
    };
    say(&ProbeCounters::ringbuf_drops);
    say(&ProbeCounters::alert_drops);
    say(&ProbeCounters::coverage_gaps);
    say(&ProbeCounters::file_pending_lost);
    return losses;
}

}  // namespace fnw::cli
