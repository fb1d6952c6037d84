// SPDX-License-Identifier: Apache-2.0
// libbpf's messages, through spdlog: warnings stay visible, its chatty
// info lines (e.g. the skipped BTF-anchor section) only at debug.
#pragma once

#include <cstdarg>
#include <deque>
#include <optional>
#include <string>

#include <bpf/libbpf.h>

namespace fnw {

// One libbpf message, formatted and without its trailing newlines; nullopt
// if it cannot be formatted. Sized to the message: a verifier log is one
// call and can be megabytes; cutting it would hide the line that says why a
// program was rejected.
std::optional<std::string> format_libbpf_message(const char* format, va_list args);

// The print callback ProbeSet::load installs (libbpf_set_print).
int forward_libbpf_log(enum libbpf_print_level level, const char* format, va_list args);

// Keeps the tail of libbpf's messages while a load is tried quietly (the
// optional LSM programs), so that a refusal can say which program and why
// instead of only "Invalid argument". libbpf's print callback takes no
// context pointer: the buffer is reachable only while this object lives.
class LibbpfLogCapture {
public:
    LibbpfLogCapture();
    ~LibbpfLogCapture();
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

    // "prog 'NAME': <the verifier's last words>", else what libbpf first
    // complained about.
    std::string refusal() const;

private:
    static LibbpfLogCapture*& sink() {
        static LibbpfLogCapture* current = nullptr;
        return current;
    }
    static int capture(enum libbpf_print_level level, const char* format, va_list args);

    std::deque<std::string> lines_;  // the tail: a verifier log can be megabytes
    std::string first_warning_;
    std::string failed_prog_;  // "prog 'NAME'" of the first program refused
};

}  // namespace fnw
