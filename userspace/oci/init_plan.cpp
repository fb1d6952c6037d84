// SPDX-License-Identifier: Apache-2.0
#include "oci/init_plan.hpp"

#include <charconv>
#include <cstdio>

namespace fnw {
namespace {

constexpr std::string_view kHeader = "fnwarden-init-plan 1";

std::string hex(uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(value));
    return buf;
}

// The next space-separated word of `line`, taken off its front.
std::string_view next_word(std::string_view& line) {
    const size_t end = line.find(' ');
    std::string_view word = line.substr(0, end);
    line = end == std::string_view::npos ? std::string_view() : line.substr(end + 1);
    return word;
}

template <class T>
bool number(std::string_view word, T& out, int base) {
    auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), out, base);
    return ec == std::errc() && ptr == word.data() + word.size() && !word.empty();
}

bool parse_line(std::string_view kind, std::string_view rest, InitPlan& plan) {
    LandlockPlan& l = plan.landlock;
    if (kind == "landlock")
        return number(next_word(rest), l.abi, 10) && number(next_word(rest), l.handled_fs, 16) &&
               number(rest, l.handled_net, 16);
    if (kind == "path") {
        LandlockRule rule;
        if (!number(next_word(rest), rule.access, 16) || rest.empty() || rest.front() != '/') return false;
        rule.path = std::string(rest);
        l.rules.push_back(std::move(rule));
        return true;
    }
    if (kind == "port") {
        LandlockPortRule rule;
        if (!number(next_word(rest), rule.access, 16) || !number(rest, rule.port, 10)) return false;
        l.port_rules.push_back(rule);
        return true;
    }
    if (kind == "seccomp") {
        plan.seccomp_file = std::string(rest);
        return !rest.empty() && rest.front() == '/';
    }
    return false;
}

}  // namespace

std::string init_plan_text(const InitPlan& plan) {
    const LandlockPlan& l = plan.landlock;
    std::string text = std::string(kHeader) + "\n";
    text += "landlock " + std::to_string(l.abi) + " " + hex(l.handled_fs) + " " + hex(l.handled_net) + "\n";
    for (const LandlockRule& rule : l.rules)
        if (rule.path.find('\n') == std::string::npos) text += "path " + hex(rule.access) + " " + rule.path + "\n";
    for (const LandlockPortRule& rule : l.port_rules)
        text += "port " + hex(rule.access) + " " + std::to_string(rule.port) + "\n";
    if (!plan.seccomp_file.empty()) text += "seccomp " + plan.seccomp_file + "\n";
    return text;
}

Result<InitPlan> parse_init_plan(std::string_view text) {
    InitPlan plan;
    size_t line_number = 0;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        if (end == std::string_view::npos) return fail("plan: the last line has no newline");
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 1);
        if (++line_number == 1) {
            if (line != kHeader) return fail("plan: not a fnwarden init plan (first line \"" + std::string(line) + "\")");
            continue;
        }
        const std::string_view kind = next_word(line);
        if (!parse_line(kind, line, plan)) return fail("plan: line " + std::to_string(line_number) + " is malformed");
    }
    if (line_number == 0) return fail("plan: empty");
    return plan;
}

}  // namespace fnw
