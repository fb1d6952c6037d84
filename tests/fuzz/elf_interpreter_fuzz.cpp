// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: policy load reads the head of every program exec.allow
// names, and those files are whatever is on disk (a program an attacker
// replaced, a damaged download). The PT_INTERP reader must turn any bytes
// into a name, "none" or an error: no crash, no read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/elf_interpreter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > fnw::kElfHeadBytes) return 0;
    auto interpreter = fnw::elf_interpreter_of(std::string_view(reinterpret_cast<const char*>(data), size));
    // Invariant: a name found is absolute, NUL-free and within the input.
    if (interpreter.ok() && interpreter->has_value()) {
        const std::string& name = **interpreter;
        if (name.empty() || name.front() != '/' || name.find('\0') != std::string::npos || name.size() >= size)
            __builtin_trap();
    } else if (!interpreter.ok() && interpreter.error().empty()) {
        __builtin_trap();
    }
    return 0;
}
