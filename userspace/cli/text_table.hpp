// SPDX-License-Identifier: Apache-2.0
// The column layout of status and top: each column as wide as its widest
// cell, so a long function name or hook widens its column instead of
// pushing the rest of its row out of line. Cells are printed as given: the
// caller has made them printable (display_name(), tables.hpp).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/terminal.hpp"

namespace fnw::cli {

// Columns on a terminal: UTF-8 code points (display_name() has already
// escaped every control character).
size_t display_width(std::string_view text);

// `text` cut to at most `width` columns, "..." marking the cut.
std::string fit_width(std::string_view text, size_t width);

struct Cell {
    Cell(std::string text, Tone tone = Tone::Plain) : text(std::move(text)), tone(tone) {}
    Cell(const char* text) : text(text) {}
    std::string text;
    Tone tone = Tone::Plain;
};

class TextTable {
public:
    // `indent`: printed before every line (a table nested under a heading).
    explicit TextTable(std::vector<std::string> header, std::string indent = "");

    // Missing cells print as empty; extra ones widen the table.
    void add_row(std::vector<Cell> cells);
    bool empty() const { return rows_.empty(); }

    // Header and rows, columns two spaces apart; the last column is not
    // padded (no trailing blanks). Color changes no width.
    void print(std::ostream& out, bool color) const;

private:
    std::vector<size_t> widths() const;

    std::vector<Cell> header_;
    std::vector<std::vector<Cell>> rows_;
    std::string indent_;
};

}  // namespace fnw::cli
