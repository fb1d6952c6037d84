// SPDX-License-Identifier: Apache-2.0
// The ELF interpreter (PT_INTERP) a program brings with it.
//
// Exec'ing a dynamic ELF program makes the kernel open its interpreter
// (/lib64/ld-linux-x86-64.so.2) with execute access on the program's
// behalf, so an exec allowlist that names the program but not its loader
// refuses the program under Landlock. Policy load reads each exact
// exec.allow path's PT_INTERP and grants it as an implied entry.
//
// Only the program headers are read: a bounded prefix of the file, no exec.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "core/policy.hpp"

namespace fnw {

// How much of a program is read: the ELF header, the program headers and
// the interpreter's name all sit within it in every linker's layout.
inline constexpr size_t kElfHeadBytes = 64 * 1024;

// Pure, for any bytes (fuzzed): the PT_INTERP path of an ELF64
// little-endian x86_64 image's first bytes. nullopt when `head` is not an
// ELF image at all (a script) or has no PT_INTERP (static); fails saying
// why when it is an ELF image this cannot read (another class or machine,
// headers out of range, an unterminated name).
Result<std::optional<std::string>> elf_interpreter_of(std::string_view head);

// Pure: the interpreter a `#!` script's first line names (its first word),
// nullopt when `head` does not start with "#!" or names none.
std::optional<std::string> script_interpreter_of(std::string_view head);

// Reads the first kElfHeadBytes of the regular file at `path` and parses
// them. Fails when the file cannot be opened or is not a regular file.
Result<std::optional<std::string>> read_elf_interpreter(const std::filesystem::path& path);

// For each exact exec.allow path, records its interpreter (canonical path,
// symlinks resolved) in rules.interpreters, or why it could not be
// determined. Globs are skipped: they name no one file to read.
void resolve_exec_interpreters(ExecRules& rules);

// The interpreters exec rights must include beyond exec.allow: those
// resolved and not already allowed by an exact entry.
std::vector<std::string> implied_exec_paths(const ExecRules& rules);

// Exact exec.allow entries that are `#!` scripts -> their interpreter
// (canonical), read from the files now.
std::map<std::string, std::string> script_interpreters(const ExecRules& rules);

// Allowed programs -> their interpreter, for each program the policy lets
// the function exec but whose interpreter the kernel will be refused
// (files.read grants the program but not the interpreter, or exec rights
// miss it): an exec refusal of such a program names the interpreter. A
// script's `#!` interpreter counts too: the kernel opens it the same way.
std::map<std::string, std::string> refused_interpreters(const FunctionPolicy& policy);

// Whether some program the policy lets the function exec could bring an
// ELF interpreter the policy refuses: an exec.allow glob (it implies no
// interpreter), an interpreter that could not be determined, or one
// refused_interpreters names. Then every allowed exec has its PT_INTERP
// checked after the fact (FNW_POLICY_EXEC_INTERP), so audit reports what
// Landlock refuses in enforce mode.
bool interpreter_may_be_refused(const FunctionPolicy& policy);

// What `policy` refuses of the interpreter `interpreter` (canonical) of an
// allowed program: FNW_FILE_EXEC unless exec.allow or an implied entry
// grants it, FNW_FILE_READ unless files.read does (with a files section).
// 0 when the kernel may open it.
uint32_t refused_interpreter_rights(const FunctionPolicy& policy, const std::string& interpreter);

// The ELF interpreter of the program at `program` (read now, canonical) when
// `policy` refuses it; nullopt otherwise (a script, a static program, an
// unreadable file, an interpreter the policy grants). For programs allowed
// by a glob, which refused_interpreters cannot list in advance.
std::optional<std::string> refused_interpreter_of(const FunctionPolicy& policy, const std::string& program);

}  // namespace fnw
