// SPDX-License-Identifier: Apache-2.0
// Writes a line through a pointer into room made once per line. The trace
// hot path puts about 60 pieces in each syscall line, most of 1 to 20
// bytes. Through std::string::append each paid a capacity check, a libc
// memmove call, and for numbers std::to_chars into a scratch buffer and a
// copy out of it: together half of the line's cost (perf of
// BM_LineFast, docs/performance.md "The trace consumer's line").
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace fnw {

// 10^0 .. 10^19. At namespace scope: a table local to decimal_digits(),
// constexpr but not static, was copied onto the stack at every call
// (perf of the trace consumer).
inline constexpr uint64_t kPowersOfTen[] = {1ULL,
                                            10ULL,
                                            100ULL,
                                            1'000ULL,
                                            10'000ULL,
                                            100'000ULL,
                                            1'000'000ULL,
                                            10'000'000ULL,
                                            100'000'000ULL,
                                            1'000'000'000ULL,
                                            10'000'000'000ULL,
                                            100'000'000'000ULL,
                                            1'000'000'000'000ULL,
                                            10'000'000'000'000ULL,
                                            100'000'000'000'000ULL,
                                            1'000'000'000'000'000ULL,
                                            10'000'000'000'000'000ULL,
                                            100'000'000'000'000'000ULL,
                                            1'000'000'000'000'000'000ULL,
                                            10'000'000'000'000'000'000ULL};

// How many decimal digits `value` has (1 for 0).
constexpr unsigned decimal_digits(uint64_t value) {
    // log10(2) ~ 1233 / 4096: the bit width gives the count or one less.
    const auto width = static_cast<unsigned>(std::bit_width(value | 1));
    const unsigned below = (width * 1233) >> 12;
    return below + (value >= kPowersOfTen[below]) + (value == 0);
}

// Its small members are forced inline: GCC kept put() and decimal() out of
// line, and a literal's copy of known size became a call to libc's memmove.
#define FNW_LINE_INLINE [[gnu::always_inline]] inline

class LineCursor {
public:
    // Room for `expected` more bytes after out's end, made now; a line that
    // turns out longer grows `out` as it goes. The cursor trims `out` to
    // what was written when it goes.
    LineCursor(std::string& out, size_t expected) : out_(out) {
        const size_t start = out.size();
        out.resize(start + expected);
        at_ = out.data() + start;
        end_ = out.data() + out.size();
    }
    ~LineCursor() { out_.resize(written()); }
    LineCursor(const LineCursor&) = delete;
    LineCursor& operator=(const LineCursor&) = delete;

    FNW_LINE_INLINE void put(char c) {
        make_room(1);
        *at_++ = c;
    }
    FNW_LINE_INLINE void put(std::string_view text) {
        make_room(text.size());
        std::memcpy(at_, text.data(), text.size());
        at_ += text.size();
    }
    // Unsigned decimal, written from the last digit back into its place:
    // eight digits a block while more than eight are left, each block as
    // four pairs from a table that do not wait on each other, then two
    // digits a step. A record's six arguments are mostly pointers of 15
    // digits, where a plain two-a-step loop chains seven divisions.
    FNW_LINE_INLINE void decimal(uint64_t value) {
        make_room(20);
        const unsigned digits = decimal_digits(value);
        char* last = at_ + digits;
        while (value >= 100'000'000) {
            last -= 8;
            put_eight_digits(last, static_cast<uint32_t>(value % 100'000'000));
            value /= 100'000'000;
        }
        auto rest = static_cast<uint32_t>(value);
        while (rest >= 100) {
            last -= 2;
            std::memcpy(last, &kDigitPairs[(rest % 100) * 2], 2);
            rest /= 100;
        }
        if (rest >= 10) {
            std::memcpy(last - 2, &kDigitPairs[rest * 2], 2);
        } else {
            last[-1] = static_cast<char>('0' + rest);
        }
        at_ += digits;
    }
    // `value` (below 10^9) as exactly nine digits, zeros in front: the
    // fraction of a second.
    FNW_LINE_INLINE void nine_digits(uint32_t value) {
        make_room(9);
        at_[0] = static_cast<char>('0' + value / 100'000'000 % 10);
        put_eight_digits(at_ + 1, value % 100'000'000);
        at_ += 9;
    }
    // For a writer that fills `size` bytes itself: where to write them.
    // Call advance(size) after.
    FNW_LINE_INLINE char* reserve(size_t size) {
        make_room(size);
        return at_;
    }
    void advance(size_t size) { at_ += size; }

private:
    static constexpr char kDigitPairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

    // `block` (below 10^8) as exactly eight digits at `at`.
    FNW_LINE_INLINE static void put_eight_digits(char* at, uint32_t block) {
        const uint32_t high = block / 10'000, low = block % 10'000;
        std::memcpy(at, &kDigitPairs[(high / 100) * 2], 2);
        std::memcpy(at + 2, &kDigitPairs[(high % 100) * 2], 2);
        std::memcpy(at + 4, &kDigitPairs[(low / 100) * 2], 2);
        std::memcpy(at + 6, &kDigitPairs[(low % 100) * 2], 2);
    }
    size_t written() const { return static_cast<size_t>(at_ - out_.data()); }
    FNW_LINE_INLINE void make_room(size_t size) {
        if (static_cast<size_t>(end_ - at_) >= size) return;
        grow(size);
    }
    // Rare: the expected size was short (a long exe, a huge function name).
    // Room for `size` and a KiB more: resize zero-fills, so what it adds
    // costs in proportion (doubling `out`, a batch of lines, would not).
    [[gnu::noinline, gnu::cold]] void grow(size_t size) {
        const size_t at = written();
        out_.resize(at + size + 1024);
        at_ = out_.data() + at;
        end_ = out_.data() + out_.size();
    }

    std::string& out_;
    char* at_;
    char* end_;
};

#undef FNW_LINE_INLINE

}  // namespace fnw
