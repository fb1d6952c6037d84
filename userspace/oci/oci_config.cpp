// SPDX-License-Identifier: Apache-2.0
#include "oci/oci_config.hpp"

#include <vector>

namespace fnw {
namespace {

using nlohmann::json;

std::string annotation(const json& annotations, const char* key) {
    auto it = annotations.find(key);
    return it != annotations.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The first of `keys` the annotations have, "" when none.
std::string first_annotation(const json& annotations, std::initializer_list<const char*> keys) {
    for (const char* key : keys)
        if (std::string value = annotation(annotations, key); !value.empty()) return value;
    return "";
}

json read_only_bind(const std::filesystem::path& source, const std::string& destination) {
    return {{"destination", destination},
            {"type", "bind"},
            {"source", source.string()},
            {"options", {"bind", "ro", "nosuid", "nodev"}}};
}

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t end; (end = text.find(separator, start)) != std::string_view::npos; start = end + 1)
        parts.emplace_back(text.substr(start, end - start));
    parts.emplace_back(text.substr(start));
    return parts;
}

// runc's systemd driver: "slice:prefix:name" -> <slice path>/<prefix>-<name>.scope.
Result<std::filesystem::path> systemd_cgroup(const std::string& cgroups_path, const std::string& id) {
    std::vector<std::string> parts = cgroups_path.empty() ? std::vector<std::string>{"", "runc", id}
                                                          : split(cgroups_path, ':');
    if (parts.size() != 3) return fail("cgroupsPath \"" + cgroups_path + "\" is not slice:prefix:name");
    const std::string slice = parts[0].empty() ? "system.slice" : parts[0];
    Result<std::string> expanded = expand_systemd_slice(slice);
    if (!expanded) return fail(expanded.error());
    const std::string& name = parts[2];
    const bool is_slice = name.size() > 6 && name.ends_with(".slice");
    return std::filesystem::path(*expanded) / (is_slice ? name : parts[1] + "-" + name + ".scope");
}

}  // namespace

ContainerClaim claim_of(const json& config) {
    ContainerClaim who;
    auto found = config.find("annotations");
    if (found == config.end() || !found->is_object()) return who;
    const json& a = *found;
    who.function = annotation(a, kFunctionAnnotation.data());
    who.namespace_ = first_annotation(a, {"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"});
    who.pod = first_annotation(a, {"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"});
    who.container = first_annotation(a, {"io.kubernetes.cri.container-name", "io.kubernetes.container.name"});
    const std::string type = first_annotation(a, {"io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"});
    who.sandbox = type == "sandbox";
    return who;
}

Result<std::string> expand_systemd_slice(std::string_view slice) {
    if (slice == "-.slice") return std::string();
    if (!slice.ends_with(".slice") || slice.find('/') != std::string_view::npos)
        return fail("\"" + std::string(slice) + "\" is not a systemd slice name");
    const std::string_view name = slice.substr(0, slice.size() - 6);
    if (name.empty() || name.front() == '-' || name.back() == '-' || name.find("--") != std::string_view::npos)
        return fail("\"" + std::string(slice) + "\" is not a systemd slice name");
    std::string path;
    for (size_t dash = 0; (dash = name.find('-', dash)) != std::string_view::npos; ++dash)
        path += std::string(name.substr(0, dash)) + ".slice/";
    return path + std::string(slice);
}

Result<std::filesystem::path> container_cgroup(const CgroupPlacement& placement,
                                               const std::filesystem::path& cgroup2_root,
                                               const std::filesystem::path& own_cgroup) {
    std::filesystem::path relative;
    if (placement.systemd) {
        Result<std::filesystem::path> unit = systemd_cgroup(placement.cgroups_path, placement.container_id);
        if (!unit) return fail(unit.error());
        relative = *unit;
    } else {
        const std::filesystem::path inner(placement.cgroups_path.empty() ? placement.container_id
                                                                         : placement.cgroups_path);
        relative = inner.is_absolute() ? inner.relative_path() : own_cgroup.relative_path() / inner;
    }
    relative = relative.lexically_normal();
    if (relative.empty() || relative == "." || *relative.begin() == "..")
        return fail("cgroupsPath \"" + placement.cgroups_path + "\" leaves the cgroup2 mount");
    return cgroup2_root / relative;
}

Result<json> rewrite_for_init(json config, const InitMounts& mounts) {
    auto process = config.find("process");
    if (process == config.end() || !process->is_object()) return fail("config.json has no process");
    auto args = process->find("args");
    if (args == process->end() || !args->is_array() || args->empty()) return fail("config.json has no process.args");
    json wrapped = json::array({mounts.container_dir + "/fnwarden-init", mounts.container_dir + "/plan", "--"});
    for (const json& arg : *args) wrapped.push_back(arg);
    *args = std::move(wrapped);
    json& list = config["mounts"];
    if (list.is_null()) list = json::array();
    if (!list.is_array()) return fail("config.json's mounts is not a list");
    list.push_back(read_only_bind(mounts.host_dir, mounts.container_dir));
    list.push_back(read_only_bind(mounts.host_init, mounts.container_dir + "/fnwarden-init"));
    return config;
}

}  // namespace fnw
