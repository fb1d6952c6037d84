// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: cgroup paths come from /proc/PID/cgroup of any process on
// the host, and below a container they are named by the container itself, so
// the parser must turn any byte string into a validated identity or nothing:
// never a crash, never an id it did not check.
//
// Blind bytes rarely grow into a 64-digit id inside a known layout, so each
// input is also spliced into one of the real layouts (first byte: which one,
// second: where), which keeps the fuzzer working right at the boundaries of
// the fields the parser validates.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "k8s/cgroup_path.hpp"

namespace {

constexpr std::string_view kLayouts[] = {
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/"
    "cri-containerd-09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439.scope",
    "/kubepods.slice/kubepods-pod03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/"
    "crio-89e8f450417b56acf3089925dfd8f050dd50e950e18cfe83ea923269df601102.scope/container",
    "/kubepods/besteffort/podac04f3f2-1f2c-11e9-b015-1ebee232acfa/"
    "605439acbd4fb18c145069289094b17f17e0cfa938f78012d4960bc797305f22",
    "/kubepods/podac04f3f2-1f2c-11e9-b015-1ebee232acfa/crio-89e8f450417b56acf3089925dfd8f050dd50e950e18cfe83ea923269df601102",
    "/system.slice/docker-9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d.scope",
    "/docker/9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d",
    "/machine.slice/machine-libpod_pod_ddf44d54b520f0b4469fcd01c3155ca49e6911dc2175471eb3a7b789187a7a89.slice/"
    "libpod-1dadda571b14eefb3158a15d0fff7e0089f9dd92f922679ed0116cccdfe8bb0f.scope",
    "/user.slice/user-1000.slice/user@1000.service/user.slice/"
    "libpod-1dadda571b14eefb3158a15d0fff7e0089f9dd92f922679ed0116cccdfe8bb0f.scope",
    "/libpod_parent/ddf44d54b520f0b4469fcd01c3155ca49e6911dc2175471eb3a7b789187a7a89/"
    "libpod-1dadda571b14eefb3158a15d0fff7e0089f9dd92f922679ed0116cccdfe8bb0f",
    "/system.slice/quadlet-minimal.service/libpod-payload-91c57c2ae87a8d57123bbb3083b3e158b911c4fd485da131f636f83f979b092c",
    "/system.slice/runc-fn-hello.scope",
};
constexpr size_t kLayoutCount = sizeof(kLayouts) / sizeof(kLayouts[0]);

bool all_of(std::string_view s, bool (*ok)(char)) {
    for (char c : s)
        if (!ok(c)) return false;
    return true;
}
bool lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool runc_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
           c == '-';
}

bool canonical_uid(std::string_view u) {
    if (u.size() != 36) return false;
    for (size_t i = 0; i < u.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !lower_hex(u[i])) return false;
    }
    return true;
}

// The uid as it appeared in the path: dashes (cgroupfs) or underscores (systemd).
bool uid_in_path(std::string_view path, std::string uid) {
    if (path.find(uid) != std::string_view::npos) return true;
    for (char& c : uid)
        if (c == '-') c = '_';
    return path.find(uid) != std::string_view::npos;
}

void check(std::string_view path) {
    const auto id = fnw::parse_container_cgroup_path(path);
    if (fnw::to_string(id ? id->runtime : fnw::ContainerRuntime::Unknown).empty()) __builtin_trap();
    if (!id) return;

    // Only well-formed paths are ever recognised.
    if (path.empty() || path.front() != '/' || path.size() > fnw::kMaxCgroupPathBytes) __builtin_trap();
    if (path.find("//") != std::string_view::npos || path.find("/../") != std::string_view::npos ||
        path.find("/./") != std::string_view::npos || path.back() == '/' || path.ends_with("/..") ||
        path.ends_with("/."))
        __builtin_trap();
    for (char c : path)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();

    // Ids are validated and copied from the path, never invented.
    if (id->runtime == fnw::ContainerRuntime::Runc) {
        if (id->container_id.empty() || id->container_id == "." || id->container_id == ".." ||
            !all_of(id->container_id, runc_char))
            __builtin_trap();
    } else if (id->container_id.size() != 64 || !all_of(id->container_id, lower_hex)) {
        __builtin_trap();
    }
    if (path.find(id->container_id) == std::string_view::npos) __builtin_trap();

    // A pod UID always comes with its QoS class, and only then.
    if (id->pod_uid.empty() != id->qos_class.empty()) __builtin_trap();
    if (!id->pod_uid.empty()) {
        if (!canonical_uid(id->pod_uid) || !uid_in_path(path, id->pod_uid)) __builtin_trap();
        if (id->qos_class != "guaranteed" && id->qos_class != "burstable" && id->qos_class != "besteffort")
            __builtin_trap();
    }

    // A cgroup made below a container is still that container.
    if (path.size() + 4 <= fnw::kMaxCgroupPathBytes) {
        const std::string nested = std::string(path) + "/sub";
        if (fnw::parse_container_cgroup_path(nested) != id) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 2 * fnw::kMaxCgroupPathBytes) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check(input);

    // Splice: layout data[0], bytes data[2..] replacing as many at offset data[1].
    if (size >= 2) {
        std::string spliced(kLayouts[data[0] % kLayoutCount]);
        const size_t at = data[1] % (spliced.size() + 1);
        const std::string_view patch = input.substr(2);
        spliced.replace(at, std::min(patch.size(), spliced.size() - at), patch);
        check(spliced);
    }

    // Every layout above parses on its own, always (a regression guard that
    // costs nothing next to the fuzzing).
    for (std::string_view layout : kLayouts)
        if (!fnw::parse_container_cgroup_path(layout)) __builtin_trap();
    return 0;
}
