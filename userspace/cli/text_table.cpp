// SPDX-License-Identifier: Apache-2.0
#include "cli/text_table.hpp"

#include <algorithm>

namespace fnw::cli {

namespace {

constexpr size_t kColumnGap = 2;

bool continues_code_point(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

}  // namespace

size_t display_width(std::string_view text) {
    return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return !continues_code_point(c); }));
}

std::string fit_width(std::string_view text, size_t width) {
    if (display_width(text) <= width) return std::string(text);
    const std::string_view ellipsis = "...";
    if (width <= ellipsis.size()) return std::string(ellipsis.substr(0, width));
    // Keep whole code points: the cut lands before the first byte of one.
    size_t keep = 0, columns = 0;
    while (keep < text.size() && columns < width - ellipsis.size()) {
        ++keep;
        while (keep < text.size() && continues_code_point(text[keep])) ++keep;
        ++columns;
    }
    return std::string(text.substr(0, keep)) + std::string(ellipsis);
}

TextTable::TextTable(std::vector<std::string> header, std::string indent) : indent_(std::move(indent)) {
    for (auto& title : header) header_.emplace_back(std::move(title));
}

void TextTable::add_row(std::vector<Cell> cells) { rows_.push_back(std::move(cells)); }

std::vector<size_t> TextTable::widths() const {
    std::vector<size_t> widths;
    auto widen = [&widths](const std::vector<Cell>& row) {
        if (row.size() > widths.size()) widths.resize(row.size(), 0);
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i].text));
    };
    widen(header_);
    for (const auto& row : rows_) widen(row);
    return widths;
}

void TextTable::print(std::ostream& out, bool color) const {
    const std::vector<size_t> column_widths = widths();
    auto print_row = [&](const std::vector<Cell>& row) {
        // The last non-empty cell ends the line: no trailing blanks.
        size_t cells = row.size();
        while (cells > 0 && row[cells - 1].text.empty()) --cells;
        out << indent_;
        for (size_t i = 0; i < cells; ++i) {
            out << paint(row[i].text, row[i].tone, color);
            if (i + 1 < cells) out << std::string(column_widths[i] - display_width(row[i].text) + kColumnGap, ' ');
        }
        out << "\n";
    };
    print_row(header_);
    for (const auto& row : rows_) print_row(row);
}

}  // namespace fnw::cli
