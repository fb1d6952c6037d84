// SPDX-License-Identifier: Apache-2.0
// Reading a program's ELF interpreter (PT_INTERP) at policy load: real
// programs, crafted damaged headers, and what the policy compiles to.
#include "core/elf_interpreter.hpp"

#include <elf.h>
#include <sys/syscall.h>

#include <fnwarden/events.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "core/policy_parser.hpp"
#include "output/event_json.hpp"
#include "runtime/landlock_sandbox.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

// A minimal ELF64 x86_64 image: header, one program header (PT_INTERP at
// 0x100), and the interpreter's name.
std::string crafted_elf(const std::string& interpreter_with_nul) {
    std::string image(0x100 + interpreter_with_nul.size(), '\0');
    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = ELFCLASS64;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = ET_DYN;
    ehdr.e_machine = EM_X86_64;
    ehdr.e_phoff = sizeof(Elf64_Ehdr);
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    ehdr.e_phnum = 1;
    Elf64_Phdr phdr{};
    phdr.p_type = PT_INTERP;
    phdr.p_offset = 0x100;
    phdr.p_filesz = interpreter_with_nul.size();
    std::memcpy(image.data(), &ehdr, sizeof(ehdr));
    std::memcpy(image.data() + sizeof(ehdr), &phdr, sizeof(phdr));
    std::memcpy(image.data() + 0x100, interpreter_with_nul.data(), interpreter_with_nul.size());
    return image;
}

template <class Field>
std::string patched(std::string image, size_t offset, Field value) {
    std::memcpy(image.data() + offset, &value, sizeof(value));
    return image;
}

constexpr size_t kPhdr = sizeof(Elf64_Ehdr);

TEST(ElfInterpreter, ReadsTheLoaderOfARealProgram) {
    auto interpreter = read_elf_interpreter("/bin/true");
    ASSERT_TRUE(interpreter.ok()) << interpreter.error();
    ASSERT_TRUE(interpreter->has_value());
    EXPECT_EQ(**interpreter, "/lib64/ld-linux-x86-64.so.2");
}

TEST(ElfInterpreter, ParsesACraftedImage) {
    auto interpreter = elf_interpreter_of(crafted_elf(std::string("/lib/ld.so", 11)));
    ASSERT_TRUE(interpreter.ok()) << interpreter.error();
    EXPECT_EQ(interpreter->value_or(""), "/lib/ld.so");
}

TEST(ElfInterpreter, ScriptsAndStaticProgramsHaveNone) {
    auto script = elf_interpreter_of("#!/bin/sh\necho hi\n");
    ASSERT_TRUE(script.ok());
    EXPECT_FALSE(script->has_value());
    auto static_program = elf_interpreter_of(patched(crafted_elf(std::string("/x", 3)), kPhdr, uint32_t{PT_LOAD}));
    ASSERT_TRUE(static_program.ok()) << static_program.error();
    EXPECT_FALSE(static_program->has_value());
}

TEST(ElfInterpreter, RefusesDamagedHeaders) {
    const std::string good = crafted_elf(std::string("/lib/ld.so", 11));
    auto refused = [](const std::string& image) { return !elf_interpreter_of(image).ok(); };
    EXPECT_TRUE(refused(good.substr(0, 20))) << "header cut short";
    EXPECT_TRUE(refused(patched(good, EI_CLASS, uint8_t{ELFCLASS32})));
    EXPECT_TRUE(refused(patched(good, EI_DATA, uint8_t{ELFDATA2MSB})));
    EXPECT_TRUE(refused(patched(good, offsetof(Elf64_Ehdr, e_machine), uint16_t{EM_AARCH64})));
    EXPECT_TRUE(refused(patched(good, offsetof(Elf64_Ehdr, e_phentsize), uint16_t{12})));
    EXPECT_TRUE(refused(patched(good, offsetof(Elf64_Ehdr, e_phnum), uint16_t{60000})));
    EXPECT_TRUE(refused(patched(good, offsetof(Elf64_Ehdr, e_phoff), uint64_t{~0ull - 8}))) << "offset overflow";
    EXPECT_TRUE(refused(patched(good, kPhdr + offsetof(Elf64_Phdr, p_offset), uint64_t{~0ull - 4})));
    EXPECT_TRUE(refused(patched(good, kPhdr + offsetof(Elf64_Phdr, p_filesz), uint64_t{1ull << 40})));
    EXPECT_TRUE(refused(crafted_elf(std::string("/lib/ld.so"))))  << "no terminating NUL";
    EXPECT_TRUE(refused(crafted_elf(std::string("/li\0b/ld.so", 12)))) << "NUL inside the name";
    EXPECT_TRUE(refused(crafted_elf(std::string("ld.so", 6)))) << "relative name";
}

TEST(ElfInterpreter, FilesThatCannotBeReadAreSaidToBe) {
    test::TempDir dir;
    EXPECT_FALSE(read_elf_interpreter(dir.path() / "missing").ok());
    EXPECT_FALSE(read_elf_interpreter(dir.path()).ok()) << "a directory is not a program";
}

TEST(ElfInterpreter, PolicyLoadImpliesTheCanonicalInterpreter) {
    test::TempDir dir;
    const auto file = dir.path() / "p.yaml";
    std::ofstream(file) << "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n  name: p\n"
                           "spec:\n  selector:\n    function: p\n  exec:\n    allow: [/bin/true, "
                        << (dir.path() / "gone").string() << "]\n";
    auto parsed = parse_policy_file(file);
    ASSERT_TRUE(parsed.ok()) << (parsed.errors.empty() ? "" : parsed.errors[0].to_string());
    const ExecRules& exec = parsed.policy->exec;
    ASSERT_EQ(exec.interpreters.size(), 2u);
    const std::string loader = std::filesystem::canonical("/lib64/ld-linux-x86-64.so.2").string();
    EXPECT_EQ(exec.interpreters[0].interpreter, loader);
    EXPECT_TRUE(exec.interpreters[1].interpreter.empty());
    EXPECT_NE(exec.interpreters[1].problem, "");
    EXPECT_EQ(implied_exec_paths(exec), std::vector<std::string>{loader});

    const LandlockPlan plan = plan_landlock(*parsed.policy, 1);
    const bool granted = std::any_of(plan.rules.begin(), plan.rules.end(),
                                     [&](const LandlockRule& rule) { return rule.path == loader; });
    EXPECT_TRUE(granted) << "the interpreter gets execute rights in the Landlock ruleset";
}

TEST(ElfInterpreter, AnInterpreterAlreadyAllowedIsNotImplied) {
    ExecRules exec;
    exec.allow = {"/usr/bin/python3", "/lib/x86_64-linux-gnu/*"};
    exec.interpreters = {{"/usr/bin/python3", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ""}};
    EXPECT_TRUE(implied_exec_paths(exec).empty());
    exec.allow = {"/usr/bin/python3"};
    EXPECT_EQ(implied_exec_paths(exec).size(), 1u);
}

TEST(ElfInterpreter, OnlyAnInterpreterThePolicyRefusesIsBlamed) {
    FunctionPolicy p;
    p.exec.restricted = true;
    p.exec.allow = {"/usr/bin/python3"};
    p.exec.interpreters = {{"/usr/bin/python3", "/lib/ld.so", ""}};
    EXPECT_TRUE(refused_interpreters(p).empty()) << "implied, and files unrestricted";
    p.files.restricted = true;
    p.files.read = {"/usr/**"};
    EXPECT_EQ(refused_interpreters(p).at("/usr/bin/python3"), "/lib/ld.so") << "files.read misses the interpreter";
    p.files.read = {"/lib/**"};
    EXPECT_TRUE(refused_interpreters(p).empty()) << "the program itself is unreadable: it is to blame";
}

TEST(ElfInterpreter, ALandlockExecRefusalNamesTheInterpreter) {
    auto ev = std::make_unique<fnw_file_event>();
    ev->hdr.type = FNW_EVENT_FILE;
    ev->hdr.size = sizeof(*ev);
    ev->nr = SYS_execve;
    ev->verdict = FNW_VERDICT_VIOLATION;
    ev->mechanism = FNW_MECH_LANDLOCK;
    std::strcpy(ev->path, "/usr/bin/python3");
    EventContext ctx;
    ctx.refused_interpreters = {{"/usr/bin/python3", "/lib/ld.so"}};
    const auto as_json = [&] {
        return *event_to_json({reinterpret_cast<const std::byte*>(ev.get()), sizeof(*ev)}, ctx, WallClock(0));
    };
    auto j = as_json();
    EXPECT_EQ(j["file"]["path"], "/lib/ld.so");
    EXPECT_EQ(j["file"]["raw_path"], "/usr/bin/python3");
    EXPECT_EQ(j["file"]["interpreter_of"], "/usr/bin/python3");
    EXPECT_NE(j.value("note", "").find("ELF interpreter"), std::string::npos);
    ev->mechanism = FNW_MECH_BPF_LSM;
    EXPECT_EQ(as_json()["file"]["path"], "/usr/bin/python3") << "bpf-lsm decides on the program itself, never its interpreter";
}

TEST(ElfInterpreter, AScriptNamesItsInterpreterByItsFirstWord) {
    EXPECT_EQ(script_interpreter_of("#!/bin/sh\nexit 0\n"), "/bin/sh");
    EXPECT_EQ(script_interpreter_of("#! /usr/bin/env python3\n"), "/usr/bin/env");
    EXPECT_EQ(script_interpreter_of("#!/bin/bash\r\n"), "/bin/bash");
    EXPECT_FALSE(script_interpreter_of("#!\n/bin/sh\n").has_value()) << "an empty first line names none";
    EXPECT_FALSE(script_interpreter_of("echo hi\n").has_value());
    EXPECT_FALSE(script_interpreter_of("").has_value());
}

// Audit names the interpreter a refused script ran under (sched_process_exec
// sees it): a Landlock refusal of the allowed script names it too.
TEST(ElfInterpreter, AnAllowedScriptWhoseInterpreterIsRefusedBlamesTheInterpreter) {
    test::TempDir dir;
    const std::string script = (dir.path() / "handler.sh").string();
    std::ofstream(script) << "#!/bin/sh\nexit 0\n";
    FunctionPolicy p;
    p.exec.restricted = true;
    p.exec.allow = {script};
    const std::string sh = std::filesystem::canonical("/bin/sh").string();
    EXPECT_EQ(script_interpreters(p.exec).at(script), sh);
    EXPECT_EQ(refused_interpreters(p).at(script), sh) << "the shell is not in exec.allow";
    p.exec.allow.push_back(sh);
    EXPECT_TRUE(refused_interpreters(p).empty()) << "the shell is allowed";
}

}  // namespace
}  // namespace fnw
