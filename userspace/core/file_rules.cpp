// SPDX-License-Identifier: Apache-2.0
#include "core/file_rules.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <variant>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <fnwarden/limits.h>

#include "common/unique_fd.hpp"
#include "core/path_glob.hpp"

namespace fnw {
namespace {

constexpr decltype(statfs::f_type) kOverlayfsMagic = 0x794c7630;
constexpr decltype(statfs::f_type) kBtrfsMagic = 0x9123683e;

// Filesystems whose every new inode gets a generation of its own (ext4 and
// xfs count from a random start, tmpfs and kernfs draw or count one), or
// that never free an inode number (read-only images). On them an object's
// (inode, generation) is its identity even when the generation is 0: ext4
// images built by mkfs -d have 0 on every file, and a number freed and
// reused comes back with a fresh generation. procfs numbers its entries
// from a counter (per process) or from the kernel's own registrations,
// which a function cannot remove. Elsewhere (overlayfs, FUSE, NFS) a 0 may
// be all there is.
bool assigns_generations(decltype(statfs::f_type) type) {
    switch (type) {
    case 0xEF53:      // ext2/3/4
    case 0x58465342:  // xfs
    case 0x01021994:  // tmpfs, devtmpfs
    case 0xF2F52010:  // f2fs
    case 0x62656572:  // sysfs (kernfs)
    case 0x63677270:  // cgroup2 (kernfs)
    case 0x9fa0:      // procfs
    case 0x73717368:  // squashfs (read-only)
    case 0xE0F5E1E2:  // erofs (read-only)
    case 0x9660:      // iso9660 (read-only)
        return true;
    default:
        return false;
    }
}

struct Identified {
    fnw_object_identity id{};
    bool mount_root = false;  // a mount's root is never unlinked or replaced
    uint16_t mode = 0;        // S_IFREG, S_IFDIR, ...
    decltype(statfs::f_type) fs_type = 0;
};

using ObjectKey = std::tuple<uint64_t, uint64_t, uint32_t>;  // dev, ino, generation

ObjectKey key_of(const fnw_object_identity& id) { return {id.dev, id.ino, id.generation}; }

// Reads the kernel's identity of the object at `path` in one root
// (symlinks followed: the kernel sees what they name), once per path per
// compile.
class Identities {
public:
    Identities(const ObjectIdentityFn& identify, const PathOpener& root) : identify_(&identify), root_(&root) {}

    // The identity, or why it cannot be proven.
    const std::variant<Identified, std::string>& of(const std::string& path) {
        auto [it, fresh] = cache_.try_emplace(path);
        if (fresh) it->second = read(path);
        return it->second;
    }

private:
    std::variant<Identified, std::string> read(const std::string& path) const {
        UniqueFd fd = root_->open(path);
        if (!fd.valid()) return errno == ENOENT ? "does not exist now" : std::string(std::strerror(errno));
        // Everything compile_file_rules asks of the object, read from the
        // one fd: what it is, where it is mounted, which filesystem.
        Identified out;
        struct statx stx {};
        if (::statx(fd.get(), "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO, &stx) != 0)
            return std::string(std::strerror(errno));
        out.mode = stx.stx_mode;
        out.mount_root = stx.stx_attributes_mask & stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
        if (struct statfs fs {}; ::fstatfs(fd.get(), &fs) == 0) out.fs_type = fs.f_type;
        auto id = *identify_ ? (*identify_)(fd.get()) : std::nullopt;
        if (!id) return std::string("its inode identity cannot be read here (BPF iterator)");
        // Generation 0 is also what a filesystem without generations
        // reports: a freed inode number reused for a new object would look
        // the same. A mount's root cannot be deleted, so its number is safe.
        if (id->generation == 0 && !out.mount_root && !assigns_generations(out.fs_type) &&
            !stable_overlay_object(path, *id, out.fs_type))
            return std::string("its filesystem gives no inode generation, so a reused inode could not be told apart");
        out.id = *id;
        return out;
    }

    // In a function's own root, an overlay object whose number the root
    // vouches for (RootOpener::overlay_identity_is_stable): the overlay
    // inode is what the kernel's walk meets there.
    bool stable_overlay_object(const std::string& path, const fnw_object_identity& id,
                               decltype(statfs::f_type) fs_type) const {
        if (fs_type != kOverlayfsMagic || root_->foreign_root().empty()) return false;
        const auto canonical = root_->canonical(path);
        return canonical && root_->overlay_identity_is_stable(*canonical, id.dev, id.ino);
    }

    const ObjectIdentityFn* identify_;
    const PathOpener* root_;
    std::map<std::string, std::variant<Identified, std::string>> cache_;
};

// Collects the rules of one compile: by object, and the names on the way up.
class FileRuleCompiler {
public:
    FileRuleCompiler(uint32_t policy_id, const ObjectIdentityFn& identify)
        : policy_id_(policy_id), identify_(identify), identities_(identify, own_root_) {}

    // Patterns name objects as `root` does from here on (fnwarden's own
    // until then), into the rules compiled so far: what is complete is
    // counted from this root's sections alone.
    void set_root(const PathOpener& root) {
        root_ = &root;
        identities_ = Identities(identify_, root);
        out_.complete_rights = 0;
    }
    uint32_t complete_rights() const { return out_.complete_rights; }

    // One right's patterns; the right is complete when the kernel holds
    // every one of them.
    void add_section(const std::vector<std::string>& patterns, uint32_t right) {
        bool complete = true;
        const std::string where = root_->foreign_root().empty() ? "" : " (" + root_->foreign_root() + ")";
        for (const auto& pattern : patterns) {
            add_pattern(pattern, right, [&](const std::string& why) {
                complete = false;
                out_.userspace_only.push_back(pattern + where + ": " + why);
            });
        }
        if (complete) out_.complete_rights |= right;
    }

    // Marks the directory of each pinned file a code directory.
    void add_code_pins(const std::vector<CodePin>& pins);

    KernelFileRules finish() &&;

private:
    using Note = std::function<void(const std::string& why)>;
    // A pattern's own rule_use slot (1..FNW_USE_FILE_SLOTS), the same for
    // each right it appears under; 0 once they are all taken.
    uint16_t use_slot(const std::string& pattern) {
        auto [it, fresh] = slots_.try_emplace(pattern, 0);
        if (fresh && next_slot_ <= FNW_USE_FILE_SLOTS) it->second = next_slot_++;
        return it->second;
    }
    void add_pattern(const std::string& pattern, uint32_t right, const Note& userspace_only);
    void mark_way_up(std::filesystem::path child, bool child_is_mount_root, uint32_t right,
                     const Note& userspace_only);

    uint32_t policy_id_;
    const ObjectIdentityFn& identify_;
    OwnRootOpener own_root_;
    const PathOpener* root_ = &own_root_;  // where patterns are looked up now
    Identities identities_;               // its objects
    KernelFileRules out_;
    std::map<ObjectKey, fnw_file_rule> by_object_;
    std::map<std::pair<ObjectKey, std::string>, uint32_t> by_name_;
    std::map<std::string, uint16_t> slots_;
    uint16_t next_slot_ = 1;
};

void FileRuleCompiler::add_pattern(const std::string& pattern, uint32_t right, const Note& userspace_only) {
    // Numbered before anything can fail: a pattern keeps its slot when
    // another's object comes or goes (refresh_file_rules).
    const uint16_t slot = use_slot(pattern);
    auto rule = kernel_path_rule(pattern);
    if (!rule) return userspace_only("a glob only userspace can match");
    const auto& object = identities_.of(rule->path);
    if (const auto* why = std::get_if<std::string>(&object)) return userspace_only(rule->path + ": " + *why);
    const Identified& found = std::get<Identified>(object);
    // Where stat() does not report the inode the kernel's dentries carry,
    // the rule still allows what it matches but the kernel must not decide
    // a miss is a violation: overlayfs gives a file's lower-layer device,
    // btrfs a per-subvolume device.
    // In a function's own root, an overlay identity was read as its walk
    // meets it and proven stable (Identities::stable_overlay_object).
    const bool foreign_identity = (found.fs_type == kOverlayfsMagic && root_->foreign_root().empty()) ||
                                  found.fs_type == kBtrfsMagic;
    if (foreign_identity) {
        userspace_only(std::string("on ") + (found.fs_type == kOverlayfsMagic ? "overlayfs" : "btrfs") +
                       ", whose stat() identities the kernel does not use");
    }
    const auto canonical = root_->canonical(rule->path);
    if (!canonical) return userspace_only("its canonical path cannot be found");
    const std::filesystem::path& target = *canonical;
    // A single file is an inode, and files get replaced (an editor's or
    // resolvconf's rename over /etc/resolv.conf): the new inode would miss
    // the rule. mark_way_up() names the file in its directory too, so a
    // miss under that name is matched by name in fnwarden; a sibling's miss
    // stays the kernel's to refuse. Programs (exec.allow) are not named:
    // deciding an exec after the fact would let the new image run; a
    // program replaced by an upgrade needs a policy reload.
    auto& entry = by_object_[key_of(found.id)];
    const bool subtree = rule->kind == KernelPathRule::Kind::Subtree;
    (subtree ? entry.subtree : entry.exact) |= right;
    // Patterns naming the same object share its first pattern's slot.
    uint16_t& use = subtree ? entry.use_subtree : entry.use_exact;
    if (!use) use = slot;
    if (use && !foreign_identity) out_.use_slots[pattern] = use;
    if (right != FNW_FILE_EXEC) mark_way_up(target, found.mount_root, right, userspace_only);
}

// The way up, to the mount's root: each directory is marked and names the
// entry the way continues through. If one of those entries is deleted and
// made again, the kernel finds the new one by name and leaves the decision
// to fnwarden's name match (path.bpf.h, rights_step) instead of killing an
// access the pattern allows.
void FileRuleCompiler::mark_way_up(std::filesystem::path child, bool child_is_mount_root, uint32_t right,
                                   const Note& userspace_only) {
    for (int level = 0; level < FNW_PATH_DEPTH && !child_is_mount_root && child != child.root_path(); ++level) {
        const std::string name = child.filename().string();
        const auto& parent = identities_.of(child.parent_path().string());
        if (const auto* why = std::get_if<std::string>(&parent))
            return userspace_only(child.parent_path().string() + ": " + *why);
        if (name.size() >= FNW_RULE_NAME_MAX)
            return userspace_only("the name \"" + name.substr(0, 16) + "...\" is longer than " +
                                  std::to_string(FNW_RULE_NAME_MAX - 1) + " bytes");
        const Identified& dir = std::get<Identified>(parent);
        by_object_[key_of(dir.id)].named_entries |= right;
        by_name_[{key_of(dir.id), name}] |= right;
        child = child.parent_path();
        child_is_mount_root = dir.mount_root;
    }
}

void FileRuleCompiler::add_code_pins(const std::vector<CodePin>& pins) {
    std::set<std::string> dirs;
    for (const CodePin& pin : pins) {
        // The kernel sees the directory the name resolves to.
        std::error_code ec;
        const auto dir = std::filesystem::weakly_canonical(std::filesystem::path(pin.path).parent_path(), ec);
        dirs.insert(ec ? std::filesystem::path(pin.path).parent_path().string() : dir.string());
    }
    for (const std::string& dir : dirs) {
        const auto& object = identities_.of(dir);
        if (const auto* why = std::get_if<std::string>(&object)) {
            out_.code_dirs_unkeyed.push_back(dir + ": " + *why);
            continue;
        }
        const Identified& found = std::get<Identified>(object);
        by_object_[key_of(found.id)].flags |= FNW_RULE_CODE_DIR;
        out_.code_dirs.push_back(dir);
        // Named in its parent too: a directory renamed away and made again
        // in its place is a new inode, and its files are still the code's.
        const std::filesystem::path path(dir);
        const std::string name = path.filename().string();
        if (found.mount_root || name.empty() || name.size() >= FNW_RULE_NAME_MAX) continue;
        if (const auto* parent = std::get_if<Identified>(&identities_.of(path.parent_path().string())))
            by_name_[{key_of(parent->id), name}] |= FNW_NAME_CODE_DIR;
    }
}

KernelFileRules FileRuleCompiler::finish() && {
    for (const auto& [object, rule] : by_object_) {
        fnw_file_rule_key key{};
        key.policy_id = policy_id_;
        std::tie(key.dev, key.ino, key.generation) = object;
        out_.rules.emplace_back(key, rule);
    }
    for (const auto& [entry, rights] : by_name_) {
        fnw_file_rule_name_key key{};
        key.policy_id = policy_id_;
        std::tie(key.dev, key.ino, key.generation) = entry.first;
        std::memcpy(key.name, entry.second.data(), entry.second.size());
        out_.names.emplace_back(key, rights);
    }
    return std::move(out_);
}

}  // namespace

KernelFileRules compile_file_rules(uint32_t policy_id, const FileRules& files, const ExecRules& exec,
                                   const ObjectIdentityFn& identify, const std::vector<CodePin>& code_pins) {
    FileRuleCompiler compiler(policy_id, identify);
    const std::vector<std::string> none;
    compiler.add_section(files.restricted ? files.read : none, FNW_FILE_READ);
    compiler.add_section(files.restricted ? files.write : none, FNW_FILE_WRITE);
    compiler.add_section(files.restricted ? files.create : none, FNW_FILE_CREATE);
    compiler.add_section(files.restricted ? files.remove : none, FNW_FILE_DELETE);
    compiler.add_section(exec.restricted ? exec.allow : none, FNW_FILE_EXEC);
    compiler.add_code_pins(code_pins);
    return std::move(compiler).finish();
}

RootedFileRules compile_file_rules_in_roots(uint32_t policy_id, const FileRules& files, const ExecRules& exec,
                                            const ObjectIdentityFn& identify,
                                            const std::vector<const PathOpener*>& roots,
                                            const std::vector<CodePin>& code_pins) {
    FileRuleCompiler compiler(policy_id, identify);
    const std::pair<const std::vector<std::string>*, uint32_t> sections[] = {
        {&files.read, FNW_FILE_READ},     {&files.write, FNW_FILE_WRITE},   {&files.create, FNW_FILE_CREATE},
        {&files.remove, FNW_FILE_DELETE}, {&exec.allow, FNW_FILE_EXEC},
    };
    std::vector<uint32_t> complete;
    for (size_t i = 0; i < roots.size(); ++i) {
        compiler.set_root(*roots[i]);
        for (const auto& [patterns, right] : sections) {
            const bool restricted = right == FNW_FILE_EXEC ? exec.restricted : files.restricted;
            compiler.add_section(restricted ? *patterns : std::vector<std::string>{}, right);
        }
        complete.push_back(compiler.complete_rights());
        // A bundle's pins name paths in fnwarden's own root (the first).
        if (i == 0) compiler.add_code_pins(code_pins);
    }
    RootedFileRules out{std::move(compiler).finish(), std::move(complete)};
    out.rules.complete_rights = out.complete_rights.empty() ? 0 : out.complete_rights.front();
    return out;
}

}  // namespace fnw
