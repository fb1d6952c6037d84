// SPDX-License-Identifier: Apache-2.0
// Where a probe set lives in bpffs, so that enforcement outlives the daemon
// (docs/daemon.md, "Pinned state").
//
//   <root>/                       /sys/fs/bpf/fnwarden by default
//     v1-<digest>/                one set: layout version, then the SHA-256
//       maps/<map name>           of the BPF object and the ring sizes
//                                 (dots become "_": bpffs refuses them)
//       links/<program name>      every attached program's link
//
// A pinned link keeps its program attached and the program keeps the maps
// it uses, so a daemon killed by SIGKILL leaves its kill, deny and
// inheritance decisions running in the kernel. A daemon of the same build
// and sizes finds its own directory and adopts it; one of another build
// finds only other directories, loads its own beside them, and removes them
// once its own guards every cgroup (ProbeSet::retire_replaced_sets).
//
// Programs are not pinned on their own: a program without a link (the file
// exit handler, reached by tail call; the identity iterator) is loaded again
// by each daemon, and its previous copy goes with the previous daemon.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace fnw {

// Bumped when the directory layout or the meaning of a pin changes: a
// daemon never adopts a set of another layout version.
inline constexpr int kPinLayoutVersion = 1;
inline constexpr const char* kDefaultPinRoot = "/sys/fs/bpf/fnwarden";

// "v1-" and the first 16 hex digits of SHA-256(object, ring sizes): two
// daemons share a set only if their programs and every map size agree.
std::string pinned_set_name(std::span<const std::byte> bpf_object, uint32_t ringbuf_bytes,
                            uint32_t alerts_ringbuf_bytes);

// A map or program name as a bpffs file name: bpffs refuses names with a
// dot (EPERM, "reserved for future use"), and libbpf names the global
// data maps "<object>.bss", "<object>.rodata".
std::string pin_name(std::string_view name);

struct PinnedSetPaths {
    std::filesystem::path dir;
    std::filesystem::path maps() const { return dir / "maps"; }
    std::filesystem::path links() const { return dir / "links"; }
};

// The sets under `root` (any layout version), sorted; none when the root
// does not exist.
std::vector<std::filesystem::path> pinned_sets(const std::filesystem::path& root);

// `root` exists (made when missing) on a bpf filesystem: pins can go there.
Status prepare_pin_root(const std::filesystem::path& root);

// An exclusive lock on `root` for as long as the fd is open: one daemon per
// pin root (two would adopt the same slots), and no unload under a running
// daemon. Fails, without waiting, when another process holds it.
Result<UniqueFd> lock_pin_root(const std::filesystem::path& root);

// Unpins everything of one set and removes its directories. What no
// process holds open any more is detached and freed by the kernel.
Status remove_pinned_set(const std::filesystem::path& set_dir);

// Every set under `root`, then `root` itself: `fnwarden unload`. Returns how
// many sets were removed. Refused while a daemon holds the root's lock.
Result<size_t> unload_pinned_sets(const std::filesystem::path& root);

}  // namespace fnw
