// SPDX-License-Identifier: Apache-2.0
#include "oci/runc_args.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace fnw {
namespace {

// runc 1.1's options that take a value (urfave/cli: "-x v", "--x v" or
// "--x=v"); every other option is a flag.
constexpr std::array kGlobalValued = {"log", "log-format", "root", "criu", "rootless"};
constexpr std::array kCommandValued = {"bundle", "b",           "console-socket", "pid-file", "preserve-fds",
                                       "process", "p",          "cwd",            "env",      "e",
                                       "user",    "u",          "additional-gids", "g",       "cap",
                                       "c",       "apparmor",   "process-label",  "exec-fd"};

// "--name=value" / "-name" / "--name" -> name, and the inline value if any.
bool option_name(std::string_view arg, std::string_view& name, std::string_view& inline_value, bool& has_inline) {
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") return false;
    name = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = name.find('=');
    has_inline = eq != std::string_view::npos;
    if (has_inline) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
    }
    return true;
}

template <size_t N>
bool takes_value(const std::array<const char*, N>& valued, std::string_view name) {
    return std::any_of(valued.begin(), valued.end(), [&](const char* v) { return name == v; });
}

// The command's own options and its last positional argument.
void read_command_options(const std::vector<std::string>& argv, size_t i, RuncCommandLine& line) {
    std::string last_positional;
    for (; i < argv.size(); ++i) {
        std::string_view name, value;
        bool has_inline = false;
        if (!option_name(argv[i], name, value, has_inline)) {
            if (argv[i] != "--") last_positional = argv[i];
            continue;
        }
        if (name == "force" || name == "f") line.force = true;
        if (!takes_value(kCommandValued, name) || has_inline) {
            if ((name == "bundle" || name == "b") && has_inline) line.bundle = std::string(value);
            continue;
        }
        if (i + 1 < argv.size() && (name == "bundle" || name == "b")) line.bundle = argv[i + 1];
        ++i;
    }
    line.container_id = last_positional;
}

}  // namespace

Result<RuncCommandLine> parse_runc_command_line(const std::vector<std::string>& argv) {
    RuncCommandLine line;
    size_t i = 0;
    for (; i < argv.size() && (argv[i] == "--fnwarden-runc" || argv[i] == "--fnwarden-socket"); i += 2) {
        if (i + 1 >= argv.size()) return fail(argv[i] + " needs a value");
        (argv[i] == "--fnwarden-runc" ? line.runc : line.socket) = argv[i + 1];
    }
    line.runc_argv.push_back("runc");
    line.runc_argv.insert(line.runc_argv.end(), argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end());
    for (; i < argv.size(); ++i) {
        std::string_view name, value;
        bool has_inline = false;
        if (!option_name(argv[i], name, value, has_inline)) break;
        if (name == "systemd-cgroup") line.systemd_cgroup = true;
        if (takes_value(kGlobalValued, name) && !has_inline) ++i;
    }
    if (i >= argv.size()) return line;
    line.command = argv[i];
    line.command_index = line.runc_argv.size() - (argv.size() - i);
    read_command_options(argv, i + 1, line);
    return line;
}

}  // namespace fnw
