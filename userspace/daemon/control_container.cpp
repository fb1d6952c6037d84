// SPDX-License-Identifier: Apache-2.0
// `container` on the control socket: fnwarden-runtime (the OCI runtime
// wrapper, docs/kubernetes.md) asks which function a container belongs to
// before it starts, and registers the container's cgroup before its
// entrypoint runs. Root only: the wrapper runs as the container runtime
// does, and a registration here may take any cgroup of the host.
#include <chrono>

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"
#include "daemon/control_service.hpp"

namespace fnw {
namespace {

// `path` names a cgroup strictly below `root`, as text: absolute, no "."
// or "..", nothing but the root's own prefix in front. Returns the path
// relative to the root.
Result<std::string> cgroup_below(const std::string& path, const std::filesystem::path& root) {
    const std::filesystem::path p(path);
    if (!p.is_absolute() || p.lexically_normal() != p || path.back() == '/')
        return fail("cgroup path \"" + path + "\" is not an absolute, normal path");
    const std::filesystem::path relative = p.lexically_relative(root);
    if (relative.empty() || relative == "." || *relative.begin() == "..")
        return fail("cgroup path \"" + path + "\" is not below the cgroup2 mount " + root.string());
    return relative.string();
}

}  // namespace

Result<std::string> ControlService::container_function(const ContainerRequest& request) const {
    const PolicySet* set = parts_.policies.set();
    if (!request.function.empty()) {
        if (!set || !set->find(request.function)) return fail(no_policy_for(request.function).error);
        return request.function;
    }
    // As the identifier does for a container it finds: cgroupPath first, then pod selectors.
    if (!request.cgroup_path.empty()) {
        Result<std::string> relative = cgroup_below(request.cgroup_path, cgroup2_root_);
        if (!relative) return fail(relative.error());
        if (std::string by_path = parts_.identifier.function_for_path(*relative); !by_path.empty()) return by_path;
    }
    if (request.pod.empty()) return std::string();
    return parts_.identifier.function_for_pod(request.namespace_, request.pod);
}

void ControlService::on_request(ClientId client, const ContainerRequest& request) {
    const std::optional<ControlPeer> peer = parts_.server.peer(client);
    if (!peer || !peer->privileged) return reply(client, ErrorReply{"container: only root may register containers"});
    Result<std::string> function = container_function(request);
    if (!function) return reply(client, ErrorReply{"container " + request.id + ": " + function.error()});
    if (function->empty() || !request.register_cgroup) {
        ContainerReply answer{*function};
        if (const auto slot = function->empty() ? std::nullopt : parts_.policies.table().slot_of(*function)) {
            const SlotInfo& info = *parts_.policies.table().info(*slot);
            answer.policy = info.policy;
            answer.mode = std::string(to_string(info.mode));
            answer.policy_id = *slot;
        }
        return reply(client, answer);
    }
    reply(client, register_container(client, request, *function));
}

// The entry is armed past two execs (runc's init -> fnwarden's container
// init -> the entrypoint: FNW_CGROUP_ARM_SKIP_EXEC) and belongs to no
// connection: the wrapper exits right after `runc create`, and the entry
// goes when the cgroup does (Registrations::drain_released).
ControlReply ControlService::register_container(ClientId client, const ContainerRequest& request,
                                                const std::string& function) {
    const auto slot = parts_.policies.table().slot_of(function);
    if (!slot) return no_policy_for(function);
    Result<std::string> relative = cgroup_below(request.cgroup_path, cgroup2_root_);
    if (!relative) return ErrorReply{relative.error()};
    const std::filesystem::path path(request.cgroup_path);
    auto inspected = hooks_.inspect_cgroup ? hooks_.inspect_cgroup(path.parent_path(), path.filename())
                                           : inspect_cgroup(path.parent_path(), path.filename());
    if (!inspected) return ErrorReply{"container " + request.id + ": " + inspected.error()};
    if (!inspected->directory || !inspected->cgroupfs)
        return ErrorReply{"container " + request.id + ": " + request.cgroup_path + " is not a cgroup2 directory"};
    const uint64_t cgroup_id = inspected->id;
    if (parts_.registrations.contains(cgroup_id))
        return ErrorReply{"container " + request.id + ": cgroup " + request.cgroup_path + " is registered already"};
    if (request.landlock) {
        if (Status attached = hooks_.attach_landlock_reporting(); !attached) return ErrorReply{attached.error()};
    }
    fnw_cgroup_entry entry{};
    entry.policy_id = *slot;
    entry.flags = FNW_CGROUP_ARM_ON_EXEC | FNW_CGROUP_ARM_SKIP_EXEC |
                  (request.landlock ? uint32_t{FNW_CGROUP_LANDLOCK} : 0u);
    if (Status monitored = parts_.maps.monitor_cgroup(cgroup_id, entry); !monitored)
        return ErrorReply{monitored.error()};
    Registration reg;
    reg.function = function;
    reg.path = request.cgroup_path;
    reg.uid = parts_.server.peer(client)->uid;
    reg.landlock = request.landlock;
    reg.released = reg.launcher_gone = true;  // nobody holds it: it lasts as long as the cgroup
    reg.released_at = std::chrono::steady_clock::now();
    parts_.identifier.forget(cgroup_id);  // a selector may have found it first: the wrapper's entry is armed
    parts_.registrations.add(cgroup_id, std::move(reg));
    parts_.router.refresh_trace_flags();
    const SlotInfo& info = *parts_.policies.table().info(*slot);
    spdlog::info("{}: container {} cgroup {} registered by fnwarden-runtime (policy {}, {})", display_name(function),
                 display_name(request.id), display_name(request.cgroup_path), display_name(info.policy),
                 to_string(info.mode));
    return ContainerReply{function, info.policy, std::string(to_string(info.mode)), cgroup_id, *slot};
}

}  // namespace fnw
