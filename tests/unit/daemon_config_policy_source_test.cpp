// SPDX-License-Identifier: Apache-2.0
// policySource and functionPolicyNamespace: where the policy set comes from.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/daemon_config.hpp"

namespace fnw {
namespace {

using ::testing::HasSubstr;

std::string joined(const std::vector<std::string>& problems) {
    std::string out;
    for (const auto& p : problems) out += p + "\n";
    return out;
}

TEST(DaemonConfigPolicySource, FilesByDefault) {
    const ConfigLoad load = parse_daemon_config("", "fnwarden.yaml");
    ASSERT_TRUE(load.ok());
    EXPECT_EQ(load.config->policy_source, PolicySource::Files);
    EXPECT_EQ(load.config->function_policy_namespace, "");
    EXPECT_TRUE(load.config->function_policy_status);
}

TEST(DaemonConfigPolicySource, ObjectStatusCanBeTurnedOff) {
    const ConfigLoad load = parse_daemon_config("functionPolicyStatus: false\n", "fnwarden.yaml");
    ASSERT_TRUE(load.ok());
    EXPECT_FALSE(load.config->function_policy_status);
}

TEST(DaemonConfigPolicySource, KubernetesOrBothWithANamespace) {
    const ConfigLoad load = parse_daemon_config(
        "kubeconfig: in-cluster\npolicySource: both\nfunctionPolicyNamespace: shop\n", "fnwarden.yaml");
    ASSERT_TRUE(load.ok()) << load.errors.front().to_string();
    EXPECT_EQ(load.config->policy_source, PolicySource::Both);
    EXPECT_EQ(load.config->function_policy_namespace, "shop");
    EXPECT_TRUE(validate_daemon_config(*load.config).empty()) << joined(validate_daemon_config(*load.config));

    const ConfigLoad only = parse_daemon_config("kubeconfig: /k\npolicySource: kubernetes\n", "fnwarden.yaml");
    ASSERT_TRUE(only.ok());
    EXPECT_EQ(only.config->policy_source, PolicySource::Kubernetes);
}

TEST(DaemonConfigPolicySource, RefusesAWrongValueANamespaceThatIsNoneAndNoKubeconfig) {
    const ConfigLoad wrong = parse_daemon_config("policySource: crd\n", "fnwarden.yaml");
    ASSERT_EQ(wrong.errors.size(), 1u);
    EXPECT_THAT(wrong.errors[0].to_string(), HasSubstr("must be files, kubernetes or both"));
    EXPECT_EQ(wrong.errors[0].line, 1);

    const ConfigLoad bad_ns = parse_daemon_config("functionPolicyNamespace: Shop_1\n", "fnwarden.yaml");
    ASSERT_EQ(bad_ns.errors.size(), 1u);
    EXPECT_THAT(bad_ns.errors[0].to_string(), HasSubstr("DNS label"));

    const ConfigLoad no_kubeconfig = parse_daemon_config("policySource: kubernetes\n", "fnwarden.yaml");
    ASSERT_TRUE(no_kubeconfig.ok());
    const auto problems = validate_daemon_config(*no_kubeconfig.config);
    ASSERT_EQ(problems.size(), 1u) << joined(problems);
    EXPECT_THAT(problems[0], HasSubstr("set kubeconfig"));
}

}  // namespace
}  // namespace fnw
