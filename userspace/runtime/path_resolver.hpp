// SPDX-License-Identifier: Apache-2.0
// Names a file event by what it reached for, after the fact, where the
// kernel walked no object: Landlock refused before the open, a create or
// delete the probes saw by name, a kill before the object existed. The
// relative name is joined with the kernel-resolved cwd or dirfd, and every
// symlink in it is read and followed in the function's own mount namespace
// and root (/proc/PID/root), as the kernel would have: the event's path is
// the canonical target, and raw_path keeps what the function passed.
//
// Only lstat and readlink, never open: the target may be a FIFO or a FUSE
// file that would block the event reader. Links are followed at most
// kMaxLinks times (the kernel's ELOOP limit).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fnwarden/events.h>

namespace fnw {

inline constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS

struct Resolution {
    std::string path;        // absolute, as the process sees it
    bool exists = false;     // the last component is there (lstat succeeded)
    uint8_t note = FNW_RESOLVE_NOTE_NONE;  // why a part of `path` is lexical only
};

// Resolves `name` (relative to `base`, an absolute path as the process
// sees it; ignored when `name` is absolute) component by component inside
// `root`, a directory that stands for the process's "/" (/proc/PID/root, or
// a test tree). ".." applies to the directory a symlink led to, and never
// climbs above `root`. `follow_last`: the last component is followed too
// (open, exec), else it is the entry itself (unlink, rename, mkdir, link's
// new name). From the first missing component on, the rest is folded
// lexically (the operation would create or fail there).
Resolution resolve_in_root(const std::filesystem::path& root, std::string_view base, std::string_view name,
                           bool follow_last, int max_links = kMaxLinks);

// Where one process's names are resolved: the small interface the record
// rewriter needs, so tests can stand a directory tree in for /proc.
class ProcessView {
public:
    virtual ~ProcessView() = default;
    // The directory that is the process's "/"; nullopt when it is gone.
    virtual std::optional<std::filesystem::path> root() const = 0;
    // Its cwd (AT_FDCWD) or the directory open as `dfd`, as it sees it.
    virtual std::optional<std::string> base(int32_t dfd) const = 0;
    // Still the event's process, with its root, after the lookups: else
    // what they read may be another's (a reused pid) or half gone.
    virtual bool still_there() const = 0;
};

// The event's process through /proc, pinned by a pidfd proven to be the
// event's (ProcessHandle::for_event): an invalid view when it exited.
std::unique_ptr<ProcessView> proc_view_for_event(const fnw_event_header& hdr,
                                                 const std::filesystem::path& cgroup2_root);

// fnwarden's own "/", for a process the kernel saw resolving names in
// fnwarden's mount namespace and root (FNW_OBJECT_ROOT_IS_OURS) that is gone
// now: its names meant then what they mean here. No base of its own (only
// the kernel's), and nothing to outlive.
std::unique_ptr<ProcessView> own_root_view();

// Whether `ev` needs resolving after the fact: a violation or an undecided
// access whose object the kernel did not walk.
bool needs_resolving(const fnw_file_event& ev);

// Rewrites `ev` with the canonical names: FNW_RESOLVED_USER with the path
// (and a rename's or link's second one) in `resolved`; or, when the
// process is gone or a name cannot be resolved, the kernel's resolution
// kept and resolve_note saying why. An open with O_CREAT of a file that
// exists did not need to create it: FNW_FILE_CREATE is dropped, as the file
// probes count it.
void resolve_file_event(fnw_file_event& ev, const ProcessView& view);

// resolve_file_event through the process; when it is gone and the kernel
// saw it resolve names in fnwarden's own root (FNW_OBJECT_ROOT_IS_OURS),
// again through `own_root` (own_root_view()).
void resolve_file_event(fnw_file_event& ev, const ProcessView& process, const ProcessView& own_root);

}  // namespace fnw
