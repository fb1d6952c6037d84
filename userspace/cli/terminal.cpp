// SPDX-License-Identifier: Apache-2.0
#include "cli/terminal.hpp"

#include <unistd.h>

#include <cstdlib>

namespace fnw::cli {

std::optional<ColorChoice> parse_color_choice(std::string_view text) {
    if (text == "auto") return ColorChoice::Auto;
    if (text == "always") return ColorChoice::Always;
    if (text == "never") return ColorChoice::Never;
    return std::nullopt;
}

bool should_color(ColorChoice choice, const char* no_color, bool stdout_is_tty) {
    switch (choice) {
    case ColorChoice::Always: return true;
    case ColorChoice::Never: return false;
    case ColorChoice::Auto: break;
    }
    // NO_COLOR="" is the same as unset (no-color.org).
    if (no_color != nullptr && *no_color != '\0') return false;
    return stdout_is_tty;
}

bool should_color(ColorChoice choice) {
    return should_color(choice, std::getenv("NO_COLOR"), ::isatty(STDOUT_FILENO) == 1);
}

std::string paint(std::string_view text, Tone tone, bool color) {
    if (!color || tone == Tone::Plain) return std::string(text);
    const char* start = tone == Tone::Bad ? "\033[1;31m" : "\033[33m";  // bold red, yellow
    return start + std::string(text) + "\033[0m";
}

}  // namespace fnw::cli
