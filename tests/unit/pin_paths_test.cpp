// SPDX-License-Identifier: Apache-2.0
// --pin PATH[=DEPLOYED]: where a pinned file is hashed and the path the
// manifest records for it (bundle/pin_paths.hpp).
#include <gtest/gtest.h>

#include "bundle/pin_paths.hpp"

namespace fnw {
namespace {

TEST(PinPaths, APlainPathIsRecordedAsItsOwnAbsolutePath) {
    auto source = parse_pin_argument("fn/./src/", "/home/ci/checkout");
    ASSERT_TRUE(source) << source.error();
    EXPECT_EQ(source->local, "/home/ci/checkout/fn/src");
    EXPECT_EQ(source->deployed, "/home/ci/checkout/fn/src");
    EXPECT_EQ(deployed_pin_path(*source, "/home/ci/checkout/fn/src/handler.py"), "/home/ci/checkout/fn/src/handler.py");
}

TEST(PinPaths, ADirectoryIsRecordedUnderItsDeployedPath) {
    auto source = parse_pin_argument("/build/fn/=/var/task/fn/", "/");
    ASSERT_TRUE(source) << source.error();
    EXPECT_EQ(source->local, "/build/fn");
    EXPECT_EQ(source->deployed, "/var/task/fn");
    EXPECT_EQ(deployed_pin_path(*source, "/build/fn/handler.py"), "/var/task/fn/handler.py");
    EXPECT_EQ(deployed_pin_path(*source, "/build/fn/lib/greet.py"), "/var/task/fn/lib/greet.py");
}

TEST(PinPaths, AFileIsRecordedAsItsDeployedFile) {
    auto source = parse_pin_argument("out/tool=/srv/fn/tool", "/ci");
    ASSERT_TRUE(source) << source.error();
    EXPECT_EQ(source->local, "/ci/out/tool");
    EXPECT_EQ(deployed_pin_path(*source, "/ci/out/tool"), "/srv/fn/tool");
}

TEST(PinPaths, TheDeployedPathMustBeExact) {
    EXPECT_FALSE(parse_pin_argument("/build/fn=var/task/fn", "/")) << "relative";
    EXPECT_FALSE(parse_pin_argument("/build/fn=", "/")) << "empty";
    EXPECT_FALSE(parse_pin_argument("/build/fn=/var/task/../etc", "/")) << "..";
    EXPECT_FALSE(parse_pin_argument("/build/fn=/var/./task", "/")) << ".";
    EXPECT_FALSE(parse_pin_argument("=/var/task/fn", "/")) << "no local path";
    auto error = parse_pin_argument("/build/fn=task", "/");
    ASSERT_FALSE(error);
    EXPECT_NE(error.error().find("not absolute"), std::string::npos) << error.error();
}

TEST(PinPaths, OnlyTheFirstEqualsSignSplits) {
    auto source = parse_pin_argument("/build/fn=/var/task/a=b", "/");
    ASSERT_TRUE(source) << source.error();
    EXPECT_EQ(source->deployed, "/var/task/a=b");
}

}  // namespace
}  // namespace fnw
