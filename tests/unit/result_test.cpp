// SPDX-License-Identifier: Apache-2.0
#include "common/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace fnw {
namespace {

Result<int> parse_port(int raw) {
    if (raw < 1 || raw > 65535) return fail("port " + std::to_string(raw) + " is out of range");
    return raw;
}

Status check(bool good) {
    if (!good) return fail("not good");
    return {};
}

TEST(ResultTest, CarriesTheValueOrTheError) {
    auto good = parse_port(443);
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 443);
    auto bad = parse_port(70000);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error(), "port 70000 is out of range");
    EXPECT_EQ(bad.wrap("rules.yaml").message, "rules.yaml: port 70000 is out of range");
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
    Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
    ASSERT_TRUE(r.ok());
    std::unique_ptr<int> taken = std::move(r).value();
    EXPECT_EQ(*taken, 7);
}

TEST(ResultTest, AStringValueIsNotTakenForAnError) {
    Result<std::string> value = std::string("fine");
    EXPECT_TRUE(value.ok());
    Result<std::string> error = fail("fine");
    EXPECT_FALSE(error.ok());
}

TEST(ResultTest, StatusSaysOkOrWhy) {
    EXPECT_TRUE(check(true).ok());
    Status s = check(false);
    EXPECT_FALSE(s);
    EXPECT_EQ(s.error(), "not good");
}

// An error type for a caller that acts on the kind of failure.
enum class Lookup { missing, refused };
struct LookupError {
    Lookup kind;
    std::string message;
};

Result<int, LookupError> look_up(int key) {
    if (key == 0) return LookupError{Lookup::missing, "no key 0"};
    if (key < 0) return LookupError{Lookup::refused, "negative keys are refused"};
    return key * 2;
}

TEST(ResultTest, ACustomErrorKeepsItsKindNextToTheMessage) {
    auto found = look_up(21);
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, 42);
    auto missing = look_up(0);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.failure().kind, Lookup::missing);
    EXPECT_EQ(missing.error(), "no key 0");
    auto refused = look_up(-1);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.failure().kind, Lookup::refused);
    // Passed on as a plain Error, with context, like any Result.
    Result<std::string> passed_on = refused.wrap("key -1");
    EXPECT_EQ(passed_on.error(), "key -1: negative keys are refused");
}

}  // namespace
}  // namespace fnw
