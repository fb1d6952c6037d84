#include "common/result.hpp"

#include <gtest/gtest.h>

#include <memory>

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

}  // namespace
}  // namespace fnw
