#include "core/policy_parser.hpp"

#include <fstream>
#include <initializer_list>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/syscall_table.hpp"

namespace fnw {

std::string PolicyError::to_string() const {
    std::ostringstream out;
    out << file;
    if (line > 0) out << ':' << line << ':' << column;
    out << ": " << message;
    return out.str();
}

namespace {

constexpr std::string_view kApiVersion = "fnwarden.io/v1";
constexpr std::string_view kKind = "FunctionPolicy";

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
                msg += " (expected one of:";
                for (auto k : keys) msg += " " + std::string(k);
                msg += ")";
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

void parse_syscalls(Checker& check, const YAML::Node& node, SyscallRules& rules) {
    if (!check.expect_map(node, "spec.syscalls", {"allow", "onViolation"})) return;

    if (const YAML::Node allow = node["allow"]) {
        if (!allow.IsSequence()) {
            check.error(allow, "spec.syscalls.allow must be a list of syscall names");
        } else {
            for (const auto& item : allow) {
                auto name = check.scalar(item, "a syscall name");
                if (!name) continue;
                auto nr = SyscallTable::number(*name);
                if (!nr) {
                    std::string msg = "unknown syscall \"" + *name + "\" for x86_64";
                    auto close = SyscallTable::suggestions(*name);
                    if (!close.empty()) msg += " (did you mean \"" + std::string(close.front()) + "\"?)";
                    check.error(item, std::move(msg));
                    continue;
                }
                if (*nr < 0 || *nr >= FNW_MAX_SYSCALLS) {
                    check.error(item, "syscall \"" + *name + "\" is outside the supported range");
                    continue;
                }
                rules.allow.set(static_cast<size_t>(*nr));
            }
        }
    } else {
        check.error(node, "spec.syscalls needs an \"allow\" list");
    }

    if (const YAML::Node action = node["onViolation"]) {
        if (auto text = check.scalar(action, "spec.syscalls.onViolation")) {
            if (auto parsed = parse_violation_action(*text))
                rules.on_violation = *parsed;
            else
                check.error(action, "spec.syscalls.onViolation must be \"report\", \"deny\" or \"kill\", not \"" +
                                        *text + "\"");
        }
    }
}

void parse_spec(Checker& check, const YAML::Node& spec, FunctionPolicy& policy) {
    if (!check.expect_map(spec, "spec", {"selector", "mode", "syscalls"})) return;

    if (const YAML::Node selector = spec["selector"]) {
        if (check.expect_map(selector, "spec.selector", {"function"})) {
            if (const YAML::Node fn = selector["function"]) {
                if (auto name = check.scalar(fn, "spec.selector.function")) {
                    if (name->empty())
                        check.error(fn, "spec.selector.function must not be empty");
                    policy.function = *name;
                }
            } else {
                check.error(selector, "spec.selector needs \"function\"");
            }
        }
    } else {
        check.error(spec, "spec needs a \"selector\"");
    }

    if (const YAML::Node mode = spec["mode"]) {
        if (auto text = check.scalar(mode, "spec.mode")) {
            if (auto parsed = parse_mode(*text))
                policy.mode = *parsed;
            else
                check.error(mode, "spec.mode must be \"audit\" or \"enforce\", not \"" + *text + "\"");
        }
    }

    if (const YAML::Node syscalls = spec["syscalls"]) {
        parse_syscalls(check, syscalls, policy.syscalls);
    } else {
        // No syscalls section: this policy does not restrict syscalls.
        policy.syscalls.allow.set();
    }
}

}  // namespace

PolicyParseResult parse_policy(const std::string& yaml_text, const std::string& source_name) {
    Checker check(source_name);
    FunctionPolicy policy;
    policy.source = source_name;

    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::ParserException& e) {
        check.error_at(e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg);
        return {std::nullopt, check.take()};
    } catch (const YAML::Exception& e) {
        check.error_at(0, 0, std::string("invalid YAML: ") + e.what());
        return {std::nullopt, check.take()};
    }

    try {
        if (!root || root.IsNull()) {
            check.error_at(0, 0, "empty policy file");
        } else if (check.expect_map(root, "the policy document",
                                    {"apiVersion", "kind", "metadata", "spec"})) {
            if (const YAML::Node v = root["apiVersion"]) {
                auto text = check.scalar(v, "apiVersion");
                if (text && *text != kApiVersion)
                    check.error(v, "apiVersion must be \"" + std::string(kApiVersion) + "\", not \"" +
                                       *text + "\"");
            } else {
                check.error(root, "missing \"apiVersion\"");
            }
            if (const YAML::Node k = root["kind"]) {
                auto text = check.scalar(k, "kind");
                if (text && *text != kKind)
                    check.error(k, "kind must be \"" + std::string(kKind) + "\", not \"" + *text + "\"");
            } else {
                check.error(root, "missing \"kind\"");
            }
            if (const YAML::Node meta = root["metadata"]) {
                if (check.expect_map(meta, "metadata", {"name", "labels"})) {
                    if (const YAML::Node name = meta["name"]) {
                        if (auto text = check.scalar(name, "metadata.name")) policy.name = *text;
                    } else {
                        check.error(meta, "metadata needs a \"name\"");
                    }
                    if (const YAML::Node labels = meta["labels"]; labels && !labels.IsMap())
                        check.error(labels, "metadata.labels must be a mapping");
                }
            } else {
                check.error(root, "missing \"metadata\"");
            }
            if (const YAML::Node spec = root["spec"])
                parse_spec(check, spec, policy);
            else
                check.error(root, "missing \"spec\"");
        }
    } catch (const YAML::Exception& e) {
        // Defensive: yaml-cpp throws on odd node shapes (e.g. aliases of
        // aliases); an error message beats a crashed daemon.
        check.error_at(e.mark.line + 1, e.mark.column + 1, std::string("invalid policy: ") + e.msg);
    }

    if (!check.clean()) return {std::nullopt, check.take()};
    return {std::move(policy), {}};
}

PolicyParseResult parse_policy_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {std::nullopt, {{path.string(), 0, 0, "cannot read file"}}};
    std::string text;
    text.resize(kMaxPolicyFileBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPolicyFileBytes)
        return {std::nullopt,
                {{path.string(), 0, 0,
                  "file larger than " + std::to_string(kMaxPolicyFileBytes) + " bytes"}}};
    return parse_policy(text, path.string());
}

}  // namespace fnw
