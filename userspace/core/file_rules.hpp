// SPDX-License-Identifier: Apache-2.0
// A policy's files section as the kernel can check it: file_rules keyed on
// each pattern's object, and file_rule_names for the way up from it.
//
// An object is (device, inode number, generation), read from the inode
// itself (identity.bpf.c): filesystems reuse inode numbers, so a rule keyed
// on the number alone would pass to whatever is created next under it
// (docs/threat-model.md, "A grant that follows an inode number"). Where the
// identity cannot be proven (a filesystem without generations, an identity
// that cannot be read), the pattern is matched by name in userspace.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fnwarden/kernel_abi.h>

#include "core/path_opener.hpp"
#include "core/policy.hpp"

namespace fnw {

struct KernelFileRules {
    std::vector<std::pair<fnw_file_rule_key, fnw_file_rule>> rules;
    // Entry names on the way from each rule's object up to its mount's
    // root, with the rights that pass through them.
    std::vector<std::pair<fnw_file_rule_name_key, uint32_t>> names;
    uint32_t complete_rights = 0;  // FNW_FILE_*
    // Why a right is not complete, per pattern, for status/--explain.
    std::vector<std::string> userspace_only;
    // The rule_use slot (fnw_file_rule.use_*) where the kernel marks each
    // pattern's rights when it grants them. A pattern not here is not
    // counted in the kernel (a glob, an object it cannot identify).
    std::map<std::string, uint16_t> use_slots;
    // Code directories keyed in the kernel (FNW_RULE_CODE_DIR), and each
    // code pin's directory that could not be, with why: its files go
    // unchecked (status and the load's log say so).
    std::vector<std::string> code_dirs;
    std::vector<std::string> code_dirs_unkeyed;
};

// The kernel's identity of the object open at `fd` in this process, or
// nullopt when it cannot be read (ProbeSet::object_identity).
using ObjectIdentityFn = std::function<std::optional<fnw_object_identity>(int fd)>;

// file_rules and file_rule_names entries for a policy's files and exec
// sections, and its code pins' directories (FNW_RULE_CODE_DIR): each exact or subtree pattern whose object exists now and has
// a provable identity. A section that is absent is complete (nothing to
// check).
KernelFileRules compile_file_rules(uint32_t policy_id, const FileRules& files, const ExecRules& exec,
                                   const ObjectIdentityFn& identify, const std::vector<CodePin>& code_pins = {});

// The same sections compiled in each of `roots` (fnwarden's own, a
// container's, a chroot's: the roots one function runs in) into one slot.
// The rules are the union: a grant is on an object, whatever name reached
// it, so an object two roots share (a bind mount) carries what either
// earns. Which rights are complete differs per root: a pattern's object may
// exist in one and not in another. rules.complete_rights is the first's.
struct RootedFileRules {
    KernelFileRules rules;
    std::vector<uint32_t> complete_rights;  // per root, in the order given
};
RootedFileRules compile_file_rules_in_roots(uint32_t policy_id, const FileRules& files, const ExecRules& exec,
                                            const ObjectIdentityFn& identify,
                                            const std::vector<const PathOpener*>& roots,
                                            const std::vector<CodePin>& code_pins = {});

}  // namespace fnw
