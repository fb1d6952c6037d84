// SPDX-License-Identifier: Apache-2.0
// The parts of the policy parser shared by its files: the Checker that
// collects located errors, and section parsers used from more than one
// place. Internal to core/: include only from the parser's .cpp files.
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/policy.hpp"
#include "core/policy_parser.hpp"
#include "core/suggest.hpp"

namespace fnw::policy_yaml {

// Collects errors with positions; every check reports and carries on, so one
// run shows all the problems of a file.
class Checker {
public:
    explicit Checker(std::string file) : file_(std::move(file)) {}

    void error(const YAML::Node& at, std::string message) {
        const YAML::Mark mark = at.Mark();
        // yaml-cpp marks are 0-based; a null mark (-1) means "no position".
        int line = mark.line >= 0 ? mark.line + 1 : 0;
        int column = mark.column >= 0 ? mark.column + 1 : 0;
        errors_.push_back({file_, line, column, std::move(message)});
    }
    void error_at(int line, int column, std::string message) {
        errors_.push_back({file_, line, column, std::move(message)});
    }

    std::vector<PolicyError> take() { return std::move(errors_); }
    bool clean() const { return errors_.empty(); }

    // A mapping with only the given keys; reports unknown ones.
    bool expect_map(const YAML::Node& node, std::string_view what,
                    std::initializer_list<std::string_view> keys) {
        if (!node.IsMap()) {
            error(node, std::string(what) + " must be a mapping");
            return false;
        }
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            bool known = false;
            for (auto k : keys) known = known || key == k;
            if (!known) {
                std::string msg = "unknown key \"" + key + "\" in " + std::string(what);
                const std::span<const std::string_view> known(keys.begin(), keys.size());
                if (std::string_view close = closest_key(key, known); !close.empty()) {
                    msg += " (did you mean \"" + std::string(close) + "\"?)";
                } else {
                    msg += " (expected one of:";
                    for (auto k : keys) msg += " " + std::string(k);
                    msg += ")";
                }
                error(kv.first, std::move(msg));
            }
        }
        return true;
    }

    std::optional<std::string> scalar(const YAML::Node& node, std::string_view what) {
        if (!node.IsScalar()) {
            error(node, std::string(what) + " must be a string");
            return std::nullopt;
        }
        return node.Scalar();
    }

    const std::string& file() const { return file_; }

private:
    std::string file_;
    std::vector<PolicyError> errors_;
};

// `section`.onViolation into `out`, when present.
void parse_violation_action_key(Checker& check, const YAML::Node& section, std::string_view what,
                                ViolationAction& out);

// spec.network: egress, listen and unix rules (policy_network_parser.cpp).
void parse_network(Checker& check, const YAML::Node& node, NetworkRules& rules);

}  // namespace fnw::policy_yaml
