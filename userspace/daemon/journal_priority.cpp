// SPDX-License-Identifier: Apache-2.0
#include "daemon/journal_priority.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace fnw {
namespace {

// A whole decimal number, nothing before or after it.
bool parse_decimal(std::string_view text, uint64_t& value) {
    if (text.empty()) return false;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

int journal_priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::critical: return LOG_CRIT;
        case spdlog::level::err: return LOG_ERR;
        case spdlog::level::warn: return LOG_WARNING;
        case spdlog::level::info: return LOG_INFO;
        case spdlog::level::debug:
        case spdlog::level::trace: return LOG_DEBUG;
        default: return LOG_INFO;  // level::off is never logged
    }
}

bool is_journal_stream(int fd, std::string_view journal_stream) {
    const size_t colon = journal_stream.find(':');
    if (colon == std::string_view::npos) return false;
    uint64_t device = 0, inode = 0;
    if (!parse_decimal(journal_stream.substr(0, colon), device) ||
        !parse_decimal(journal_stream.substr(colon + 1), inode))
        return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    return static_cast<uint64_t>(st.st_dev) == device && static_cast<uint64_t>(st.st_ino) == inode;
}

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    return stream && is_journal_stream(STDERR_FILENO, stream);
}

void JournalPriorityFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    spdlog::memory_buf_t line;
    inner_->format(msg, line);
    const std::string prefix = "<" + std::to_string(journal_priority(msg.level)) + ">";
    // The colour range (the level name, on the first line) moves with the
    // first prefix; it is only used on a terminal, never on the journal.
    msg.color_range_start += prefix.size();
    msg.color_range_end += prefix.size();
    bool line_start = true;
    for (char c : std::string_view(line.data(), line.size())) {
        if (line_start) dest.append(prefix.data(), prefix.data() + prefix.size());
        dest.push_back(c);
        line_start = c == '\n';
    }
}

std::unique_ptr<spdlog::formatter> JournalPriorityFormatter::clone() const {
    return std::make_unique<JournalPriorityFormatter>(inner_->clone());
}

}  // namespace fnw
