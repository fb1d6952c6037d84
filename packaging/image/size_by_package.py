#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What takes the space in an image root file system, by Debian package.

usage: size_by_package.py ROOTFS

Reads dpkg's file lists (var/lib/dpkg/info/*.list) in ROOTFS and sums the
apparent size of each package's regular files as they are in ROOTFS (after
path-exclude and the slimming hook). Files no package owns (dpkg's
database, generated caches, /etc/group, ...) are one line of their own.
"""
import os
import sys


def file_size(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size if os.path.isfile(path) and not os.path.islink(path) else 0


def main(root):
    info = os.path.join(root, "var/lib/dpkg/info")
    owned = set()
    sizes = {}
    for name in sorted(os.listdir(info)):
        if not name.endswith(".list"):
            continue
        package = name[: -len(".list")].split(":")[0]
        total = 0
        with open(os.path.join(info, name), encoding="utf-8", errors="replace") as listing:
            for line in listing:
                path = os.path.normpath(root + "/" + line.rstrip("\n"))
                # merged /usr: /bin/x and /usr/bin/x are one file
                real = os.path.realpath(os.path.dirname(path)) + "/" + os.path.basename(path)
                if real in owned:
                    continue
                size = file_size(real)
                if size is None:
                    continue
                owned.add(real)
                total += size
        sizes[package] = sizes.get(package, 0) + total
    unowned = 0
    for directory, _, files in os.walk(root):
        for f in files:
            path = os.path.join(directory, f)
            real = os.path.realpath(directory) + "/" + f
            if real not in owned and not os.path.islink(path) and os.path.isfile(path):
                unowned += os.lstat(path).st_size
    total = sum(sizes.values()) + unowned
    print(f"{'bytes':>12}  {'share':>6}  package")
    for package, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{size:12d}  {100.0 * size / total:5.1f}%  {package}")
    print(f"{unowned:12d}  {100.0 * unowned / total:5.1f}%  (no package: dpkg database, /etc, caches)")
    print(f"{total:12d}  100.0%  total (apparent size of regular files)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
