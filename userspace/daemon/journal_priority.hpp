// SPDX-License-Identifier: Apache-2.0
// Log lines that reach systemd's journal with their priority.
//
// A service's stderr under systemd is a stream into journald, which files
// every line at the unit's SyslogLevel= (info) unless the line starts with
// "<N>", N a syslog priority (sd-daemon(3), SyslogLevelPrefix=). Without the
// prefix `journalctl -p warning` shows none of the daemon's errors.
//
// Why a prefix on stderr and not spdlog's systemd_sink (sd_journal_send):
// - one stream: the log keeps its order with everything else the process
//   writes to stderr, and a line is never lost between two channels;
// - no journal socket: sd_journal_send needs /run/systemd/journal/socket,
//   which a sandbox (a container whose stderr systemd collects, a unit
//   with a private /run) may not have, and spdlog's sink then throws on
//   every line; stderr is there whenever JOURNAL_STREAM says it is;
// - nothing changes anywhere else: on a terminal, in a file or under
//   another supervisor ($JOURNAL_STREAM unset, or naming another stream)
//   the lines are exactly what they were.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/common.h>

namespace fnw {

// The syslog priority of a level: critical 2 (crit), error 3 (err),
// warn 4 (warning), info 6 (info), debug and trace 7 (debug).
int journal_priority(spdlog::level::level_enum level);

// True when `fd` is the stream $JOURNAL_STREAM names. systemd sets it to
// "DEVICE:INODE" (decimal) of the socket it connected stdout/stderr to
// (systemd.exec(5)); a service that redirects stderr elsewhere, or a child
// that inherited the variable but not the stream, must not get prefixes.
bool is_journal_stream(int fd, std::string_view journal_stream);

// Reads $JOURNAL_STREAM and checks stderr against it.
bool stderr_is_journal();

// Formats with `inner`, then starts every line of the result with "<N>"
// (a message may hold several lines: each is a journal entry of its own).
class JournalPriorityFormatter final : public spdlog::formatter {
public:
    explicit JournalPriorityFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override;

private:
    std::unique_ptr<spdlog::formatter> inner_;
};

}  // namespace fnw
