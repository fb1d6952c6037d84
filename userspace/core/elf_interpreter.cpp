// SPDX-License-Identifier: Apache-2.0
#include "core/elf_interpreter.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <fnwarden/kernel_abi.h>

#include "common/unique_fd.hpp"
#include "core/path_glob.hpp"

namespace fnw {
namespace {

// Linux reads at most this much of a PT_INTERP name (PATH_MAX); a longer
// one is a damaged or hostile file.
constexpr uint64_t kMaxInterpreterBytes = 4096;
// glibc and the kernel cap e_phnum far lower in practice; a larger count
// in a head this size is damage.
constexpr uint16_t kMaxProgramHeaders = 512;

template <class T>
T read_at(std::string_view bytes, size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

// [offset, offset+length) lies within `size` bytes, without overflow.
bool within(uint64_t offset, uint64_t length, size_t size) { return offset <= size && length <= size - offset; }

Result<Elf64_Ehdr> elf64_header(std::string_view head) {
    const auto ehdr = read_at<Elf64_Ehdr>(head, 0);
    if (ehdr.e_ident[EI_CLASS] != ELFCLASS64) return fail("not a 64-bit ELF file (only ELF64 is read)");
    if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB) return fail("not a little-endian ELF file");
    if (ehdr.e_machine != EM_X86_64) return fail("not an x86_64 ELF file (machine " + std::to_string(ehdr.e_machine) + ")");
    if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) return fail("odd program header size " + std::to_string(ehdr.e_phentsize));
    if (ehdr.e_phnum > kMaxProgramHeaders) return fail(std::to_string(ehdr.e_phnum) + " program headers (too many)");
    if (!within(ehdr.e_phoff, uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr), head.size()))
        return fail("program headers beyond the first " + std::to_string(head.size()) + " bytes");
    return ehdr;
}

// exec.allow already grants `path` (Landlock widens a glob to at least what it matches).
bool allowed_exactly_or_by_glob(const std::vector<std::string>& allow, const PathGlobSet& globs, const std::string& path) {
    return std::find(allow.begin(), allow.end(), path) != allow.end() || globs.match(path).has_value();
}

}  // namespace

Result<std::optional<std::string>> elf_interpreter_of(std::string_view head) {
    if (head.size() < SELFMAG || std::memcmp(head.data(), ELFMAG, SELFMAG) != 0) return std::optional<std::string>{};
    if (head.size() < sizeof(Elf64_Ehdr)) return fail("ELF header cut short");
    auto ehdr = elf64_header(head);
    if (!ehdr) return ehdr.wrap("ELF");
    for (uint16_t i = 0; i < ehdr->e_phnum; ++i) {
        const auto phdr = read_at<Elf64_Phdr>(head, ehdr->e_phoff + size_t{i} * sizeof(Elf64_Phdr));
        if (phdr.p_type != PT_INTERP) continue;
        if (phdr.p_filesz < 2 || phdr.p_filesz > kMaxInterpreterBytes)
            return fail("ELF: PT_INTERP of odd size " + std::to_string(phdr.p_filesz));
        if (!within(phdr.p_offset, phdr.p_filesz, head.size()))
            return fail("ELF: PT_INTERP beyond the first " + std::to_string(head.size()) + " bytes");
        std::string_view name = head.substr(phdr.p_offset, phdr.p_filesz);
        if (name.back() != '\0' || name.find('\0') != name.size() - 1)
            return fail("ELF: PT_INTERP is not one NUL-terminated name");
        name.remove_suffix(1);
        if (name.front() != '/') return fail("ELF: PT_INTERP \"" + std::string(name) + "\" is not an absolute path");
        return std::optional<std::string>{std::string(name)};
    }
    return std::optional<std::string>{};  // static: no interpreter
}

static Result<std::string> read_program_head(const std::filesystem::path& path) {
    // O_NONBLOCK: a FIFO named in a policy must not hang policy load.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) return fail(std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail("not a regular file");
    std::string head(kElfHeadBytes, '\0');
    size_t filled = 0;
    while (filled < head.size()) {
        const ssize_t n = ::pread(fd.get(), head.data() + filled, head.size() - filled, static_cast<off_t>(filled));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::strerror(errno));
        if (n == 0) break;
        filled += static_cast<size_t>(n);
    }
    head.resize(filled);
    return head;
}

Result<std::optional<std::string>> read_elf_interpreter(const std::filesystem::path& path) {
    auto head = read_program_head(path);
    if (!head) return fail(head.error());
    return elf_interpreter_of(*head);
}

std::optional<std::string> script_interpreter_of(std::string_view head) {
    if (head.substr(0, 2) != "#!") return std::nullopt;
    std::string_view line = head.substr(2);
    line = line.substr(0, line.find('\n'));
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return std::nullopt;
    line.remove_prefix(start);
    const size_t end = line.find_first_of(" \t\r");
    const std::string_view name = line.substr(0, end);
    if (name.empty() || name.find('\0') != std::string_view::npos) return std::nullopt;
    return std::string(name);
}

void resolve_exec_interpreters(ExecRules& rules) {
    rules.interpreters.clear();
    for (const auto& program : rules.allow) {
        if (program.find('*') != std::string::npos) continue;
        ExecRules::ProgramInterpreter entry{program, "", ""};
        auto interpreter = read_elf_interpreter(program);
        if (!interpreter) {
            entry.problem = interpreter.error();
        } else if (!interpreter->has_value()) {
            continue;  // a script or a static program: nothing opened on its behalf
        } else {
            std::error_code ec;
            const auto canonical = std::filesystem::canonical(**interpreter, ec);
            if (ec)
                entry.problem = "its interpreter " + **interpreter + ": " + ec.message();
            else
                entry.interpreter = canonical.string();
        }
        rules.interpreters.push_back(std::move(entry));
    }
}

std::vector<std::string> implied_exec_paths(const ExecRules& rules) {
    std::vector<std::string> globs;
    std::copy_if(rules.allow.begin(), rules.allow.end(), std::back_inserter(globs),
                 [](const std::string& p) { return p.find('*') != std::string::npos; });
    auto compiled = PathGlobSet::compile(globs);
    const PathGlobSet glob_set = compiled ? std::move(*compiled) : PathGlobSet{};
    std::vector<std::string> implied;
    for (const auto& entry : rules.interpreters) {
        if (entry.interpreter.empty() || allowed_exactly_or_by_glob(rules.allow, glob_set, entry.interpreter)) continue;
        if (std::find(implied.begin(), implied.end(), entry.interpreter) == implied.end())
            implied.push_back(entry.interpreter);
    }
    return implied;
}

// Exact exec.allow entries that are `#!` scripts -> their interpreter,
// canonical. Read here, not at parse: a script's interpreter is never
// implied (policy.md), only named when its exec is refused.
std::map<std::string, std::string> script_interpreters(const ExecRules& rules) {
    std::map<std::string, std::string> found;
    for (const auto& program : rules.allow) {
        if (program.find('*') != std::string::npos) continue;
        auto head = read_program_head(program);
        if (!head) continue;
        const auto named = script_interpreter_of(*head);
        if (!named) continue;
        std::error_code ec;
        const auto canonical = std::filesystem::canonical(*named, ec);
        if (!ec) found.emplace(program, canonical.string());
    }
    return found;
}

std::map<std::string, std::string> refused_interpreters(const FunctionPolicy& policy) {
    std::map<std::string, std::string> refused;
    if (!policy.exec.restricted) return refused;
    auto compiled = PathGlobSet::compile(policy.files.read);
    const PathGlobSet read = compiled ? std::move(*compiled) : PathGlobSet{};
    auto readable = [&](const std::string& path) { return !policy.files.restricted || read.match(path).has_value(); };
    auto exec_globs = PathGlobSet::compile(policy.exec.allow);
    const std::vector<std::string> implied = implied_exec_paths(policy.exec);
    auto executable = [&](const std::string& path) {
        return (exec_globs && exec_globs->match(path)) ||
               std::find(implied.begin(), implied.end(), path) != implied.end();
    };
    auto refuses = [&](const std::string& program, const std::string& interpreter) {
        if (readable(program) && !(readable(interpreter) && executable(interpreter)))
            refused.emplace(program, interpreter);
    };
    for (const auto& entry : policy.exec.interpreters)
        if (!entry.interpreter.empty()) refuses(entry.program, entry.interpreter);
    for (const auto& [script, interpreter] : script_interpreters(policy.exec))
        refuses(script, interpreter);
    return refused;
}

bool interpreter_may_be_refused(const FunctionPolicy& policy) {
    if (!policy.exec.restricted) return false;
    for (const auto& program : policy.exec.allow)
        if (program.find('*') != std::string::npos) return true;
    for (const auto& entry : policy.exec.interpreters)
        if (!entry.problem.empty()) return true;
    return !refused_interpreters(policy).empty();
}

uint32_t refused_interpreter_rights(const FunctionPolicy& policy, const std::string& interpreter) {
    uint32_t refused = 0;
    if (policy.exec.restricted) {
        auto exec_globs = PathGlobSet::compile(policy.exec.allow);
        const std::vector<std::string> implied = implied_exec_paths(policy.exec);
        if (!(exec_globs && exec_globs->match(interpreter)) &&
            std::find(implied.begin(), implied.end(), interpreter) == implied.end())
            refused |= FNW_FILE_EXEC;
    }
    if (policy.files.restricted) {
        auto read = PathGlobSet::compile(policy.files.read);
        if (!(read && read->match(interpreter))) refused |= FNW_FILE_READ;
    }
    return refused;
}

std::optional<std::string> refused_interpreter_of(const FunctionPolicy& policy, const std::string& program) {
    auto named = read_elf_interpreter(program);
    if (!named || !named->has_value()) return std::nullopt;
    std::error_code ec;
    const std::string interpreter = std::filesystem::canonical(**named, ec).string();
    if (ec || !refused_interpreter_rights(policy, interpreter)) return std::nullopt;
    return interpreter;
}

}  // namespace fnw
