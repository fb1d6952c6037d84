// SPDX-License-Identifier: Apache-2.0
// outputFormat (--output-format): json or falco.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/daemon_config.hpp"

namespace fnw {
namespace {

using ::testing::HasSubstr;

TEST(DaemonConfigOutputFormat, JsonByDefaultFalcoWhenAsked) {
    const ConfigLoad plain = parse_daemon_config("", "fnwarden.yaml");
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.config->output_format, "json");
    const ConfigLoad falco = parse_daemon_config("outputFormat: falco\n", "fnwarden.yaml");
    ASSERT_TRUE(falco.ok()) << falco.errors.front().to_string();
    EXPECT_EQ(falco.config->output_format, "falco");
    EXPECT_TRUE(validate_daemon_config(*falco.config).empty());
}

TEST(DaemonConfigOutputFormat, AnythingElseIsRefusedInTheFileAndOnTheCommandLine) {
    const ConfigLoad load = parse_daemon_config("outputFormat: syslog\n", "fnwarden.yaml");
    ASSERT_FALSE(load.ok());
    EXPECT_THAT(load.errors.front().to_string(), HasSubstr("must be \"json\" or \"falco\""));

    DaemonConfig config;
    config.output_format = "Falco";
    const auto problems = validate_daemon_config(config);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems.front(), HasSubstr("--output-format"));
}

}  // namespace
}  // namespace fnw
