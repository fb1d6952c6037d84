// SPDX-License-Identifier: Apache-2.0
// Color in the human-readable outputs of status, trace and top: whether to
// use it (--color, NO_COLOR, a terminal) and the few colors used. JSON
// output is never colored.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fnw::cli {

enum class ColorChoice { Auto, Always, Never };

// "auto", "always" or "never"; nullopt for anything else.
std::optional<ColorChoice> parse_color_choice(std::string_view text);

// The decision: never and always as asked (a flag on the command line wins
// over the environment, as https://no-color.org says); auto colors only a
// terminal, and not when NO_COLOR is set to a non-empty value.
// `no_color`: the NO_COLOR variable's value, nullptr when unset.
bool should_color(ColorChoice choice, const char* no_color, bool stdout_is_tty);

// The same for this process: NO_COLOR from the environment, stdout's isatty().
bool should_color(ColorChoice choice);

// What a cell's color says; a reader's eye goes to what went wrong.
enum class Tone {
    Plain,
    Bad,      // a function killed or denied, a failed check or reload
    Warning,  // a violation reported only (audit), a mechanism not used
};

// `text` in the tone's color when `color`, else as it is.
std::string paint(std::string_view text, Tone tone, bool color);

}  // namespace fnw::cli
