// SPDX-License-Identifier: Apache-2.0
// LineCursor (output/line_cursor.hpp): the trace hot path's numbers must be
// std::to_chars's digits, and a line longer than the room made for it must
// grow its buffer, never write past it.
#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "output/line_cursor.hpp"

namespace fnw {
namespace {

using namespace std::string_view_literals;

std::string to_chars_text(uint64_t value) {
    char digits[24];
    return std::string(digits, std::to_chars(digits, digits + sizeof(digits), value).ptr);
}

// Every power of ten, one below it and one above, and the ends.
std::vector<uint64_t> digit_count_edges() {
    std::vector<uint64_t> values{0, 1, 2, 9, std::numeric_limits<uint32_t>::max(), std::numeric_limits<uint64_t>::max(),
                                 std::numeric_limits<uint64_t>::max() - 1, 140736716315532};
    for (uint64_t power = 10;; power *= 10) {
        values.insert(values.end(), {power - 1, power, power + 1});
        if (power > std::numeric_limits<uint64_t>::max() / 10) break;
    }
    for (unsigned bit = 0; bit < 64; ++bit) values.insert(values.end(), {uint64_t{1} << bit, (uint64_t{1} << bit) - 1});
    return values;
}

TEST(LineCursor, DecimalsAreWhatToCharsWrites) {
    for (const uint64_t value : digit_count_edges()) {
        EXPECT_EQ(decimal_digits(value), to_chars_text(value).size()) << value;
        std::string out = "x";
        {
            LineCursor line(out, 0);  // no room made: every number grows it
            line.decimal(value);
        }
        EXPECT_EQ(out, "x" + to_chars_text(value));
    }
}

TEST(LineCursor, NineDigitsKeepTheirLeadingZeros) {
    for (const uint32_t value : {0u, 1u, 9u, 10u, 12'345u, 100'000'000u, 999'999'999u, 123'456'789u}) {
        std::string out;
        {
            LineCursor line(out, 9);
            line.nine_digits(value);
        }
        std::string expected = to_chars_text(value);
        expected.insert(0, 9 - expected.size(), '0');
        EXPECT_EQ(out, expected) << value;
    }
}

// A line longer than its room, put after text already there: the cursor
// grows the string (ASan would see a write past its end) and trims it to
// what was written.
TEST(LineCursor, ALineLongerThanItsRoomGrowsAndIsTrimmed) {
    std::string out = "kept;";
    std::string expected = out;
    {
        LineCursor line(out, 8);
        for (int i = 0; i < 5'000; ++i) {
            line.put("piece"sv);
            line.put(',');
            line.decimal(static_cast<uint64_t>(i) * 7'919);
            expected += "piece," + to_chars_text(static_cast<uint64_t>(i) * 7'919);
        }
        char* id = line.reserve(36);
        std::fill(id, id + 36, 'f');
        line.advance(36);
        expected += std::string(36, 'f');
    }
    EXPECT_EQ(out, expected);

    std::string unused = "same";
    { LineCursor line(unused, 4'096); }
    EXPECT_EQ(unused, "same") << "room made and not written is trimmed away";
}

}  // namespace
}  // namespace fnw
