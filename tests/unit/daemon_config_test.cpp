// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

#ifdef FNW_SOURCE_DIR
const fs::path kFixtures = fs::path(FNW_SOURCE_DIR) / "tests" / "fixtures";
#else
const fs::path kFixtures = FNW_TEST_FIXTURES;
#endif

using test::TempDir;

std::string all_errors(const ConfigLoad& load) {
    std::string out;
    for (const auto& e : load.errors) out += e.to_string() + "\n";
    return out;
}

// The single error of parsing `yaml`, or a failure.
PolicyError only_error(const std::string& yaml) {
    const ConfigLoad load = parse_daemon_config(yaml, "fnwarden.yaml");
    EXPECT_FALSE(load.config.has_value());
    if (load.errors.size() != 1) ADD_FAILURE() << "expected one error for:\n" << yaml << "got:\n" << all_errors(load);
    return load.errors.empty() ? PolicyError{} : load.errors.front();
}

DaemonConfig parsed_ok(const std::string& yaml) {
    const ConfigLoad load = parse_daemon_config(yaml, "fnwarden.yaml");
    EXPECT_TRUE(load.ok()) << yaml << all_errors(load);
    return load.config.value_or(DaemonConfig{});
}

TEST(DaemonConfig, DefaultsAreTheDocumentedOnesAndValid) {
    const DaemonConfig config;
    EXPECT_EQ(config.rules_dir, "/etc/fnwarden/rules");
    EXPECT_EQ(config.mode, Mode::Audit);
    EXPECT_EQ(config.output, "stdout");
    EXPECT_EQ(config.socket_path, "/run/fnwarden/fnwarden.sock");
    EXPECT_EQ(config.socket_group, "fnwarden");
    EXPECT_EQ(config.admin_group, "");  // root only
    EXPECT_EQ(config.metrics_address, "127.0.0.1:9464");
    EXPECT_FALSE(config.metrics_allow_non_loopback);
    EXPECT_EQ(config.webhook_url, "");
    EXPECT_EQ(config.ringbuf_bytes, FNW_RINGBUF_DEFAULT_BYTES);
    EXPECT_EQ(config.client_queue_bytes, size_t{4} << 20);
    EXPECT_EQ(config.output_queue_events, 65536u);
    EXPECT_EQ(config.cgroup_parent, "fnwarden");
    EXPECT_EQ(config.log_level, "info");
    EXPECT_THAT(validate_daemon_config(config), IsEmpty());
}

TEST(DaemonConfig, EmptyOrCommentOnlyFileIsAllDefaults) {
    for (const char* text : {"", "# nothing set yet\n", "---\n"}) {
        const DaemonConfig config = parsed_ok(text);
        EXPECT_EQ(config.rules_dir, DaemonConfig{}.rules_dir) << text;
        EXPECT_EQ(config.ringbuf_bytes, DaemonConfig{}.ringbuf_bytes) << text;
    }
}

TEST(DaemonConfig, KeysNotInTheFileKeepTheirDefaults) {
    const DaemonConfig config = parsed_ok("mode: enforce\n");
    EXPECT_EQ(config.mode, Mode::Enforce);
    EXPECT_EQ(config.socket_path, DaemonConfig{}.socket_path);
    EXPECT_EQ(config.metrics_address, DaemonConfig{}.metrics_address);
}

TEST(DaemonConfig, FullFileSetsEveryField) {
    const fs::path file = kFixtures / "daemon" / "fnwarden.yaml";
    const ConfigLoad load = parse_daemon_config_file(file);
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_EQ(load.source, file.string());
    const DaemonConfig& c = *load.config;
    EXPECT_EQ(c.rules_dir, "/srv/fnwarden/rules");
    EXPECT_EQ(c.mode, Mode::Enforce);
    EXPECT_EQ(c.output, "/var/log/fnwarden/events.jsonl");
    EXPECT_EQ(c.socket_path, "/run/fnwarden-test/control.sock");
    EXPECT_EQ(c.socket_group, "faas-operators");
    EXPECT_EQ(c.admin_group, "faas-admins");
    EXPECT_EQ(c.metrics_address, "[::1]:9500");
    EXPECT_TRUE(c.metrics_allow_non_loopback);
    EXPECT_EQ(c.webhook_url, "https://hooks.example.com/fnwarden");
    EXPECT_EQ(c.ringbuf_bytes, 16u << 20);
    EXPECT_EQ(c.client_queue_bytes, 1048576u);
    EXPECT_EQ(c.output_queue_events, 1024u);
    EXPECT_EQ(c.cgroup_parent, "system.slice/fnwarden");
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_THAT(validate_daemon_config(c), IsEmpty());
}

TEST(DaemonConfig, UnknownKeyGetsASuggestionAndItsPosition) {
    PolicyError e = only_error("mode: audit\nsocket_group: ops\n");
    EXPECT_EQ(e.file, "fnwarden.yaml");
    EXPECT_EQ(e.line, 2);
    EXPECT_EQ(e.column, 1);
    EXPECT_EQ(e.message, "unknown key \"socket_group\" (did you mean \"socketGroup\"?)");

    e = only_error("rules: /r\n  # indented comment\nringbufByts: 4096\n");
    EXPECT_EQ(e.line, 3);
    EXPECT_THAT(e.message, HasSubstr("did you mean \"ringbufBytes\"?"));

    e = only_error("metrics-allow-non-loopback: true\n");
    EXPECT_THAT(e.message, HasSubstr("did you mean \"metricsAllowNonLoopback\"?"));

    e = only_error("frobnicate: 1\n");
    EXPECT_THAT(e.message, HasSubstr("unknown key \"frobnicate\" (expected one of: rules mode"));
    EXPECT_THAT(e.to_string(), HasSubstr("fnwarden.yaml:1:1: "));
}

TEST(DaemonConfig, WrongTypesPointAtTheValue) {
    PolicyError e = only_error("rules: [a, b]\n");
    EXPECT_EQ(e.line, 1);
    EXPECT_EQ(e.column, 8);
    EXPECT_EQ(e.message, "rules must be a string");

    e = only_error("metricsAllowNonLoopback: yes\n");
    EXPECT_EQ(e.column, 26);
    EXPECT_THAT(e.message, HasSubstr("must be true or false, not \"yes\""));

    EXPECT_THAT(only_error("clientQueueBytes: -1\n").message, HasSubstr("must be a whole number"));
    EXPECT_THAT(only_error("outputQueueEvents: 1.5\n").message, HasSubstr("must be a whole number"));
    EXPECT_THAT(only_error("outputQueueEvents: {a: 1}\n").message, HasSubstr("must be a whole number"));
    EXPECT_THAT(only_error("ringbufBytes:\n").message, HasSubstr("must be a whole number"));
    EXPECT_THAT(only_error("logLevel: {x: 1}\n").message, HasSubstr("logLevel must be a string"));
}

TEST(DaemonConfig, EveryErrorOfTheFileAtOnce) {
    const ConfigLoad load = parse_daemon_config(
        "mode: strict\n"
        "ringbufBytes: 5000\n"
        "colour: blue\n"
        "logLevel: verbose\n",
        "x.yaml");
    EXPECT_FALSE(load.config.has_value());
    ASSERT_EQ(load.errors.size(), 4u) << all_errors(load);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(load.errors[static_cast<size_t>(i)].line, i + 1);
    EXPECT_THAT(load.errors[0].message, HasSubstr("mode must be \"audit\" or \"enforce\", not \"strict\""));
}

TEST(DaemonConfig, RingbufMustBeAPowerOfTwoOfAtLeastAPage) {
    EXPECT_EQ(parsed_ok("ringbufBytes: 4096\n").ringbuf_bytes, 4096u);
    EXPECT_EQ(parsed_ok("ringbufBytes: 2147483648\n").ringbuf_bytes, 2147483648u);
    for (const char* bad : {"5000", "2048", "0", "12288"}) {
        const PolicyError e = only_error(std::string("ringbufBytes: ") + bad + "\n");
        EXPECT_EQ(e.column, 15) << bad;
        EXPECT_THAT(e.message, HasSubstr("power of two of at least 4096")) << bad;
    }
    EXPECT_THAT(only_error("ringbufBytes: 4294967296\n").message, HasSubstr("at most 4294967295"));
    EXPECT_THAT(only_error("ringbufBytes: 99999999999999999999999\n").message, HasSubstr("at most"));
}

TEST(DaemonConfig, OtherValueChecks) {
    EXPECT_THAT(only_error("output: events.jsonl\n").message, HasSubstr("absolute file path"));
    EXPECT_EQ(parsed_ok("output: \"-\"\n").output, "-");
    EXPECT_THAT(only_error("socket: fnwarden.sock\n").message, HasSubstr("absolute path"));
    EXPECT_THAT(only_error("socket: /" + std::string(120, 's') + "\n").message, HasSubstr("at most 107"));
    EXPECT_THAT(only_error("webhook: ftp://example.com/x\n").message, HasSubstr("http:// or https://"));
    EXPECT_EQ(parsed_ok("webhook:\n").webhook_url, "") << "an empty value is the empty string";
    EXPECT_EQ(parsed_ok("webhook: \"\"\n").webhook_url, "");
    EXPECT_THAT(only_error("cgroupParent: /fnwarden\n").message, HasSubstr("relative"));
    EXPECT_THAT(only_error("cgroupParent: a/../b\n").message, HasSubstr("\"..\""));
    EXPECT_THAT(only_error("cgroupParent: \"\"\n").message, HasSubstr("must not be empty"));
    EXPECT_THAT(only_error("rules: \"\"\n").message, HasSubstr("rules must name"));
    EXPECT_THAT(only_error("logLevel: verbose\n").message, HasSubstr("trace debug info warn error critical off"));
    EXPECT_THAT(only_error("clientQueueBytes: 100\n").message, HasSubstr("at least 65536"));
    EXPECT_THAT(only_error("outputQueueEvents: 0\n").message, HasSubstr("at least 1"));
    EXPECT_EQ(parsed_ok("socketGroup: \"\"\n").socket_group, "");
    EXPECT_FALSE(parsed_ok("metricsAllowNonLoopback: false\n").metrics_allow_non_loopback);
}

TEST(DaemonConfig, MetricsAddress) {
    EXPECT_EQ(parsed_ok("metrics: \"\"\n").metrics_address, "") << "\"\" disables metrics";
    EXPECT_EQ(parsed_ok("metrics: 127.0.0.1:9100\n").metrics_address, "127.0.0.1:9100");
    EXPECT_EQ(parsed_ok("metrics: \"[::1]:9100\"\n").metrics_address, "[::1]:9100");
    EXPECT_EQ(parsed_ok("metrics: 127.0.0.1:0\n").metrics_address, "127.0.0.1:0") << "0: any free port";
    for (const char* bad : {"localhost:9464", "127.0.0.1", "::1:9464", "127.0.0.1:65536", ":9464",
                            "[::1]9464", "[::1", "300.1.1.1:80", "[127.0.0.1]:80"}) {
        const PolicyError e = only_error(std::string("metrics: \"") + bad + "\"\n");
        EXPECT_EQ(e.line, 1) << bad;
        EXPECT_THAT(e.message, HasSubstr("must be IP:PORT or [IPv6]:PORT")) << bad;
    }

    auto loopback = [](const char* text) {
        auto address = parse_listen_address(text);
        EXPECT_TRUE(address.ok()) << text;
        return address && address->loopback;
    };
    EXPECT_TRUE(loopback("127.0.0.1:1"));
    EXPECT_TRUE(loopback("127.8.9.10:1"));
    EXPECT_TRUE(loopback("[::1]:1"));
    EXPECT_TRUE(loopback("[::ffff:127.0.0.1]:1"));
    EXPECT_FALSE(loopback("0.0.0.0:1"));
    EXPECT_FALSE(loopback("10.1.2.3:1"));
    EXPECT_FALSE(loopback("[::]:1"));
    auto parsed = parse_listen_address("[2001:db8::1]:9464");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->host, "2001:db8::1");
    EXPECT_EQ(parsed->port, 9464);
}

// In a container the node's group has an id and no name in the image
// (issue 20): digits are a gid, taken without a lookup.
TEST(DaemonConfig, SocketGroupIsANameOrAGroupId) {
    EXPECT_EQ(parsed_ok("socketGroup: 9464\n").socket_group, "9464");
    EXPECT_EQ(parsed_ok("adminGroup: 0\n").admin_group, "0");
    EXPECT_EQ(parsed_ok("socketGroup: fnwarden\n").socket_group, "fnwarden");
    EXPECT_THAT(only_error("socketGroup: 4294967295\n").message, HasSubstr("group id below 4294967295"));
    EXPECT_THAT(only_error("adminGroup: 99999999999\n").message, HasSubstr("group id below"));
    DaemonConfig flags;
    flags.socket_group = "4294967296";
    EXPECT_THAT(validate_daemon_config(flags), testing::Contains(HasSubstr("socketGroup (--socket-group)")));
}

TEST(DaemonConfig, NonLoopbackMetricsNeedTheOptInAfterMerging) {
    // Per key the file is fine: the opt-in may come from a flag.
    DaemonConfig config = parsed_ok("metrics: 0.0.0.0:9464\n");
    auto problems = validate_daemon_config(config);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems.front(), HasSubstr("--metrics-allow-non-loopback"));
    config.metrics_allow_non_loopback = true;
    EXPECT_THAT(validate_daemon_config(config), IsEmpty());
}

TEST(DaemonConfig, ValidateChecksFlagValuesLikeFileValues) {
    DaemonConfig config;
    config.ringbuf_bytes = 5000;
    config.cgroup_parent = "/abs";
    config.log_level = "loud";
    const auto problems = validate_daemon_config(config);
    ASSERT_EQ(problems.size(), 3u);
    EXPECT_THAT(problems[0], HasSubstr("ringbufBytes (--ringbuf-bytes) must be a power of two"));
    EXPECT_THAT(problems[1], HasSubstr("cgroupParent (--cgroup-parent)"));
    EXPECT_THAT(problems[2], HasSubstr("logLevel (--log-level)"));
}

// A webhook URL often carries its token; config errors go to terminals,
// journals and CI logs.
TEST(DaemonConfig, WebhookErrorsNeverEchoCredentials) {
    const PolicyError error = only_error("webhook: \"ftp://user:s3cret@hooks.example.com/x?token=t0ken&a=b\"\n");
    EXPECT_THAT(error.message, HasSubstr("ftp://***@hooks.example.com/x?token=***&a=***"));
    EXPECT_THAT(error.message, Not(HasSubstr("s3cret")));
    EXPECT_THAT(error.message, Not(HasSubstr("t0ken")));

    DaemonConfig config;
    config.webhook_url = "https://user:s3cret@hooks.example.com/x?token=t0ken with a space";
    const auto problems = validate_daemon_config(config);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr("webhook (--webhook)"));
    EXPECT_THAT(problems[0], Not(HasSubstr("s3cret")));
    EXPECT_THAT(problems[0], Not(HasSubstr("t0ken")));
}

TEST(DaemonConfig, PlainHttpWebhookToAnotherHostIsWarnedAbout) {
    DaemonConfig config;
    config.webhook_url = "http://user:s3cret@hooks.example.com/x?token=t0ken";
    const auto warnings = daemon_config_warnings(config);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("http://***@hooks.example.com/x?token=***"));
    EXPECT_THAT(warnings[0], HasSubstr("unencrypted"));
    EXPECT_THAT(warnings[0], Not(HasSubstr("s3cret")));
    EXPECT_THAT(warnings[0], Not(HasSubstr("t0ken")));
    for (const char* quiet : {"https://hooks.example.com/x", "http://127.0.0.1:8080/x", "http://localhost/x",
                              "http://[::1]:9/x", ""}) {
        config.webhook_url = quiet;
        EXPECT_TRUE(daemon_config_warnings(config).empty()) << quiet;
    }
}

TEST(DaemonConfig, DuplicateKeyIsAnError) {
    const PolicyError e = only_error("mode: audit\nrules: /r\nmode: enforce\n");
    EXPECT_EQ(e.line, 3);
    EXPECT_THAT(e.message, HasSubstr("duplicate key \"mode\" (first on line 1)"));
}

TEST(DaemonConfig, SyntaxErrorsAndNonMappings) {
    const PolicyError syntax = only_error("mode: audit\nrules: [unclosed\n");
    EXPECT_THAT(syntax.message, HasSubstr("invalid YAML"));
    EXPECT_GT(syntax.line, 0);
    EXPECT_THAT(only_error("- mode\n- audit\n").message, HasSubstr("must be a mapping"));
    EXPECT_THAT(only_error("just text\n").message, HasSubstr("must be a mapping"));
}

TEST(DaemonConfig, ExplicitFileMustExistDefaultFileNeedNot) {
    TempDir dir;
    const fs::path missing = dir.path() / "missing.yaml";

    ConfigLoad load = parse_daemon_config_file(missing);
    EXPECT_FALSE(load.ok());
    ASSERT_EQ(load.errors.size(), 1u);
    EXPECT_EQ(load.errors.front().file, missing.string());
    EXPECT_THAT(load.errors.front().message, HasSubstr("does not exist"));

    load = load_daemon_config(missing, missing);
    EXPECT_FALSE(load.ok()) << "named with --config: must exist";

    load = load_daemon_config(std::nullopt, missing);
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_EQ(load.source, "");
    EXPECT_EQ(load.config->rules_dir, DaemonConfig{}.rules_dir);

    const fs::path present = dir.path() / "fnwarden.yaml";
    std::ofstream(present) << "mode: enforce\n";
    load = load_daemon_config(std::nullopt, present);
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_EQ(load.source, present.string());
    EXPECT_EQ(load.config->mode, Mode::Enforce);

    // A dangling link at the default place is a broken deployment.
    const fs::path dangling = dir.path() / "dangling.yaml";
    fs::create_symlink(dir.path() / "..data" / "fnwarden.yaml", dangling);
    EXPECT_FALSE(load_daemon_config(std::nullopt, dangling).ok());

    EXPECT_THAT(parse_daemon_config_file(dir.path()).errors.at(0).message, HasSubstr("not a regular file"));
    EXPECT_EQ(kDefaultDaemonConfigFile, "/etc/fnwarden/fnwarden.yaml");
}

TEST(DaemonConfig, ErrorsInAFileNameTheFile) {
    TempDir dir;
    const fs::path file = dir.path() / "bad.yaml";
    std::ofstream(file) << "# comment\nmode: enforce\nlog_level: debug\n";
    const ConfigLoad load = parse_daemon_config_file(file);
    ASSERT_EQ(load.errors.size(), 1u);
    EXPECT_EQ(load.errors.front().to_string(),
              file.string() + ":3:1: unknown key \"log_level\" (did you mean \"logLevel\"?)");
}

}  // namespace
}  // namespace fnw
