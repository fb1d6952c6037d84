// SPDX-License-Identifier: Apache-2.0
#include "k8s/cgroup_path.hpp"

#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fnw {

// gtest output for a mismatch: the fields, not a byte dump.
void PrintTo(const ContainerIdentity& id, std::ostream* out) {
    *out << "{" << to_string(id.runtime) << ", id \"" << id.container_id << "\", pod \"" << id.pod_uid
         << "\", qos \"" << id.qos_class << "\"}";
}

namespace {

// Ids and UIDs as they appear in public bug reports, cgroup trees and other
// projects' tests (cri-o, runc, podman, minikube, netdata, Falco issues).
constexpr std::string_view kContainerdId = "09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439";
constexpr std::string_view kCrioId = "89e8f450417b56acf3089925dfd8f050dd50e950e18cfe83ea923269df601102";
constexpr std::string_view kCrioConmonId = "32da98c8522068be05a7510a3eddb09cad6ed2f03286180d0e931d0d0b6224a6";
constexpr std::string_view kDockerId = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d";
constexpr std::string_view kKindNodeId = "d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22";
constexpr std::string_view kCgroupfsId = "605439acbd4fb18c145069289094b17f17e0cfa938f78012d4960bc797305f22";
constexpr std::string_view kPodmanId = "1dadda571b14eefb3158a15d0fff7e0089f9dd92f922679ed0116cccdfe8bb0f";
constexpr std::string_view kPodmanPodId = "ddf44d54b520f0b4469fcd01c3155ca49e6911dc2175471eb3a7b789187a7a89";
constexpr std::string_view kPayloadId = "91c57c2ae87a8d57123bbb3083b3e158b911c4fd485da131f636f83f979b092c";

constexpr std::string_view kPodUid = "03f3f104-3215-44f2-9686-d4dd1f05a7ed";
constexpr std::string_view kPodUidSystemd = "03f3f104_3215_44f2_9686_d4dd1f05a7ed";
constexpr std::string_view kBestEffortUid = "2ca4a155-3599-498d-bb9d-4446693fa3ea";
constexpr std::string_view kBestEffortUidSystemd = "2ca4a155_3599_498d_bb9d_4446693fa3ea";
constexpr std::string_view kCgroupfsUid = "ac04f3f2-1f2c-11e9-b015-1ebee232acfa";

std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto p : parts) out += p;
    return out;
}

ContainerIdentity container(ContainerRuntime runtime, std::string_view id) {
    return {runtime, std::string(id), "", ""};
}
ContainerIdentity pod_container(ContainerRuntime runtime, std::string_view id, std::string_view uid,
                                std::string_view qos) {
    return {runtime, std::string(id), std::string(uid), std::string(qos)};
}

const std::string kBurstableSlice = cat({"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod",
                                         kPodUidSystemd, ".slice"});
const std::string kBestEffortSlice = cat({"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod",
                                          kBestEffortUidSystemd, ".slice"});
const std::string kGuaranteedSlice = cat({"/kubepods.slice/kubepods-pod", kPodUidSystemd, ".slice"});
const std::string kUserManager = "/user.slice/user-1000.slice/user@1000.service";

struct Recognised {
    std::string name;  // the test's name: what layout it proves
    std::string path;
    ContainerIdentity expected;
};
void PrintTo(const Recognised& c, std::ostream* out) { *out << c.path; }

class RecognisedCgroupPath : public testing::TestWithParam<Recognised> {};

TEST_P(RecognisedCgroupPath, GivesTheContainerItNames) {
    EXPECT_EQ(parse_container_cgroup_path(GetParam().path), GetParam().expected);
}

using enum ContainerRuntime;

INSTANTIATE_TEST_SUITE_P(
    KubernetesSystemdDriver, RecognisedCgroupPath,
    testing::Values(
        Recognised{"BurstableContainerd", cat({kBurstableSlice, "/cri-containerd-", kContainerdId, ".scope"}),
                   pod_container(Containerd, kContainerdId, kPodUid, "burstable")},
        Recognised{"BurstableCrio", cat({kBurstableSlice, "/crio-", kCrioId, ".scope"}),
                   pod_container(CriO, kCrioId, kPodUid, "burstable")},
        Recognised{"BurstableCriDockerd", cat({kBurstableSlice, "/docker-", kDockerId, ".scope"}),
                   pod_container(Docker, kDockerId, kPodUid, "burstable")},
        Recognised{"GuaranteedHasNoQosSlice", cat({kGuaranteedSlice, "/cri-containerd-", kContainerdId, ".scope"}),
                   pod_container(Containerd, kContainerdId, kPodUid, "guaranteed")},
        Recognised{"GuaranteedCrio", cat({kGuaranteedSlice, "/crio-", kCrioId, ".scope"}),
                   pod_container(CriO, kCrioId, kPodUid, "guaranteed")},
        Recognised{"BestEffortContainerd", cat({kBestEffortSlice, "/cri-containerd-", kContainerdId, ".scope"}),
                   pod_container(Containerd, kContainerdId, kBestEffortUid, "besteffort")},
        Recognised{"BestEffortCrio", cat({kBestEffortSlice, "/crio-", kCrioId, ".scope"}),
                   pod_container(CriO, kCrioId, kBestEffortUid, "besteffort")},
        // crun's systemd subgroup and anything the container makes below itself.
        Recognised{"CrioContainerSubgroup", cat({kBurstableSlice, "/crio-", kCrioId, ".scope/container"}),
                   pod_container(CriO, kCrioId, kPodUid, "burstable")},
        Recognised{"NestedCgroupBelowTheContainer",
                   cat({kBurstableSlice, "/cri-containerd-", kContainerdId, ".scope/sub/deeper"}),
                   pod_container(Containerd, kContainerdId, kPodUid, "burstable")}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    KubernetesCgroupfsDriver, RecognisedCgroupPath,
    testing::Values(
        // containerd and dockershim both name the cgroup by the bare id.
        Recognised{"BurstableBareIdRuntimeUnknown", cat({"/kubepods/burstable/pod", kCgroupfsUid, "/", kCgroupfsId}),
                   pod_container(Unknown, kCgroupfsId, kCgroupfsUid, "burstable")},
        Recognised{"BestEffortBareId", cat({"/kubepods/besteffort/pod", kCgroupfsUid, "/", kCgroupfsId}),
                   pod_container(Unknown, kCgroupfsId, kCgroupfsUid, "besteffort")},
        Recognised{"GuaranteedHasNoQosDir", cat({"/kubepods/pod", kCgroupfsUid, "/", kCgroupfsId}),
                   pod_container(Unknown, kCgroupfsId, kCgroupfsUid, "guaranteed")},
        Recognised{"CrioPrefixedDir", cat({"/kubepods/burstable/pod", kCgroupfsUid, "/crio-", kCrioId}),
                   pod_container(CriO, kCrioId, kCgroupfsUid, "burstable")},
        Recognised{"NestedBelowTheContainer",
                   cat({"/kubepods/besteffort/pod", kCgroupfsUid, "/", kCgroupfsId, "/init.scope"}),
                   pod_container(Unknown, kCgroupfsId, kCgroupfsUid, "besteffort")}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    DockerWithoutKubernetes, RecognisedCgroupPath,
    testing::Values(Recognised{"SystemdScope", cat({"/system.slice/docker-", kDockerId, ".scope"}),
                               container(Docker, kDockerId)},
                    Recognised{"CgroupfsDir", cat({"/docker/", kDockerId}), container(Docker, kDockerId)},
                    Recognised{"Rootless", cat({kUserManager, "/user.slice/docker-", kDockerId, ".scope"}),
                               container(Docker, kDockerId)}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Podman, RecognisedCgroupPath,
    testing::Values(
        Recognised{"RootfulScope", cat({"/machine.slice/libpod-", kPodmanId, ".scope"}),
                   container(Podman, kPodmanId)},
        Recognised{"NestedInitCgroupIsTheScope", cat({"/machine.slice/libpod-", kPodmanId, ".scope/container"}),
                   container(Podman, kPodmanId)},
        Recognised{"RootfulPodSlice",
                   cat({"/machine.slice/machine-libpod_pod_", kPodmanPodId, ".slice/libpod-", kPodmanId,
                        ".scope/container"}),
                   container(Podman, kPodmanId)},
        Recognised{"Rootless", cat({kUserManager, "/user.slice/libpod-", kPodmanId, ".scope"}),
                   container(Podman, kPodmanId)},
        Recognised{"RootlessPodSlice",
                   cat({kUserManager, "/user.slice/user-libpod_pod_", kPodmanPodId, ".slice/libpod-", kPodmanId,
                        ".scope"}),
                   container(Podman, kPodmanId)},
        Recognised{"Cgroupfs", cat({"/libpod_parent/libpod-", kPodmanId}), container(Podman, kPodmanId)},
        Recognised{"CgroupfsPod", cat({"/libpod_parent/", kPodmanPodId, "/libpod-", kPodmanId}),
                   container(Podman, kPodmanId)},
        Recognised{"SplitModeQuadletService",
                   cat({"/system.slice/quadlet-minimal.service/libpod-payload-", kPayloadId}),
                   container(Podman, kPayloadId)},
        Recognised{"SplitModeTemplateService",
                   cat({"/system.slice/container-web@2.service/libpod-payload-", kPayloadId, "/container"}),
                   container(Podman, kPayloadId)},
        Recognised{"SplitModeRootlessServiceInUserSlice",
                   cat({kUserManager, "/user.slice/web.service/libpod-payload-", kPayloadId}),
                   container(Podman, kPayloadId)},
        Recognised{"SplitModeRootlessQuadlet",
                   cat({kUserManager, "/app.slice/web.service/libpod-payload-", kPayloadId}),
                   container(Podman, kPayloadId)}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Runc, RecognisedCgroupPath,
    testing::Values(
        // runc --systemd-cgroup with no cgroupsPath: system.slice:runc:<id>.
        Recognised{"SystemdDefaultScope", "/system.slice/runc-fn-hello.scope", container(Runc, "fn-hello")},
        Recognised{"SystemdDefaultScopeDottedName", "/system.slice/runc-gcf_1.2.scope",
                   container(Runc, "gcf_1.2")},
        Recognised{"RootlessDefaultScope", kUserManager + "/user.slice/runc-test1.scope",
                   container(Runc, "test1")}),
    [](const auto& info) { return info.param.name; });

// The outermost container wins: what is below it is named by the container
// itself (cgroup delegation) and must not let it pose as another one.
INSTANTIATE_TEST_SUITE_P(
    OutermostContainerWins, RecognisedCgroupPath,
    testing::Values(
        Recognised{"DockerInDocker", cat({"/docker/", kDockerId, "/docker/", kKindNodeId}),
                   container(Docker, kDockerId)},
        // A kind / minikube node seen from the host is the node's container.
        Recognised{"KindNodeFromTheHost",
                   cat({"/system.slice/docker-", kKindNodeId, ".scope/kubelet.slice/kubelet-kubepods.slice/",
                        "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod", kBestEffortUidSystemd,
                        ".slice/cri-containerd-", kContainerdId, ".scope"}),
                   container(Docker, kKindNodeId)},
        Recognised{"MinikubeNodeCgroupfs",
                   cat({"/docker/", kKindNodeId, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod",
                        kBestEffortUidSystemd, ".slice/crio-", kCrioId, ".scope"}),
                   container(Docker, kKindNodeId)},
        Recognised{"ContainerForgingAPodBelowItself",
                   cat({"/kubepods/burstable/pod", kCgroupfsUid, "/", kCgroupfsId, "/kubepods/pod", kPodUid, "/",
                        kContainerdId}),
                   pod_container(Unknown, kCgroupfsId, kCgroupfsUid, "burstable")}),
    [](const auto& info) { return info.param.name; });

struct Unrecognised {
    std::string name;
    std::string path;
};
void PrintTo(const Unrecognised& c, std::ostream* out) { *out << testing::PrintToString(c.path); }

class UnrecognisedCgroupPath : public testing::TestWithParam<Unrecognised> {};

TEST_P(UnrecognisedCgroupPath, GivesNothing) { EXPECT_EQ(parse_container_cgroup_path(GetParam().path), std::nullopt); }

INSTANTIATE_TEST_SUITE_P(
    HostCgroups, UnrecognisedCgroupPath,
    testing::Values(Unrecognised{"Empty", ""}, Unrecognised{"Root", "/"}, Unrecognised{"InitScope", "/init.scope"},
                    Unrecognised{"LoginSession", "/user.slice/user-1000.slice/session-1.scope"},
                    Unrecognised{"UserManagerItself", kUserManager + "/init.scope"},
                    Unrecognised{"SystemService", "/system.slice/ssh.service"},
                    Unrecognised{"DockerDaemon", "/system.slice/docker.service"},
                    Unrecognised{"FnwardenFunction", "/fnwarden/demo-1234-0"},
                    Unrecognised{"Garbage", "not a cgroup path"}, Unrecognised{"Relative", cat({"docker/", kDockerId})},
                    Unrecognised{"ProcCgroupLineNotPath", cat({"0::/docker/", kDockerId})}),
    [](const auto& info) { return info.param.name; });

// Paths that name a container but whose shape alone says nothing about who
// made it: the caller that launched it knows the path, we do not guess.
INSTANTIATE_TEST_SUITE_P(
    NotRecognisableFromThePath, UnrecognisedCgroupPath,
    testing::Values(Unrecognised{"CtrDefaultNamespaceAndName", "/faasmon/hello2"},
                    Unrecognised{"CtrDefaultHexName", cat({"/k8s.io/", kContainerdId})},
                    Unrecognised{"CtrExplicitCgroup", "/faasmon/ctr-gcf"},
                    Unrecognised{"RuncExplicitCgroupsPath", "/faasmon/fn-hello"},
                    Unrecognised{"RuncCgroupfsDefaultIsJustTheId", "/test1"},
                    Unrecognised{"BareHexAtTheRoot", cat({"/", kDockerId})},
                    Unrecognised{"DockerScopeOutsideSystemSlice", cat({"/docker-", kDockerId, ".scope"})},
                    Unrecognised{"DockerScopeInAnotherSlice", cat({"/system.slice/foo.slice/docker-", kDockerId,
                                                                   ".scope"})},
                    Unrecognised{"LibpodScopeInSystemSlice", cat({"/system.slice/libpod-", kPodmanId, ".scope"})},
                    // kubelet --cgroup-root (kind's own view): not the default layout.
                    Unrecognised{"KubeletCgroupRootPrefix",
                                 cat({"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
                                      "kubelet-kubepods-besteffort-pod",
                                      kBestEffortUidSystemd, ".slice/cri-containerd-", kContainerdId, ".scope"})},
                    // containerd on cgroupfs under a systemd kubelet: a misconfiguration.
                    Unrecognised{"ColonSeparatedMisconfiguredContainerd",
                                 cat({kBurstableSlice, ":cri-containerd:", kContainerdId})}),
    [](const auto& info) { return info.param.name; });

// conmon watches the container from the host; it is not the container.
INSTANTIATE_TEST_SUITE_P(
    Conmon, UnrecognisedCgroupPath,
    testing::Values(Unrecognised{"CrioConmonScope", cat({"/kubepods.slice/kubepods-burstable.slice/"
                                                         "kubepods-burstable-pod207aaad1_659f_4db8_88e0_46e0cdcc3004."
                                                         "slice/crio-conmon-",
                                                         kCrioConmonId, ".scope"})},
                    Unrecognised{"CrioConmonCgroupfs",
                                 cat({"/kubepods/burstable/pod", kCgroupfsUid, "/crio-conmon-", kCrioConmonId})},
                    Unrecognised{"PodmanConmonScope", cat({"/machine.slice/libpod-conmon-", kPodmanId, ".scope"})},
                    Unrecognised{"PodmanRootlessConmonScope",
                                 cat({kUserManager, "/user.slice/libpod-conmon-", kPodmanId, ".scope"})},
                    Unrecognised{"PodmanCgroupfsConmon", "/libpod_parent/conmon"},
                    Unrecognised{"PodmanSplitModeRuntime", "/system.slice/quadlet-minimal.service/runtime"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    KubernetesWithoutAContainer, UnrecognisedCgroupPath,
    testing::Values(Unrecognised{"KubepodsSlice", "/kubepods.slice"},
                    Unrecognised{"QosSlice", "/kubepods.slice/kubepods-burstable.slice"},
                    Unrecognised{"PodSlice", kBurstableSlice}, Unrecognised{"GuaranteedPodSlice", kGuaranteedSlice},
                    Unrecognised{"CgroupfsPodDir", cat({"/kubepods/burstable/pod", kCgroupfsUid})},
                    Unrecognised{"CgroupfsQosDir", "/kubepods/besteffort"},
                    Unrecognised{"UnknownScopeInPod", cat({kBurstableSlice, "/kata-", kContainerdId, ".scope"})}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    InvalidContainerIds, UnrecognisedCgroupPath,
    testing::Values(
        Unrecognised{"ShortId", "/docker/9ec39b91f3d7"},
        Unrecognised{"SixtyThreeDigits", cat({"/docker/", kDockerId.substr(1)})},
        Unrecognised{"SixtyFiveDigits", cat({"/docker/", kDockerId, "0"})},
        Unrecognised{"UppercaseHex", "/docker/9EC39B91F3D70E1BEFF50A308F77067065EA6BE0D91A3378375056CD4422CF3D"},
        Unrecognised{"NonHexLetter", "/docker/9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3g"},
        Unrecognised{"EmptyIdInScope", "/system.slice/docker-.scope"},
        Unrecognised{"SuffixMissing", cat({kBurstableSlice, "/cri-containerd-", kContainerdId})},
        Unrecognised{"WrongRuntimeSuffix", cat({kBurstableSlice, "/crio-", kCrioId, ".service"})},
        Unrecognised{"RuntimeMixedUp", cat({"/machine.slice/docker-", kDockerId, ".scope"})},
        Unrecognised{"BadPodmanPodId", cat({"/machine.slice/machine-libpod_pod_xyz.slice/libpod-", kPodmanId,
                                            ".scope"})},
        Unrecognised{"DeadCgroup", cat({"/docker/", kDockerId, " (deleted)"})}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    InvalidPodUids, UnrecognisedCgroupPath,
    testing::Values(
        // systemd would read the dashes as three more slice levels.
        Unrecognised{"DashesInSystemdSlice",
                     cat({"/kubepods.slice/kubepods-pod", kPodUid, ".slice/cri-containerd-", kContainerdId, ".scope"})},
        Unrecognised{"UnderscoresInCgroupfsDir", cat({"/kubepods/pod", kPodUidSystemd, "/", kCgroupfsId})},
        Unrecognised{"MixedSeparators", cat({"/kubepods/pod03f3f104-3215_44f2-9686-d4dd1f05a7ed/", kCgroupfsId})},
        Unrecognised{"WrongGrouping", cat({"/kubepods/pod03f3f10-43215-44f2-9686-d4dd1f05a7ed/", kCgroupfsId})},
        Unrecognised{"UppercaseUid", cat({"/kubepods/podAC04F3F2-1F2C-11E9-B015-1EBEE232ACFA/", kCgroupfsId})},
        Unrecognised{"NonHexUid", cat({"/kubepods/podzc04f3f2-1f2c-11e9-b015-1ebee232acfa/", kCgroupfsId})},
        Unrecognised{"UidTooLong", cat({"/kubepods/pod", kCgroupfsUid, "0/", kCgroupfsId})},
        // Static pods: kubelet's md5 of the manifest, no grouping (netdata's cgroup tree).
        Unrecognised{"StaticPodMd5Uid",
                     cat({"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod187bff14cccb94f179e943eacce55bb3"
                          ".slice/cri-containerd-",
                          kContainerdId, ".scope"})},
        Unrecognised{"QosOfPodSliceDiffersFromParent",
                     cat({"/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod", kPodUidSystemd,
                          ".slice/crio-", kCrioId, ".scope"})},
        Unrecognised{"GuaranteedIsNotASlice",
                     cat({"/kubepods.slice/kubepods-guaranteed.slice/kubepods-guaranteed-pod", kPodUidSystemd,
                          ".slice/crio-", kCrioId, ".scope"})},
        Unrecognised{"GuaranteedIsNotADir", cat({"/kubepods/guaranteed/pod", kCgroupfsUid, "/", kCgroupfsId})}),
    [](const auto& info) { return info.param.name; });

std::string rootless_podman_of(std::string_view user_slice, std::string_view manager) {
    return cat({"/user.slice/", user_slice, "/", manager, "/user.slice/libpod-", kPodmanId, ".scope"});
}

INSTANTIATE_TEST_SUITE_P(
    InvalidSystemdUnits, UnrecognisedCgroupPath,
    testing::Values(
        Unrecognised{"UserManagerOfAnotherUid", rootless_podman_of("user-1000.slice", "user@1001.service")},
        Unrecognised{"UidWithLeadingZero", rootless_podman_of("user-01000.slice", "user@01000.service")},
        Unrecognised{"UidMinusOne", rootless_podman_of("user-4294967295.slice", "user@4294967295.service")},
        Unrecognised{"UidTooLong", rootless_podman_of("user-12345678901.slice", "user@12345678901.service")},
        Unrecognised{"UidEmpty", rootless_podman_of("user-.slice", "user@.service")},
        Unrecognised{"UidNotANumber", rootless_podman_of("user-root.slice", "user@root.service")},
        Unrecognised{"NotAUserSlice", rootless_podman_of("machine.slice", "user@1000.service")},
        Unrecognised{"NotAUserManager", rootless_podman_of("user-1000.slice", "session-3.scope")},
        Unrecognised{"SliceNameWithSpace",
                     cat({kUserManager, "/my app.slice/web.service/libpod-payload-", kPayloadId})},
        Unrecognised{"ServiceNameWithSpace", cat({"/system.slice/my web.service/libpod-payload-", kPayloadId})},
        Unrecognised{"PayloadOutsideAService", cat({"/system.slice/web.scope/libpod-payload-", kPayloadId})},
        Unrecognised{"PayloadWithScopeSuffix", cat({"/system.slice/web.service/libpod-payload-", kPayloadId, ".scope"})},
        Unrecognised{"RuncNameWithSpace", "/system.slice/runc-a b.scope"},
        Unrecognised{"RuncNameEscapedBySystemd", "/system.slice/runc-a\\x2bb.scope"},
        Unrecognised{"RuncEmptyName", "/system.slice/runc-.scope"},
        Unrecognised{"RuncDotName", "/system.slice/runc-..scope"},
        Unrecognised{"RuncDotDotName", "/system.slice/runc-...scope"}),
    [](const auto& info) { return info.param.name; });

// The path as a whole: every segment is checked, even those below the container.
INSTANTIATE_TEST_SUITE_P(
    MalformedPaths, UnrecognisedCgroupPath,
    testing::Values(
        Unrecognised{"DotDotBelowTheContainer", cat({"/docker/", kDockerId, "/.."})},
        Unrecognised{"DotDotEscapingToAContainer", cat({"/system.slice/ssh.service/../../docker/", kDockerId})},
        // How the kernel prints a cgroup outside the reader's cgroup namespace.
        Unrecognised{"OutsideOurCgroupNamespace",
                     cat({"/../../kubepods-besteffort-pod", kBestEffortUidSystemd, ".slice/crio-", kCrioId, ".scope"})},
        Unrecognised{"DotSegment", cat({"/./docker/", kDockerId})},
        Unrecognised{"DoubleSlash", cat({"//docker/", kDockerId})},
        Unrecognised{"EmptySegmentBelowTheContainer", cat({"/docker/", kDockerId, "//x"})},
        Unrecognised{"TrailingSlash", cat({"/docker/", kDockerId, "/"})},
        Unrecognised{"NulInTheId", cat({"/docker/", kDockerId.substr(0, 32), std::string_view("\0", 1),
                                        kDockerId.substr(33)})},
        Unrecognised{"NulAfterTheId", cat({"/docker/", kDockerId, std::string_view("\0/x", 3)})},
        Unrecognised{"NewlineAndAnotherLine", cat({"/docker/", kDockerId, "\n0::/"})},
        Unrecognised{"ControlByteBelowTheContainer", cat({"/docker/", kDockerId, "/a\x1b[2Jb"})},
        Unrecognised{"DelByte", cat({"/docker/", kDockerId, "/\x7f"})},
        Unrecognised{"OverlongPath", cat({"/docker/", kDockerId, "/"}) + std::string(kMaxCgroupPathBytes, 'a')},
        Unrecognised{"OverlongSegment", cat({"/docker/", kDockerId, "/"}) + std::string(256, 'a')}),
    [](const auto& info) { return info.param.name; });

TEST(CgroupPath, NestedCgroupsResolveUpToTheLongestPathTheKernelPrints) {
    std::string path = cat({"/docker/", kDockerId});
    while (path.size() + 2 <= kMaxCgroupPathBytes) path += "/x";
    if (path.size() < kMaxCgroupPathBytes) path += "y";
    ASSERT_EQ(path.size(), kMaxCgroupPathBytes);
    EXPECT_EQ(parse_container_cgroup_path(path), container(Docker, kDockerId));
    EXPECT_EQ(parse_container_cgroup_path(path + "x"), std::nullopt);
}

TEST(CgroupPath, SegmentOfNameMaxBytesBelowTheContainerIsAccepted) {
    EXPECT_EQ(parse_container_cgroup_path(cat({"/docker/", kDockerId, "/"}) + std::string(255, 'a')),
              container(Docker, kDockerId));
}

TEST(CgroupPath, NonAsciiNamesBelowTheContainerAreTheContainersBusiness) {
    EXPECT_EQ(parse_container_cgroup_path(cat({"/docker/", kDockerId, "/caf\xc3\xa9 sub"})),
              container(Docker, kDockerId));
}

TEST(CgroupPath, SystemdPodUidComesBackWithDashes) {
    auto id = parse_container_cgroup_path(cat({kGuaranteedSlice, "/crio-", kCrioId, ".scope"}));
    ASSERT_TRUE(id);
    EXPECT_EQ(id->pod_uid, "03f3f104-3215-44f2-9686-d4dd1f05a7ed");
}

TEST(CgroupPath, EveryRuntimeHasAName) {
    EXPECT_EQ(to_string(Unknown), "unknown");
    EXPECT_EQ(to_string(Docker), "docker");
    EXPECT_EQ(to_string(Containerd), "containerd");
    EXPECT_EQ(to_string(CriO), "cri-o");
    EXPECT_EQ(to_string(Podman), "podman");
    EXPECT_EQ(to_string(Runc), "runc");
    EXPECT_EQ(to_string(static_cast<ContainerRuntime>(99)), "unknown");
}

}  // namespace
}  // namespace fnw
