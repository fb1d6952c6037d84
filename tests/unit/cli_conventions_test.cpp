// SPDX-License-Identifier: Apache-2.0
// The CLI's conventions that need no binary: color decisions (--color,
// NO_COLOR), tables sized from their content, the exit codes of run and
// learn, the version string. tests/cli/cli_test.sh checks them on the
// built fnwarden.
#include <cerrno>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/options.hpp"
#include "cli/tables.hpp"
#include "cli/terminal.hpp"
#include "cli/text_table.hpp"
#include "common/version.hpp"

namespace fnw::cli {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(CliColor, ParsesTheThreeChoicesOnly) {
    EXPECT_EQ(parse_color_choice("auto"), ColorChoice::Auto);
    EXPECT_EQ(parse_color_choice("always"), ColorChoice::Always);
    EXPECT_EQ(parse_color_choice("never"), ColorChoice::Never);
    EXPECT_FALSE(parse_color_choice("yes"));
    EXPECT_FALSE(parse_color_choice(""));
    EXPECT_FALSE(parse_color_choice("Always"));
}

TEST(CliColor, AutoColorsATerminalUnlessNoColorIsSetAndNonEmpty) {
    EXPECT_TRUE(should_color(ColorChoice::Auto, nullptr, /*stdout_is_tty=*/true));
    EXPECT_FALSE(should_color(ColorChoice::Auto, nullptr, false)) << "a pipe or a file gets no escapes";
    EXPECT_FALSE(should_color(ColorChoice::Auto, "1", true));
    EXPECT_FALSE(should_color(ColorChoice::Auto, "0", true)) << "any non-empty value disables color";
    EXPECT_TRUE(should_color(ColorChoice::Auto, "", true)) << "NO_COLOR= (empty) is as if unset";
}

TEST(CliColor, TheFlagWinsOverTheEnvironmentAndTheTerminal) {
    EXPECT_TRUE(should_color(ColorChoice::Always, "1", false));
    EXPECT_FALSE(should_color(ColorChoice::Never, nullptr, true));
}

TEST(CliColor, PaintAddsEscapesOnlyWhenColoring) {
    EXPECT_EQ(paint("killed", Tone::Bad, false), "killed");
    EXPECT_EQ(paint("fine", Tone::Plain, true), "fine");
    EXPECT_EQ(paint("killed", Tone::Bad, true), "\033[1;31mkilled\033[0m");
}

TEST(CliTextTable, ColumnsAreAsWideAsTheirWidestCell) {
    TextTable table({"FUNCTION", "MODE", "EVENTS"});
    table.add_row({"a-function-with-a-rather-long-name", "enforce", "12"});
    table.add_row({"fn", "audit", "3"});
    std::ostringstream out;
    table.print(out, false);
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 3u) << out.str();
    // Every row's second and third column start where the header's do.
    const size_t mode_at = lines[0].find("MODE"), events_at = lines[0].find("EVENTS");
    EXPECT_EQ(mode_at, std::string("a-function-with-a-rather-long-name").size() + 2);
    EXPECT_EQ(lines[1].find("enforce"), mode_at) << out.str();
    EXPECT_EQ(lines[2].find("audit"), mode_at) << out.str();
    EXPECT_EQ(lines[1].find("12"), events_at) << out.str();
    EXPECT_EQ(lines[2].find("3"), events_at) << out.str();
    // Sized from content, not a fixed width: a short table is narrow.
    TextTable narrow({"A", "B"});
    narrow.add_row({"x", "y"});
    std::ostringstream small;
    narrow.print(small, false);
    EXPECT_EQ(small.str(), "A  B\nx  y\n");
}

TEST(CliTextTable, ColorAndMultiByteNamesKeepTheColumnsInLine) {
    TextTable table({"FUNCTION", "VIOLATIONS", "FILE"});
    table.add_row({"bücher", Cell("7", Tone::Bad), "/r/b.yaml"});
    table.add_row({"plain", "0", "/r/p.yaml"});
    std::ostringstream out;
    table.print(out, true);
    std::string text = std::regex_replace(out.str(), std::regex("\033\\[[0-9;]*m"), "");
    const auto lines = lines_of(text);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_NE(out.str().find("\033[1;31m7\033[0m"), std::string::npos) << out.str();
    EXPECT_EQ(display_width(lines[1].substr(0, lines[1].find("/r/"))), lines[2].find("/r/")) << text;
    EXPECT_EQ(lines[0].find("FILE"), lines[2].find("/r/")) << text;
}

TEST(CliTextTable, NoTrailingBlanksAndMissingCellsPrintEmpty) {
    TextTable table({"A", "B", "C"});
    table.add_row({"1"});
    table.add_row({"1", "", "3"});
    std::ostringstream out;
    table.print(out, false);
    EXPECT_EQ(out.str(), "A  B  C\n1\n1     3\n");
}

TEST(CliTextTable, FitWidthCutsWholeCodePoints) {
    EXPECT_EQ(fit_width("short", 10), "short");
    EXPECT_EQ(fit_width("exactly10!", 10), "exactly10!");
    EXPECT_EQ(fit_width("a-much-longer-name", 10), "a-much-...");
    EXPECT_EQ(fit_width("ééééééé", 5), "éé...");
    EXPECT_EQ(display_width("ééééééé"), 7u);
}

// The status tables: a hook or function longer than the old fixed widths
// (34 and 18) still leaves the next column in line.
TEST(CliTables, StatusColumnsFollowALongHookAndFunctionName) {
    StatusReply s;
    const std::string long_function = "image-thumbnail-resize-production-eu-west";
    // function, policy, file, mode, policy_id, cgroups, events, violations
    s.functions.push_back(FunctionInfo{long_function, "p", "/r/p.yaml", "enforce", 1, 1, 10, 2});
    s.functions.push_back(FunctionInfo{"fn", "p2", "/r/p2.yaml", "audit", 2, 1, 5, 0});
    ProgramInfo prog;
    prog.name = "handle_sys_enter";
    prog.section = "tp_btf/sys_enter_with_a_very_long_section_name_indeed";
    prog.loaded = prog.attached = true;
    s.programs.push_back(prog);
    ProgramInfo other = prog;
    other.name = "x";
    other.section = "lsm/file_open";
    s.programs.push_back(other);
    std::ostringstream out;
    print_status_table(s, out);
    const auto lines = lines_of(out.str());
    auto line_with = [&](const std::string& needle) {
        for (const auto& l : lines)
            if (l.rfind(needle, 0) == 0) return l;
        ADD_FAILURE() << "no line starting with " << needle << " in\n" << out.str();
        return std::string();
    };
    const std::string header = line_with("FUNCTION"), row = line_with(long_function), short_row = line_with("fn ");
    EXPECT_EQ(row.find(" p "), header.find("POLICY") - 1) << out.str();
    EXPECT_EQ(short_row.find("p2"), header.find("POLICY")) << out.str();
    EXPECT_EQ(short_row.find("/r/p2.yaml"), header.find("FILE")) << out.str();
    const std::string programs = line_with("PROGRAM"), long_hook = line_with("handle_sys_enter"), x = line_with("x ");
    EXPECT_EQ(long_hook.find("yes"), programs.find("ATTACHED")) << out.str();
    EXPECT_EQ(x.find("yes"), programs.find("ATTACHED")) << out.str();
}

TEST(CliTables, TopColumnsFollowALongFunctionName) {
    std::vector<TopRow> rows{{"a-function-name-well-past-eighteen-characters", "1", "0.5", "0.0", 10, 0, false},
                             {"fn", "2", "1.0", "2.0", 20, 4, true}};
    std::ostringstream out;
    print_top_table(rows, out, /*color=*/true);
    std::string text = std::regex_replace(out.str(), std::regex("\033\\[[0-9;]*m"), "");
    const auto lines = lines_of(text);
    ASSERT_EQ(lines.size(), 3u) << text;
    EXPECT_EQ(lines[1].find(" 1 ") + 1, lines[0].find("CGROUPS")) << text;
    EXPECT_EQ(lines[2].find("2.0"), lines[0].find("VIOLATIONS/S")) << text;
    // Rising violations are marked; a quiet function is not.
    EXPECT_NE(out.str().find("\033[1;31m2.0"), std::string::npos) << out.str();
    EXPECT_EQ(out.str().find("\033[1;31m0.0"), std::string::npos) << out.str();
}

TEST(CliTables, TraceCutsALongFunctionNameInsteadOfShiftingTheRow) {
    auto row = [](const std::string& function) {
        const nlohmann::json event = {{"type", "syscall"},  {"time", "2026-12-05T01:32:18.677710816Z"},
                                      {"function", function}, {"pid", 42},
                                      {"comm", "python3"},    {"syscall", {{"name", "mkdir"}}}};
        std::ostringstream out;
        print_trace_row(event, false, out);
        return out.str();
    };
    std::ostringstream header;
    print_trace_header(header);
    const std::string long_row = row("an-extremely-long-function-name-for-a-trace"), short_row = row("fn");
    EXPECT_EQ(long_row.find("42"), header.str().find("PID")) << long_row;
    EXPECT_EQ(short_row.find("42"), header.str().find("PID")) << short_row;
    EXPECT_EQ(long_row.find("mkdir"), header.str().find("DETAIL")) << long_row;
    EXPECT_NE(long_row.find("an-extremely-long-fu... "), std::string::npos) << long_row;
}

TEST(CliTables, TraceColorsKilledAndDeniedRedAndReportedYellow) {
    auto row = [](const std::string& action) {
        const nlohmann::json event = {{"type", "syscall"}, {"verdict", "violation"}, {"action", action},
                                      {"syscall", {{"name", "ptrace"}}}};
        std::ostringstream out;
        print_trace_row(event, true, out);
        return out.str();
    };
    EXPECT_NE(row("killed").find("\033[1;31mVIOLATION killed"), std::string::npos) << row("killed");
    EXPECT_NE(row("denied").find("\033[1;31mVIOLATION denied"), std::string::npos) << row("denied");
    EXPECT_NE(row("reported").find("\033[33mVIOLATION reported"), std::string::npos) << row("reported");
}

TEST(CliExitCodes, RunFailuresMapToTheShellsMeanings) {
    EXPECT_EQ(exit_code_for(RunFailure{"no cgroup"}), 125);
    EXPECT_EQ(exit_code_for(RunFailure{"cannot execute x", ENOENT}), 127);
    EXPECT_EQ(exit_code_for(RunFailure{"cannot execute x", EACCES}), 126);
    EXPECT_EQ(exit_code_for(RunFailure{"cannot execute x", ENOEXEC}), 126);
    EXPECT_EQ(exit_code_for(RunFailure{"cannot execute x", EPERM}), 126);
}

TEST(CliExitCodes, HelpIsZeroAndABadOptionTheCommandsUsageCode) {
    namespace po = boost::program_options;
    std::string function;
    po::options_description desc("test options");
    desc.add_options()("help,h", "show this help")("function", po::value(&function)->required(), "name");
    // --help wins over a missing required option.
    EXPECT_EQ(parse_subcommand({"--help"}, desc, "run", "fnwarden run", nullptr, kExitRunFailed), 0);
    EXPECT_EQ(parse_subcommand({"--bogus"}, desc, "run", "fnwarden run", nullptr, kExitRunFailed), 125);
    EXPECT_EQ(parse_subcommand({}, desc, "run", "fnwarden run", nullptr, kExitRunFailed), 125);
    EXPECT_EQ(parse_subcommand({"--bogus"}, desc, "status", "fnwarden status"), kExitUsage);
    EXPECT_FALSE(parse_subcommand({"--function", "f"}, desc, "run", "fnwarden run").has_value());
}

TEST(Version, TheLineNamesTheVersionAndA12DigitCommit) {
    EXPECT_TRUE(std::regex_match(std::string(fnwarden_version()), std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")))
        << fnwarden_version();
    EXPECT_TRUE(std::regex_match(std::string(build_commit()), std::regex("([0-9a-f]{12}(-dirty)?|unknown)")))
        << build_commit();
    EXPECT_EQ(version_line(),
              "fnwarden " + std::string(fnwarden_version()) + " (commit " + std::string(build_commit()) + ")");
}

}  // namespace
}  // namespace fnw::cli
