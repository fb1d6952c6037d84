// SPDX-License-Identifier: Apache-2.0
#include "k8s/cgroup_path.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>

// A hand-written segment walker rather than std::regex: every layout is a
// fixed sequence of segments, each a literal prefix/suffix around a field
// that needs checks a regex would only half express (exact UID grouping, the
// same uid in two segments, the QoS of the pod slice matching its parent).
// Walking from the root also makes "anchored, outermost container wins"
// (see the header) the obvious reading of the code. And libstdc++'s
// std::regex recurses per input character, so a hostile 4 KiB path can
// exhaust the stack (GCC PR 86164); this walker allocates only the result.

namespace fnw {
namespace {

constexpr size_t kFullIdLength = 64;
constexpr size_t kPodUidLength = 36;
// No runtime makes a longer name (a systemd scope with a full id is ~80
// bytes); NAME_MAX also bounds what a filesystem path component can be.
constexpr size_t kMaxSegmentBytes = 255;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_full_id(std::string_view s) {
    return s.size() == kFullIdLength && std::all_of(s.begin(), s.end(), is_lower_hex);
}

// A pod UID as kubelet writes it into a cgroup name, returned with dashes.
// systemd slice names use '_' instead, because '-' there means "child of".
std::optional<std::string> canonical_pod_uid(std::string_view text, char separator) {
    if (text.size() != kPodUidLength) return std::nullopt;
    std::string uid(text);
    for (size_t i = 0; i < kPodUidLength; ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != separator) return std::nullopt;
            uid[i] = '-';
        } else if (!is_lower_hex(text[i])) {
            return std::nullopt;
        }
    }
    return uid;
}

// A uid as systemd-logind prints it in user-UID.slice: decimal, no sign, no
// leading zero, and not (uid_t)-1, which means "no user".
bool is_uid(std::string_view s) {
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
    uint64_t value = 0;
    for (char c : s) {
        if (!is_digit(c)) return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value < UINT32_MAX;
}

// runc's id rule ([\w+-.]+, not "." or "..") minus '+': systemd would have
// escaped it as \x2b in the scope name, so a literal one was not made by runc.
bool is_runc_name(std::string_view s) {
    if (s.empty() || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

// The characters systemd allows in a unit name; anything else it escapes.
bool is_unit_name(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return is_alnum(c) || c == ':' || c == '_' || c == '.' || c == '-' || c == '@' || c == '\\';
    });
}

// `text` without `prefix` and `suffix`, if it has both (the middle may be empty).
std::optional<std::string_view> strip(std::string_view text, std::string_view prefix, std::string_view suffix) {
    if (text.size() < prefix.size() + suffix.size() || !text.starts_with(prefix) || !text.ends_with(suffix))
        return std::nullopt;
    return text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
}

// Absolute, bounded, no empty / "." / ".." segment, no control byte. Checked
// once for the whole path, so the trailing segments below a container (which
// the container itself names) are held to it too, even though no field of
// the result comes from them. ".." is how the kernel shows a cgroup outside
// the reader's cgroup namespace: such a path is not relative to the root.
bool well_formed(std::string_view path) {
    if (path.empty() || path.size() > kMaxCgroupPathBytes || path.front() != '/') return false;
    size_t start = 1;
    while (start <= path.size()) {
        const size_t end = std::min(path.find('/', start), path.size());
        const std::string_view segment = path.substr(start, end - start);
        if (segment.empty() || segment.size() > kMaxSegmentBytes || segment == "." || segment == "..") return false;
        for (char c : segment)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
        start = end + 1;
    }
    return true;
}

// "/a/b/c" one segment at a time; "" once past the end. Only for paths that
// passed well_formed(), where no segment is empty.
class Segments {
public:
    explicit Segments(std::string_view path) : rest_(path) {}

    std::string_view next() {
        if (rest_.empty()) return {};
        rest_.remove_prefix(1);  // the '/'
        const std::string_view segment = rest_.substr(0, rest_.find('/'));
        rest_.remove_prefix(segment.size());
        return segment;
    }

private:
    std::string_view rest_;
};

// How a runtime names a container's cgroup: prefix + full id + suffix.
struct ContainerName {
    std::string_view prefix;
    std::string_view suffix;
    ContainerRuntime runtime;
};

// crio-conmon-H.scope and libpod-conmon-H.scope share these prefixes, but
// "conmon-H" is no id, so conmon never matches (see the header for why).
constexpr ContainerName kKubeSystemdScopes[] = {
    {"cri-containerd-", ".scope", ContainerRuntime::Containerd},
    {"crio-", ".scope", ContainerRuntime::CriO},
    {"docker-", ".scope", ContainerRuntime::Docker},  // cri-dockerd
};
constexpr ContainerName kKubeCgroupfsDirs[] = {
    {"crio-", "", ContainerRuntime::CriO},
    {"", "", ContainerRuntime::Unknown},  // containerd or dockershim: the same bare id
};
constexpr ContainerName kDockerScope[] = {{"docker-", ".scope", ContainerRuntime::Docker}};
constexpr ContainerName kDockerDir[] = {{"", "", ContainerRuntime::Docker}};
constexpr ContainerName kPodmanScope[] = {{"libpod-", ".scope", ContainerRuntime::Podman}};
constexpr ContainerName kPodmanDir[] = {{"libpod-", "", ContainerRuntime::Podman}};
constexpr ContainerName kPodmanPayload[] = {{"libpod-payload-", "", ContainerRuntime::Podman}};

std::optional<ContainerIdentity> container_named(std::string_view segment, std::span<const ContainerName> names) {
    for (const ContainerName& name : names)
        if (const auto id = strip(segment, name.prefix, name.suffix); id && is_full_id(*id))
            return ContainerIdentity{name.runtime, std::string(*id), {}, {}};
    return std::nullopt;
}

std::optional<ContainerIdentity> runc_scope(std::string_view segment) {
    if (const auto name = strip(segment, "runc-", ".scope"); name && is_runc_name(*name))
        return ContainerIdentity{ContainerRuntime::Runc, std::string(*name), {}, {}};
    return std::nullopt;
}

// libpod-H.scope, optionally inside its pod's slice <parent>-libpod_pod_H.slice.
std::optional<ContainerIdentity> podman_scope(std::string_view segment, Segments& path,
                                              std::string_view pod_slice_prefix) {
    if (const auto pod = strip(segment, pod_slice_prefix, ".slice"); pod && is_full_id(*pod)) segment = path.next();
    return container_named(segment, kPodmanScope);
}

// podman --cgroups=split: the payload in a child of the calling service's
// cgroup; conmon goes into its sibling "runtime" and matches nothing.
std::optional<ContainerIdentity> podman_split_payload(std::string_view service_unit, Segments& path) {
    const auto service = strip(service_unit, "", ".service");
    if (!service || !is_unit_name(*service)) return std::nullopt;
    return container_named(path.next(), kPodmanPayload);
}

struct QosLevel {
    std::string_view qos_class;
    std::string_view systemd_slice;       // empty for guaranteed: no QoS level
    std::string_view systemd_pod_prefix;  // the pod slice repeats its parent's name
    std::string_view cgroupfs_dir;
};
constexpr QosLevel kGuaranteed{"guaranteed", "", "kubepods-pod", ""};
constexpr QosLevel kQosLevels[] = {
    {"burstable", "kubepods-burstable.slice", "kubepods-burstable-pod", "burstable"},
    {"besteffort", "kubepods-besteffort.slice", "kubepods-besteffort-pod", "besteffort"},
};

std::optional<ContainerIdentity> in_pod(std::optional<ContainerIdentity> container, std::string pod_uid,
                                        std::string_view qos_class) {
    if (!container) return std::nullopt;
    container->pod_uid = std::move(pod_uid);
    container->qos_class = qos_class;
    return container;
}

// kubepods.slice/[kubepods-QOS.slice/]kubepods[-QOS]-podU_.slice/<scope>
std::optional<ContainerIdentity> kubepods_systemd(Segments& path) {
    const QosLevel* qos = &kGuaranteed;
    std::string_view pod_slice = path.next();
    for (const QosLevel& level : kQosLevels) {
        if (pod_slice == level.systemd_slice) {
            qos = &level;
            pod_slice = path.next();
            break;
        }
    }
    const auto uid_text = strip(pod_slice, qos->systemd_pod_prefix, ".slice");
    auto uid = uid_text ? canonical_pod_uid(*uid_text, '_') : std::nullopt;
    if (!uid) return std::nullopt;
    return in_pod(container_named(path.next(), kKubeSystemdScopes), std::move(*uid), qos->qos_class);
}

// kubepods/[QOS/]podU/<dir>
std::optional<ContainerIdentity> kubepods_cgroupfs(Segments& path) {
    const QosLevel* qos = &kGuaranteed;
    std::string_view pod_dir = path.next();
    for (const QosLevel& level : kQosLevels) {
        if (pod_dir == level.cgroupfs_dir) {
            qos = &level;
            pod_dir = path.next();
            break;
        }
    }
    const auto uid_text = strip(pod_dir, "pod", "");
    auto uid = uid_text ? canonical_pod_uid(*uid_text, '-') : std::nullopt;
    if (!uid) return std::nullopt;
    return in_pod(container_named(path.next(), kKubeCgroupfsDirs), std::move(*uid), qos->qos_class);
}

std::optional<ContainerIdentity> system_slice(Segments& path) {
    const std::string_view unit = path.next();
    if (auto docker = container_named(unit, kDockerScope)) return docker;
    if (auto runc = runc_scope(unit)) return runc;
    return podman_split_payload(unit, path);
}

std::optional<ContainerIdentity> machine_slice(Segments& path) {
    return podman_scope(path.next(), path, "machine-libpod_pod_");
}

std::optional<ContainerIdentity> docker_cgroupfs(Segments& path) { return container_named(path.next(), kDockerDir); }

std::optional<ContainerIdentity> libpod_parent(Segments& path) {
    std::string_view dir = path.next();
    if (is_full_id(dir)) dir = path.next();  // a pod: /libpod_parent/<pod id>/libpod-H
    return container_named(dir, kPodmanDir);
}

// user.slice/user-UID.slice/user@UID.service/...: a user's own systemd, where
// rootless runtimes put their containers (in user.slice) and Quadlet units
// run (in any slice, app.slice by default).
std::optional<ContainerIdentity> user_manager(Segments& path) {
    const auto uid = strip(path.next(), "user-", ".slice");
    const auto manager_uid = strip(path.next(), "user@", ".service");
    if (!uid || !is_uid(*uid) || manager_uid != uid) return std::nullopt;

    const std::string_view slice_unit = path.next();
    const auto slice = strip(slice_unit, "", ".slice");
    if (!slice || !is_unit_name(*slice)) return std::nullopt;
    const std::string_view unit = path.next();
    if (slice_unit == "user.slice") {
        if (auto docker = container_named(unit, kDockerScope)) return docker;
        if (auto runc = runc_scope(unit)) return runc;
        if (auto podman = podman_scope(unit, path, "user-libpod_pod_")) return podman;
    }
    return podman_split_payload(unit, path);
}

using LayoutParser = std::optional<ContainerIdentity> (*)(Segments&);
struct Layout {
    std::string_view root;  // the first segment
    LayoutParser parse;     // the rest
};
constexpr Layout kLayouts[] = {
    {"kubepods.slice", kubepods_systemd}, {"kubepods", kubepods_cgroupfs}, {"system.slice", system_slice},
    {"machine.slice", machine_slice},     {"user.slice", user_manager},    {"docker", docker_cgroupfs},
    {"libpod_parent", libpod_parent},
};

}  // namespace

std::optional<ContainerIdentity> parse_container_cgroup_path(std::string_view path) {
    if (!well_formed(path)) return std::nullopt;
    Segments segments(path);
    const std::string_view root = segments.next();
    for (const Layout& layout : kLayouts)
        if (root == layout.root) return layout.parse(segments);
    return std::nullopt;
}

std::string_view to_string(ContainerRuntime runtime) {
    switch (runtime) {
        case ContainerRuntime::Docker: return "docker";
        case ContainerRuntime::Containerd: return "containerd";
        case ContainerRuntime::CriO: return "cri-o";
        case ContainerRuntime::Podman: return "podman";
        case ContainerRuntime::Runc: return "runc";
        case ContainerRuntime::Unknown: break;
    }
    return "unknown";
}

}  // namespace fnw
