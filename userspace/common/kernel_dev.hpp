// SPDX-License-Identifier: Apache-2.0
// The kernel's own dev_t layout (MAJOR << 20 | MINOR), which is what
// inode->i_sb->s_dev holds and what BPF records carry; stat() reports the
// glibc encoding. One conversion for every place that compares the two.
#pragma once

#include <sys/sysmacros.h>
#include <sys/types.h>

#include <cstdint>

namespace fnw {

inline uint64_t kernel_dev(dev_t dev) { return (uint64_t{major(dev)} << 20) | minor(dev); }

}  // namespace fnw
