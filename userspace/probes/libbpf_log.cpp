// SPDX-License-Identifier: Apache-2.0
#include "probes/libbpf_log.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>

namespace fnw {

std::optional<std::string> format_libbpf_message(const char* format, va_list args) {
    va_list probe;
    va_copy(probe, args);
    const int n = vsnprintf(nullptr, 0, format, probe);
    va_end(probe);
    if (n < 0) return std::nullopt;
    std::string text(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(text.data(), text.size(), format, args);
    text.resize(static_cast<size_t>(n));
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

int forward_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
    const auto message = format_libbpf_message(format, args);
    if (!message) return -1;
    const std::string& text = *message;
    switch (level) {
    case LIBBPF_WARN: spdlog::warn("libbpf: {}", text); break;
    case LIBBPF_INFO: spdlog::debug("libbpf: {}", text); break;
    case LIBBPF_DEBUG: spdlog::trace("libbpf: {}", text); break;
    }
    return static_cast<int>(text.size());
}

LibbpfLogCapture::LibbpfLogCapture() {
    sink() = this;
    libbpf_set_print(capture);
}

LibbpfLogCapture::~LibbpfLogCapture() {
    libbpf_set_print(forward_libbpf_log);
    sink() = nullptr;
}

std::string LibbpfLogCapture::refusal() const {
    if (failed_prog_.empty()) return first_warning_;
    std::string last;
    for (size_t i = 1; i < lines_.size(); ++i) {
        // The last line of the verifier's log, or the one before
        // "processed N insns" when it got that far.
        if (lines_[i].find("END PROG LOAD LOG") == std::string::npos) continue;
        last = lines_[i - 1];
        if (last.rfind("processed ", 0) == 0 && i > 1) last = lines_[i - 2];
    }
    return failed_prog_ + (last.empty() ? "" : ": " + last);
}

int LibbpfLogCapture::capture(enum libbpf_print_level level, const char* format, va_list args) {
    auto message = format_libbpf_message(format, args);
    if (!message) return -1;
    const std::string text = std::move(*message);
    const int n = static_cast<int>(text.size());
    LibbpfLogCapture* self = sink();
    if (!self) return n;
    if (level == LIBBPF_WARN && self->first_warning_.empty()) self->first_warning_ = text;
    if (auto at = text.find("prog '"); self->failed_prog_.empty() && at != std::string::npos &&
                                       text.find("load failed") != std::string::npos)
        self->failed_prog_ = text.substr(at, text.find('\'', at + 6) + 1 - at);
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) self->lines_.push_back(text.substr(start, end - start));
        if (self->lines_.size() > 64) self->lines_.pop_front();  // a verifier log can be megabytes
        start = end + 1;
    }
    return n;
}

}  // namespace fnw
