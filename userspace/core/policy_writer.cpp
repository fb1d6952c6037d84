#include "core/policy_writer.hpp"

#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/syscall_table.hpp"

namespace fnw {

std::string render_policy_yaml(const FunctionPolicy& policy, const std::string& comment) {
    // yaml-cpp's emitter quotes whatever needs quoting (names come from the
    // user's command line and must not break the document).
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "apiVersion" << YAML::Value << "fnwarden.io/v1";
    out << YAML::Key << "kind" << YAML::Value << "FunctionPolicy";
    out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value
        << policy.name << YAML::EndMap;
    out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "selector" << YAML::Value << YAML::BeginMap << YAML::Key << "function" << YAML::Value
        << policy.function << YAML::EndMap;
    out << YAML::Key << "mode" << YAML::Value << std::string(to_string(policy.mode));
    if (!policy.syscalls.allow.all()) {
        out << YAML::Key << "syscalls" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "onViolation" << YAML::Value << std::string(to_string(policy.syscalls.on_violation));
        out << YAML::Key << "allow" << YAML::Value << YAML::BeginSeq;
        for (size_t nr = 0; nr < policy.syscalls.allow.size(); ++nr) {
            if (!policy.syscalls.allow.test(nr)) continue;
            auto name = SyscallTable::name(static_cast<int>(nr));
            if (!name.empty()) out << std::string(name);
        }
        out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;

    std::ostringstream text;
    std::istringstream lines(comment);
    for (std::string line; std::getline(lines, line);) text << "# " << line << "\n";
    text << out.c_str() << "\n";
    return text.str();
}

}  // namespace fnw
