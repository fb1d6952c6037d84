// SPDX-License-Identifier: Apache-2.0
#include "k8s/pod_json.hpp"

#include <utility>

namespace fnw::pod_json {

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const size_t first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string printable(std::string_view text, size_t max_chars) {
    std::string shown(text.substr(0, max_chars));
    for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = ' ';
    if (text.size() > max_chars) shown += "...";
    return shown;
}

const Json* member(const Json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::string string_member(const Json& object, const char* key) {
    const Json* value = member(object, key);
    return value && value->is_string() ? value->get<std::string>() : std::string();
}

std::string resource_version_of(const Json& object) {
    const Json* metadata = member(object, "metadata");
    return metadata ? string_member(*metadata, "resourceVersion") : std::string();
}

namespace {

// "containerd://0123..." -> "0123...": the cgroup path carries the bare id.
std::string without_runtime_prefix(std::string_view container_id) {
    const size_t scheme_end = container_id.find("://");
    return std::string(scheme_end == std::string_view::npos ? container_id : container_id.substr(scheme_end + 3));
}

}  // namespace

std::optional<PodInfo> pod_from_json(const Json& pod, const FunctionLabelKeys& function_labels) {
    const Json* metadata = member(pod, "metadata");
    if (!metadata) return std::nullopt;
    PodInfo info;
    info.uid = string_member(*metadata, "uid");
    if (info.uid.empty()) return std::nullopt;
    info.namespace_ = string_member(*metadata, "namespace");
    info.name = string_member(*metadata, "name");
    if (const Json* labels = member(*metadata, "labels"); labels && labels->is_object())
        for (const auto& [key, value] : labels->items())
            if (value.is_string()) info.labels.emplace(key, value.get<std::string>());
    if (const Json* spec = member(pod, "spec")) info.node = string_member(*spec, "nodeName");
    if (const Json* status = member(pod, "status")) {
        for (const char* list : {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"}) {
            const Json* statuses = member(*status, list);
            if (!statuses || !statuses->is_array()) continue;
            for (const Json& container : *statuses) {
                std::string id = without_runtime_prefix(string_member(container, "containerID"));
                if (id.empty()) continue;
                info.container_names.insert_or_assign(id, string_member(container, "name"));
                info.container_ids.push_back(std::move(id));
            }
        }
    }
    info.function = function_labels.function_of(info.labels);
    return info;
}

std::string status_message(std::string_view body) {
    const Json status = Json::parse(body.begin(), body.end(), nullptr, false);
    if (!status.is_discarded()) {
        if (std::string message = string_member(status, "message"); !message.empty()) return printable(message);
    }
    return printable(trim(body));
}

}  // namespace fnw::pod_json
