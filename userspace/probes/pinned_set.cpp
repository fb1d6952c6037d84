// SPDX-License-Identifier: Apache-2.0
#include "probes/pinned_set.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include <linux/magic.h>
#include <openssl/evp.h>

#include "common/hex.hpp"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

bool is_set_name(const std::string& name) {
    return name.size() > 3 && name[0] == 'v' && name.find('-') != std::string::npos;
}

}  // namespace

std::string pinned_set_name(std::span<const std::byte> bpf_object, uint32_t ringbuf_bytes,
                            uint32_t alerts_ringbuf_bytes) {
    // OpenSSL's SHA-256, as for exec.allow's sha256 pins (runtime/exec_hash).
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx.get(), bpf_object.data(), bpf_object.size());
    const uint32_t sizes[] = {ringbuf_bytes, alerts_ringbuf_bytes};
    EVP_DigestUpdate(ctx.get(), sizes, sizeof(sizes));
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    return "v" + std::to_string(kPinLayoutVersion) + "-" + to_hex({digest, std::min(length, 8u)});
}

std::string pin_name(std::string_view name) {
    std::string file(name);
    std::replace(file.begin(), file.end(), '.', '_');
    return file;
}

std::vector<std::filesystem::path> pinned_sets(const std::filesystem::path& root) {
    std::vector<std::filesystem::path> sets;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec))
        if (entry.is_directory(ec) && is_set_name(entry.path().filename().string())) sets.push_back(entry.path());
    std::sort(sets.begin(), sets.end());
    return sets;
}

namespace {

bool on_bpffs(const std::filesystem::path& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC;
}

// A machine without bpffs at /sys/fs/bpf (a minimal VM, a container with
// its own /sys) gets one, as tracefs and securityfs do
// (mount_kernel_filesystems): systemd mounts it at boot everywhere else.
Status mount_bpffs_for(const std::filesystem::path& root) {
    const std::filesystem::path bpffs = "/sys/fs/bpf";
    const auto [end, _] = std::mismatch(bpffs.begin(), bpffs.end(), root.begin(), root.end());
    if (end != bpffs.end() || on_bpffs(bpffs)) return {};
    if (::mount("bpf", bpffs.c_str(), "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0)
        return fail("no bpf filesystem at " + bpffs.string() + ", and mounting one failed: " + errno_text(errno));
    return {};
}

}  // namespace

Status prepare_pin_root(const std::filesystem::path& root) {
    if (Status mounted = mount_bpffs_for(root); !mounted) return mounted;
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) return fail("cannot make " + root.string() + ": " + ec.message());
    struct statfs fs {};
    if (::statfs(root.c_str(), &fs) != 0) return fail("statfs " + root.string() + ": " + errno_text(errno));
    if (static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC)
        return fail(root.string() + " is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)");
    ::chmod(root.c_str(), 0700);  // the pins are the daemon's alone
    return {};
}

Result<UniqueFd> lock_pin_root(const std::filesystem::path& root) {
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return fail("cannot open " + root.string() + ": " + errno_text(errno));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return fail("another fnwarden daemon holds " + root.string());
        return fail("cannot lock " + root.string() + ": " + errno_text(errno));
    }
    return fd;
}

Status remove_pinned_set(const std::filesystem::path& set_dir) {
    // Links first: unpinning a link detaches its program (once no process
    // holds it), and a program that still runs must not outlive its maps'
    // pins for nothing. Then maps, then the directories.
    for (const char* part : {"links", "maps"}) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(set_dir / part, ec))
            if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT)
                return fail("cannot unpin " + entry.path().string() + ": " + errno_text(errno));
        if (::rmdir((set_dir / part).c_str()) != 0 && errno != ENOENT)
            return fail("cannot remove " + (set_dir / part).string() + ": " + errno_text(errno));
    }
    if (::rmdir(set_dir.c_str()) != 0 && errno != ENOENT)
        return fail("cannot remove " + set_dir.string() + ": " + errno_text(errno));
    return {};
}

Result<size_t> unload_pinned_sets(const std::filesystem::path& root) {
    std::error_code ec;
    if (!std::filesystem::exists(root, ec)) return size_t{0};
    auto lock = lock_pin_root(root);
    if (!lock) return Error{lock.error()};
    const auto sets = pinned_sets(root);
    for (const auto& set : sets)
        if (Status removed = remove_pinned_set(set); !removed) return Error{removed.error()};
    if (::rmdir(root.c_str()) != 0 && errno != ENOENT)
        return fail("cannot remove " + root.string() + ": " + errno_text(errno));
    return sets.size();
}

}  // namespace fnw
